/* The analytic classifier of the shipped demo model's dataset (tools/demo/classify.py, ported
 * exactly): class id 0..9 of a 32x32 RGB image from its foreground colour and compactness, or
 * -1 when it sees no valid object. Used by `bench` to report class accuracy. */
#ifndef SC_METRICS_DEMO_CLASSIFY_H
#define SC_METRICS_DEMO_CLASSIFY_H

#include <stdint.h>

#include "metrics/foreground.h"

#define DEMO_CLASSES 10

/* img: [32][32][3] bytes. */
int demo_classify(const uint8_t *img);

#endif
