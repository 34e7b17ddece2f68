#include "model/dit_ops.h"

#include <math.h>
#include <stddef.h>

void ops_ln_modulate(float *z, const float *h, int B, int T, int D, float eps,
                     const float *shift, const float *scale, int mod_stride)
{
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const float *x = h + (size_t)r * D;
        float *y = z + (size_t)r * D;
        int b = r / T;
        const float *sh = shift + (size_t)b * mod_stride, *sc = scale + (size_t)b * mod_stride;
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < D; i++) sum += x[i];
        float mean = sum / (float)D;
        float var = 0.0f;
        #pragma omp simd reduction(+ : var)
        for (int i = 0; i < D; i++) var += (x[i] - mean) * (x[i] - mean);
        float rstd = 1.0f / sqrtf(var / (float)D + eps);
        #pragma omp simd
        for (int i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd * (1.0f + sc[i]) + sh[i];
    }
}

void ops_gated_add(float *h, const float *sub, int B, int T, int D, const float *gate, int mod_stride)
{
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const float *g = gate + (size_t)(r / T) * mod_stride;
        float *x = h + (size_t)r * D;
        const float *s = sub + (size_t)r * D;
        #pragma omp simd
        for (int i = 0; i < D; i++) x[i] += g[i] * s[i];
    }
}

void ops_silu(float *out, const float *in, int n)
{
    for (int i = 0; i < n; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
}

void ops_timestep_features(float *out, const float *t, int B, int div)
{
    const int half = 128;
    const float neg_log = (float)-9.210340371976184; /* -ln(10000), rounded to float32 */
    for (int k = 0; k < half; k++) {
        float f = expf(neg_log * (float)k / (float)div);
        for (int b = 0; b < B; b++) {
            float a = t[b] * f;
            out[(size_t)b * 2 * half + k] = cosf(a);
            out[(size_t)b * 2 * half + half + k] = sinf(a);
        }
    }
}

void ops_patchify(float *patches, const float *x, int B, int C, int S, int p)
{
    int G = S / p, T = G * G, K = C * p * p;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        int b = r / T, t = r % T, i = t / G, j = t % G;
        float *dst = patches + (size_t)r * K;
        for (int c = 0; c < C; c++)
            for (int u = 0; u < p; u++)
                for (int v = 0; v < p; v++)
                    dst[(c * p + u) * p + v] = x[(((size_t)b * C + c) * S + i * p + u) * S + j * p + v];
    }
}

void ops_add_pos(float *h, const float *pos, int B, int T, int D)
{
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const float *pr = pos + (size_t)(r % T) * D;
        float *x = h + (size_t)r * D;
        #pragma omp simd
        for (int i = 0; i < D; i++) x[i] += pr[i];
    }
}

void ops_unpatchify(float *out, const float *o, int B, int Co, int S, int p)
{
    int G = S / p, T = G * G, K = p * p * Co;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        int b = r / T, t = r % T, i = t / G, j = t % G;
        const float *src = o + (size_t)r * K;
        for (int u = 0; u < p; u++)
            for (int v = 0; v < p; v++)
                for (int c = 0; c < Co; c++)
                    out[(((size_t)b * Co + c) * S + i * p + u) * S + j * p + v] = src[(u * p + v) * Co + c];
    }
}
