/* The array operations cache policies and their calibrators use, run by the generation's backend
 * (backend/backend.h): buffers, copies, differences and the L1 signals step-level policies
 * compare. A policy never loops over activations itself. */
#ifndef SC_CACHE_KERNELS_H
#define SC_CACHE_KERNELS_H

#include <stddef.h>

#include "cache/policy.h"

/* n floats, zero-filled (NULL with an SC_ERR_NOMEM message naming `what`); free with cache_free. */
float *cache_alloc(const cache_gen *g, size_t n, const char *what);
void cache_free(const cache_gen *g, void *p);
void cache_copy(const cache_gen *g, float *dst, const float *src, size_t n);
/* y = a - b. */
void cache_sub(const cache_gen *g, float *y, const float *a, const float *b, size_t n);

/* e = a1 + (a1 - a2) w, written to out and over a2 (a two-point extrapolation step). */
void cache_extrapolate(const cache_gen *g, float *out, const float *a1, float *a2, float w, size_t n);

/* sum|a - b| and sum|b| over n floats (deterministic: the same bits for any thread count). */
void cache_l1(const cache_gen *g, const float *a, const float *b, size_t n, double *diff, double *ref);
/* The same for a = h - h0 (a residual that is never materialised): sum|(h - h0) - b|, sum|b|. */
void cache_l1_residual(const cache_gen *g, const float *h, const float *h0, const float *b, size_t n, double *diff,
                       double *ref);
/* norms[r] = ||h[r,:] - h0[r,:]||_2 over `rows` rows of `width` floats. */
void cache_residual_norms(const cache_gen *g, const float *h, const float *h0, size_t rows, int width, double *norms);

/* diff / ref, or NaN when ref is 0 or either is not finite. relL1 with a zero reference means
 * "no reference to compare with"; callers compute on NaN (docs/CACHING.md). */
double cache_rel(double diff, double ref);
/* relL1 of one sample taken together with its guidance row: rows i and N + i of a [rows,
 * per_row] batch (rows = N or 2N, N = g->images). */
double cache_rel_sample(const cache_gen *g, const float *a, const float *b, int rows, int sample, size_t per_row);

#endif
