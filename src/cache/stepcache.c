#include "cache/stepcache.h"

#include <math.h>

/* Chunked so the float partial sums stay short (their rounding is ~1e-7 relative) while the
 * inner loop still vectorises; the signals are read once per evaluation, so a serial pass over
 * rows * tokens * hidden floats costs far less than the blocks it may save. */
#define STEP_CHUNK 4096

void step_l1(const float *a, const float *b, size_t n, double *diff, double *ref)
{
    /* Chunk partials computed in parallel, then added in chunk order: the same bits for any
     * thread count. Up to STEP_MAX_CHUNKS chunks at a time. */
    enum { STEP_MAX_CHUNKS = 256 };
    double pd[STEP_MAX_CHUNKS], pr[STEP_MAX_CHUNKS], d = 0, r = 0;
    for (size_t base = 0; base < n; base += (size_t)STEP_MAX_CHUNKS * STEP_CHUNK) {
        const size_t left = n - base;
        const long chunks = (long)((left + STEP_CHUNK - 1) / STEP_CHUNK < STEP_MAX_CHUNKS
                                       ? (left + STEP_CHUNK - 1) / STEP_CHUNK : STEP_MAX_CHUNKS);
        #pragma omp parallel for schedule(static) if (chunks > 1)
        for (long c = 0; c < chunks; c++) {
            const size_t s0 = base + (size_t)c * STEP_CHUNK, e = s0 + STEP_CHUNK < n ? s0 + STEP_CHUNK : n;
            float fd = 0, fr = 0;
            #pragma omp simd reduction(+ : fd, fr)
            for (size_t i = s0; i < e; i++) {
                fd += fabsf(a[i] - b[i]);
                fr += fabsf(b[i]);
            }
            pd[c] = fd;
            pr[c] = fr;
        }
        for (long c = 0; c < chunks; c++) {
            d += pd[c];
            r += pr[c];
        }
    }
    *diff = d;
    *ref = r;
}

void step_l1_residual(const float *h, const float *h0, const float *b, size_t n, double *diff, double *ref)
{
    double d = 0, r = 0;
    for (size_t s = 0; s < n; s += STEP_CHUNK) {
        const size_t e = s + STEP_CHUNK < n ? s + STEP_CHUNK : n;
        float fd = 0, fr = 0;
        #pragma omp simd reduction(+ : fd, fr)
        for (size_t i = s; i < e; i++) {
            const float res = h[i] - h0[i]; /* rounded once, as the reference's stored residual */
            fd += fabsf(res - b[i]);
            fr += fabsf(b[i]);
        }
        d += fd;
        r += fr;
    }
    *diff = d;
    *ref = r;
}

double step_rel(double diff, double ref)
{
    if (!(ref > 0) || !isfinite(ref) || !isfinite(diff)) return NAN;
    return diff / ref;
}

double step_rel_sample(const float *a, const float *b, int rows, int images, int sample, size_t per_row)
{
    double d = 0, r = 0;
    for (int row = sample; row < rows; row += images) {
        double d1, r1;
        step_l1(a + (size_t)row * per_row, b + (size_t)row * per_row, per_row, &d1, &r1);
        d += d1;
        r += r1;
    }
    return step_rel(d, r);
}
