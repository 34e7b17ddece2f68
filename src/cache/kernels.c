#include "cache/kernels.h"

#include <math.h>

#include "backend/backend.h"

float *cache_alloc(const cache_gen *g, size_t n, const char *what) { return g->be->alloc(n, what); }

void cache_free(const cache_gen *g, void *p) { g->be->release(p); }

void cache_copy(const cache_gen *g, float *dst, const float *src, size_t n) { g->be->copy(dst, src, n); }

void cache_sub(const cache_gen *g, float *y, const float *a, const float *b, size_t n) { g->be->sub(y, a, b, n); }

void cache_extrapolate(const cache_gen *g, float *out, const float *a1, float *a2, float w, size_t n)
{
    g->be->extrapolate(out, a1, a2, w, n);
}

void cache_l1(const cache_gen *g, const float *a, const float *b, size_t n, double *diff, double *ref)
{
    g->be->l1_diff(a, b, n, diff, ref);
}

void cache_l1_residual(const cache_gen *g, const float *h, const float *h0, const float *b, size_t n, double *diff,
                       double *ref)
{
    g->be->l1_diff_residual(h, h0, b, n, diff, ref);
}

void cache_residual_norms(const cache_gen *g, const float *h, const float *h0, size_t rows, int width, double *norms)
{
    g->be->residual_norms(h, h0, rows, width, norms);
}

double cache_rel(double diff, double ref)
{
    if (!(ref > 0) || !isfinite(ref) || !isfinite(diff)) return NAN;
    return diff / ref;
}

double cache_rel_sample(const cache_gen *g, const float *a, const float *b, int rows, int sample, size_t per_row)
{
    double d = 0, r = 0;
    for (int row = sample; row < rows; row += g->images) {
        double d1, r1;
        cache_l1(g, a + (size_t)row * per_row, b + (size_t)row * per_row, per_row, &d1, &r1);
        d += d1;
        r += r1;
    }
    return cache_rel(d, r);
}
