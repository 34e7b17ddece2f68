/* Internal entry to the sampling loop for callers that observe a generation with their own
 * policy state (the TeaCache and MagCache calibration observers of `smoothcache calibrate`),
 * which a --cache text cannot carry. */
#ifndef SC_SAMPLE_GENERATE_H
#define SC_SAMPLE_GENERATE_H

#include "cache/policy.h"
#include "smoothcache.h"

/* sc_generate with `ops`/`state` driving the cache run instead of p->cache and p->calibration
 * (which must both be unset); the caller keeps ownership of `state`. */
sc_status generate_observed(sc_model *m, const sc_gen_params *p, const cache_policy_ops *ops, void *state,
                            float *latents_out);

#endif
