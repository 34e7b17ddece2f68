/* The foreground statistics both demo checkers read from a 32x32 RGB picture of one shape
 * (tools/demo/classify.py, steps 1-4 and 6; tools/textdemo/check.py uses the same): the
 * background (border medians), the foreground (pixels far from it), its core's mean colour and
 * its compactness. */
#ifndef SC_METRICS_FOREGROUND_H
#define SC_METRICS_FOREGROUND_H

#include <stdint.h>

#define DEMO_SIDE 32

typedef struct {
    int bg[3];        /* per channel: element 62 of the 124 border pixels, sorted */
    int n;            /* foreground pixels: max over channels of |pixel - bg| > 72 */
    double mean[3];   /* mean colour of the core: foreground pixels with 4 d >= 3 dmax */
    double q;         /* compactness n^2 / (2 pi S), S the second moment about the centroid;
                       * -1 when S is 0 */
} fg_stats;

/* 1 when the picture [32][32][3] has a foreground of at least 24 pixels (then every field is
 * set), 0 otherwise (only bg is set). */
int fg_measure(const uint8_t *img, fg_stats *s);

#endif
