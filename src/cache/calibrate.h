/* The calibration observer (calibrate.c) as the engine and the CLI use it. */
#ifndef SC_CACHE_CALIBRATE_H
#define SC_CACHE_CALIBRATE_H

#include <jansson.h>

#include "cache/errors.h"
#include "cache/policy.h"

extern const cache_policy_ops cache_calibrate;

/* The curves observed so far; `meta` (may be NULL) is extended with sampler, steps, k, samples,
 * averaging and blocks, and stored in e->meta. */
sc_status calibration_curves(const sc_calibration *c, cache_errors *e, json_t *meta);

#endif
