/* Calibrated error curves (SmoothCache calibration output): per component type and lag the
 * relative L1 change of the sub-layer output between evaluations i and i + j, averaged over
 * blocks and samples, and the same per block. Read and written as JSON. */
#ifndef SC_CACHE_ERRORS_H
#define SC_CACHE_ERRORS_H

#include <jansson.h>

#include "cache/policy.h"
#include "smoothcache.h"

typedef struct {
    int steps, k, depth;
    /* Curve index: COMP_N per-type curves, then depth * COMP_N per-block curves (block l,
     * comp c at COMP_N + l * COMP_N + c). Value of (curve, lag j, i): v[(curve * k + j-1) * steps + i],
     * defined for i < steps - j (NaN beyond). */
    double *v;
    int has_blocks;
    json_t *meta; /* "_meta" object (owned) or NULL */
} cache_errors;

sc_status errors_alloc(cache_errors *e, int steps, int k, int depth);
void errors_free(cache_errors *e);

static inline double *errors_at(const cache_errors *e, int curve, int j, int i)
{
    return e->v + ((size_t)curve * e->k + (size_t)(j - 1)) * (size_t)e->steps + (size_t)i;
}

static inline int errors_block_curve(int l, int c) { return COMP_N + l * COMP_N + c; }

sc_status errors_load(const char *path, cache_errors *e);
sc_status errors_from_object(const json_t *j, const char *path, cache_errors *e);
sc_status errors_save(const char *path, const cache_errors *e, int force);
/* Draws the per-type curves as a PNG: one line per component (attn solid, mlp dashed) and lag
 * (one colour each), relative L1 error against the evaluation index, like the paper's figure. */
sc_status errors_plot(const char *path, const cache_errors *e, int force);

#endif
