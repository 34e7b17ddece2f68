/* Predicting a sub-layer's output from its past computed outputs instead of reusing the last one:
 *   taylor  TaylorSeer (arXiv 2503.06923): divided differences in evaluation-index units up to
 *           order m, updated at each computation, evaluated as sum_i D^i q^i / i! at offset q
 *           (float32 factors and arithmetic in the order of diffusers' TaylorSeer hook);
 *   lagrange  polynomial extrapolation through the last k computed outputs (k = 2: 2F1 - F2 at
 *           unit spacing, k = 3: 3F1 - 3F2 + F3: AB-Cache's binomial weights), any spacing.
 * One predictor holds the history of every (block, component) of a generation. */
#ifndef SC_CACHE_PREDICT_H
#define SC_CACHE_PREDICT_H

#include <stddef.h>

#include "cache/policy.h"
#include "smoothcache.h"

typedef enum { PREDICT_TAYLOR, PREDICT_LAGRANGE } predict_kind;

typedef struct {
    const cache_gen *g;   /* the generation (its backend runs the kernels) */
    predict_kind kind;
    int order;            /* taylor: m (factors 0..m); lagrange: k - 1 (k points) */
    int modules;
    size_t elems;         /* floats per output */
    float *hist;          /* [modules][order + 1][elems]: taylor factors or past outputs */
    int *count;           /* [modules] valid entries of hist */
    int *head;            /* [modules] lagrange: ring slot of the newest output */
    int *steps;           /* [modules][order + 1]: lagrange: step of each ring slot; taylor: [0] = last update */
} predictor;

/* Parses "taylor1", "taylor2", ..., "ab2", "ab3" (AB-Cache = lagrange with k points). */
sc_status predict_parse(const char *name, predict_kind *kind, int *order);
/* History for `modules` outputs of `elems` floats each; the generation g outlives the predictor. */
sc_status predict_init(predictor *p, const cache_gen *g, predict_kind kind, int order, int modules, size_t elems);
void predict_free(predictor *p);
/* A computed output of module m at evaluation n. */
void predict_update(predictor *p, int m, int n, const float *out);
/* The estimate of module m's output at evaluation n (from at least one update). */
void predict_eval(const predictor *p, int m, int n, float *out);

#endif
