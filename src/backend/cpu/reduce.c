/* The CPU backend's deterministic reductions: L1 differences and per-row norms, summed in a fixed
 * order so that the result has the same bits for any thread count. */
#include <math.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"

/* Chunked so the float partial sums stay short (their rounding is ~1e-7 relative) while the
 * inner loop still vectorises; the signals are read once per evaluation, so a serial pass over
 * rows * tokens * hidden floats costs far less than the blocks it may save. */
#define L1_CHUNK 4096

void cpu_l1_diff(const float *a, const float *b, size_t n, double *diff, double *ref)
{
    /* Chunk partials computed in parallel, then added in chunk order: the same bits for any
     * thread count. Up to L1_MAX_CHUNKS chunks at a time. */
    enum { L1_MAX_CHUNKS = 256 };
    double pd[L1_MAX_CHUNKS], pr[L1_MAX_CHUNKS], d = 0, r = 0;
    const cpu_vec_ops *vec = cpu_vec();
    for (size_t base = 0; base < n; base += (size_t)L1_MAX_CHUNKS * L1_CHUNK) {
        const size_t left = n - base;
        const long chunks = (long)((left + L1_CHUNK - 1) / L1_CHUNK < L1_MAX_CHUNKS
                                       ? (left + L1_CHUNK - 1) / L1_CHUNK : L1_MAX_CHUNKS);
        #pragma omp parallel for schedule(static) if (chunks > 1)
        for (long c = 0; c < chunks; c++) {
            const size_t s0 = base + (size_t)c * L1_CHUNK, e = s0 + L1_CHUNK < n ? s0 + L1_CHUNK : n;
            float fd, fr;
            vec->l1_chunk(a + s0, b + s0, e - s0, &fd, &fr);
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

void cpu_l1_diff_residual(const float *h, const float *h0, const float *b, size_t n, double *diff, double *ref)
{
    const cpu_vec_ops *vec = cpu_vec();
    double d = 0, r = 0;
    for (size_t s = 0; s < n; s += L1_CHUNK) {
        const size_t e = s + L1_CHUNK < n ? s + L1_CHUNK : n;
        float fd, fr;
        vec->l1_residual_chunk(h + s, h0 + s, b + s, e - s, &fd, &fr);
        d += fd;
        r += fr;
    }
    *diff = d;
    *ref = r;
}

void cpu_residual_norms(const float *h, const float *h0, size_t rows, int D, double *norms)
{
    for (size_t t = 0; t < rows; t++) {
        const float *x = h + t * (size_t)D, *x0 = h0 + t * (size_t)D;
        double ss = 0;
        for (int i = 0; i < D; i++) {
            const double r = (float)(x[i] - x0[i]);
            ss += r * r;
        }
        norms[t] = sqrt(ss);
    }
}
