#include "model/vae_ops.h"

#include <math.h>
#include <string.h>

#include "core/vmath.h"

/* x * sigmoid(x) = x / (1 + exp(-x)), as torch's SiLU computes it. */
static inline float silu1(float x) { return x / (1.0f + expf(-x)); }

/* y[p][c] = x[p][c] * a[c] + b[c] (then SiLU) for one pixel row of C channels. */
static inline void scale_shift_row(float *y, const float *x, const float *a, const float *b, int C, int silu)
{
    int c = 0;
#if defined(__AVX512F__)
    const __m512 one = _mm512_set1_ps(1.0f);
    for (; c < C; c += SC_VLEN) {
        __mmask16 m = C - c >= SC_VLEN ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + c), _mm512_maskz_loadu_ps(m, a + c)),
                                 _mm512_maskz_loadu_ps(m, b + c));
        if (silu) {
            __m512 e = vm_exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
            v = _mm512_div_ps(v, _mm512_add_ps(one, e));
        }
        _mm512_mask_storeu_ps(y + c, m, v);
    }
#endif
    for (; c < C; c++) {
        float v = x[c] * a[c] + b[c];
        y[c] = silu ? silu1(v) : v;
    }
}

void vae_group_norm(float *y, const float *x, long P, int C, int G, float eps, const float *gamma,
                    const float *beta, int silu, double *stats)
{
    double *sum = stats, *sq = stats + C;
    memset(stats, 0, 2 * (size_t)C * sizeof *stats);
    /* Per-channel sums in double: the variance E[x^2] - mean^2 keeps ~1e-16 relative accuracy,
     * closer to exact than torch's float Welford; the difference is far below the tolerance. */
    #pragma omp parallel for schedule(static) reduction(+ : stats[:2 * C])
    for (long p = 0; p < P; p++) {
        const float *r = x + (size_t)p * C;
        #pragma omp simd
        for (int c = 0; c < C; c++) {
            double v = r[c];
            stats[c] += v;
            stats[C + c] += v * v;
        }
    }
    /* Per-channel affine a x + b with a = rstd gamma, b = beta - mean a, as torch applies it. */
    float *a = (float *)(stats + 2 * C), *b = a + C;
    const int cg = C / G;
    const double count = (double)P * cg;
    for (int g = 0; g < G; g++) {
        double s = 0, q = 0;
        for (int c = g * cg; c < (g + 1) * cg; c++) {
            s += sum[c];
            q += sq[c];
        }
        double mean = s / count, var = q / count - mean * mean;
        float meanf = (float)mean, rstd = (float)(1.0 / sqrt((var > 0 ? var : 0) + eps));
        for (int c = g * cg; c < (g + 1) * cg; c++) {
            a[c] = rstd * gamma[c];
            b[c] = beta[c] - meanf * a[c];
        }
    }
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < P; p++) scale_shift_row(y + (size_t)p * C, x + (size_t)p * C, a, b, C, silu);
}

void vae_planes_to_pixels(float *dst, const float *src, int C, long HW, float div, float add)
{
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < HW; p++)
        for (int c = 0; c < C; c++) dst[(size_t)p * C + c] = src[(size_t)c * HW + p] / div + add;
}

void vae_pixels_to_planes(float *dst, const float *src, int C, long HW)
{
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (long p = 0; p < HW; p++) dst[(size_t)c * HW + p] = src[(size_t)p * C + c];
}

void vae_upsample_weights(float *w2, const float *w3, int co, int ci)
{
    /* fold[a][u][y]: weight of 3x3 tap row y in 2x2 tap row u for phase a. */
    static const int fold[2][2][3] = {{{1, 0, 0}, {0, 1, 1}}, {{1, 1, 0}, {0, 0, 1}}};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int o = 0; o < co; o++)
                for (int i = 0; i < ci; i++) {
                    const float *k3 = w3 + ((size_t)o * ci + i) * 9;                     /* [3, 3] */
                    float *k2 = w2 + (((size_t)(2 * a + b) * co + o) * ci + i) * 4;      /* [2, 2] */
                    for (int u = 0; u < 2; u++)
                        for (int v = 0; v < 2; v++) {
                            double acc = 0;
                            for (int y = 0; y < 3; y++)
                                for (int x = 0; x < 3; x++)
                                    if (fold[a][u][y] && fold[b][v][x]) acc += k3[y * 3 + x];
                            k2[u * 2 + v] = (float)acc;
                        }
                }
}

void vae_upsample_shuffle(float *dst, const float *src, int s, int c)
{
    const size_t row = (size_t)(s + 1) * 4 * c; /* one row of src */
    #pragma omp parallel for schedule(static)
    for (int oy = 0; oy < 2 * s; oy++) {
        const int i = oy / 2, a = oy % 2;
        for (int ox = 0; ox < 2 * s; ox++) {
            const int j = ox / 2, b = ox % 2;
            memcpy(dst + ((size_t)oy * 2 * s + ox) * c,
                   src + (size_t)(i + a) * row + (size_t)(j + b) * 4 * c + (size_t)(2 * a + b) * c, (size_t)c * sizeof(float));
        }
    }
}

void vae_softmax_rows(float *s, long rows, int T, float scale)
{
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        float *x = s + (size_t)r * T;
        float mx = -INFINITY;
        for (int i = 0; i < T; i++) {
            x[i] *= scale;
            mx = x[i] > mx ? x[i] : mx;
        }
        const float inv = 1.0f / vm_exp_sub_sum(x, mx, x, T);
        #pragma omp simd
        for (int i = 0; i < T; i++) x[i] *= inv;
    }
}
