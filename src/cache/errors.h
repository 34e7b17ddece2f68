/* Calibrated error curves (SmoothCache calibration output): per component and lag the relative L1
 * change of the component's output between evaluations i and i + j, averaged over blocks and
 * samples, and the same per block. Components are named as the model names them ("attn", "mlp");
 * read and written as JSON. */
#ifndef SC_CACHE_ERRORS_H
#define SC_CACHE_ERRORS_H

#include <jansson.h>

#include "cache/policy.h"
#include "smoothcache.h"

typedef struct {
    int steps, k, depth;
    int n_comp;
    char comp[CACHE_MAX_COMP][32]; /* component names, in the file's order */
    /* Curve index: n_comp per-component curves, then depth * n_comp per-block curves (block l,
     * component c at n_comp + l * n_comp + c). Value of (curve, lag j, i):
     * v[(curve * k + j-1) * steps + i], defined for i < steps - j (NaN beyond). */
    double *v;
    int has_blocks;
    json_t *meta; /* "_meta" object (owned) or NULL */
} cache_errors;

/* The most lags a calibration holds (the calibrator's k is 1..16). */
#define ERRORS_MAX_K 16

/* names: n_comp component names (copied); with per-block curves for `depth` blocks. */
sc_status errors_alloc(cache_errors *e, int steps, int k, int depth, int n_comp, const char *const *names);
/* The same with per-block curves only when with_blocks (else depth is only recorded). */
sc_status errors_alloc_curves(cache_errors *e, int steps, int k, int depth, int with_blocks, int n_comp,
                              const char *const *names);
void errors_free(cache_errors *e);

static inline double *errors_at(const cache_errors *e, int curve, int j, int i)
{
    return e->v + ((size_t)curve * e->k + (size_t)(j - 1)) * (size_t)e->steps + (size_t)i;
}

static inline int errors_block_curve(const cache_errors *e, int l, int c) { return e->n_comp + l * e->n_comp + c; }

/* The curve index of the file's component named `name`, -1 when the file has none. */
int errors_comp(const cache_errors *e, const char *name);

/* The file: {"_meta": {...}, "<comp>": [[lag 1: T-1 values], [lag 2: T-2], ...], ...,
 * "per_block": {"<comp>-0": [[...], ...], ...}}. */
sc_status errors_load(const char *path, cache_errors *e);
sc_status errors_from_object(const json_t *j, const char *path, cache_errors *e);
sc_status errors_save(const char *path, const cache_errors *e, int force);
/* The per-component curves as a chart: one line per component (the first solid, the others
 * dashed) and lag (one colour each), relative L1 error against the evaluation index. */
sc_status errors_figure(const cache_errors *e, sc_figure *out);

#endif
