/* The CPU backend's prediction kernels: a cache policy keeps past outputs of a sub-layer and
 * estimates the next one from them (TaylorSeer's divided differences, AB-Cache's and
 * SmoothCache's polynomial extrapolation, FasterCache's two-point step). Memory-bound by nature:
 * each touches every element once per update or estimate. */
#include <string.h>

#include "backend/cpu/kernels.h"

void cpu_taylor_update(float *const *d, int top, const float *out, float delta, size_t n)
{
    if (top == 0) {
        memcpy(d[0], out, n * sizeof(float));
    } else if (top == 1) {
        /* Order 1 reads F and D0 and writes D0 and D1, nothing more. */
        float *restrict d0 = d[0], *restrict d1 = d[1];
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) {
            const float v = out[e];
            d1[e] = (v - d0[e]) / delta;
            d0[e] = v;
        }
    } else {
        /* Old D(j) is read before new D(j) replaces it, so the update is in place. */
        #pragma omp parallel for schedule(static)
        for (size_t e = 0; e < n; e++) {
            float v = out[e];
            for (int j = 0; j < top; j++) {
                const float old = d[j][e];
                d[j][e] = v;
                v = (v - old) / delta;
            }
            d[top][e] = v;
        }
    }
}

void cpu_taylor_eval(float *out, const float *const *d, const float *coef, int have, size_t n)
{
    /* Term by term (vectorised); the sum runs in index order. */
    const float *d0 = d[0], c0 = coef[0];
    #pragma omp parallel for simd schedule(static)
    for (size_t e = 0; e < n; e++) out[e] = d0[e] * c0;
    for (int i = 1; i < have; i++) {
        const float *di = d[i], ci = coef[i];
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) out[e] = out[e] + di[e] * ci;
    }
}

void cpu_lagrange_eval(float *out, const float *const *src, const float *w, int have, size_t n)
{
    /* One pass per point count, so that each loop vectorises. */
    const float *restrict s0 = src[0], *restrict s1 = have > 1 ? src[1] : src[0];
    const float *restrict s2 = have > 2 ? src[2] : src[0], *restrict s3 = have > 3 ? src[3] : src[0];
    const float w0 = w[0], w1 = have > 1 ? w[1] : 0, w2 = have > 2 ? w[2] : 0, w3 = have > 3 ? w[3] : 0;
    if (have == 1) {
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) out[e] = w0 * s0[e];
    } else if (have == 2) {
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) out[e] = w0 * s0[e] + w1 * s1[e];
    } else if (have == 3) {
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) out[e] = w0 * s0[e] + w1 * s1[e] + w2 * s2[e];
    } else {
        #pragma omp parallel for simd schedule(static)
        for (size_t e = 0; e < n; e++) out[e] = w0 * s0[e] + w1 * s1[e] + w2 * s2[e] + w3 * s3[e];
    }
}

void cpu_extrapolate(float *out, const float *a1, float *a2, float w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float e = a1[i] + (a1[i] - a2[i]) * w;
        out[i] = e;
        a2[i] = e;
    }
}
