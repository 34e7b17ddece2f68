/* The CPU backend's element-wise, normalisation and layout kernels (backend.h gives each one's
 * contract), OpenMP over rows or pixels. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"

void cpu_ln_modulate(float *z, const float *h, int B, int T, int D, float eps,
                     const float *shift, const float *scale, int mod_stride)
{
    const cpu_vec_ops *vec = cpu_vec();
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        int b = r / T;
        vec->ln_modulate_row(z + (size_t)r * D, h + (size_t)r * D, D, eps, shift + (size_t)b * mod_stride,
                             scale + (size_t)b * mod_stride);
    }
}

void cpu_gated_add(float *h, const float *sub, int B, int T, int D, const float *gate, int mod_stride)
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

void cpu_silu(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
}

void cpu_timestep_features(float *out, const float *t, int B, int div)
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

void cpu_patchify(float *patches, const float *x, int B, int C, int H, int W, int p)
{
    const int Gw = W / p, T = (H / p) * Gw, K = C * p * p;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const int b = r / T, t = r % T, i = t / Gw, j = t % Gw;
        float *dst = patches + (size_t)r * K;
        for (int c = 0; c < C; c++)
            for (int u = 0; u < p; u++)
                for (int v = 0; v < p; v++)
                    dst[(c * p + u) * p + v] = x[(((size_t)b * C + c) * H + i * p + u) * W + j * p + v];
    }
}

void cpu_add_pos(float *h, const float *pos, int B, int T, int D)
{
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const float *pr = pos + (size_t)(r % T) * D;
        float *x = h + (size_t)r * D;
        #pragma omp simd
        for (int i = 0; i < D; i++) x[i] += pr[i];
    }
}

void cpu_unpatchify(float *out, const float *o, int B, int Co, int H, int W, int p)
{
    const int Gw = W / p, T = (H / p) * Gw, K = p * p * Co;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < B * T; r++) {
        const int b = r / T, t = r % T, i = t / Gw, j = t % Gw;
        const float *src = o + (size_t)r * K;
        for (int u = 0; u < p; u++)
            for (int v = 0; v < p; v++)
                for (int c = 0; c < Co; c++)
                    out[(((size_t)b * Co + c) * H + i * p + u) * W + j * p + v] = src[(u * p + v) * Co + c];
    }
}

void cpu_add(float *y, const float *x, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void cpu_sub(float *y, const float *a, const float *b, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i];
}

void cpu_copy(float *y, const float *x, size_t n) { memcpy(y, x, n * sizeof *y); }

void cpu_add_rows(float *y, const float *table, const int *ids, int B, int D)
{
    for (int b = 0; b < B; b++) {
        const float *e = table + (size_t)ids[b] * D;
        for (int i = 0; i < D; i++) y[(size_t)b * D + i] += e[i];
    }
}

void cpu_cfg_combine(float *e, const float *cond, const float *uncond, float s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        float d = cond[k] - uncond[k];
        float m = s * d;
        e[k] = uncond[k] + m;
    }
}

void cpu_group_norm(float *y, const float *x, long P, int C, int G, float eps, const float *gamma,
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
    const cpu_vec_ops *vec = cpu_vec();
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < P; p++) vec->scale_shift_row(y + (size_t)p * C, x + (size_t)p * C, a, b, C, silu);
}

void cpu_planes_to_pixels(float *dst, const float *src, int C, long HW, float div, float add)
{
    #pragma omp parallel for schedule(static)
    for (long p = 0; p < HW; p++)
        for (int c = 0; c < C; c++) dst[(size_t)p * C + c] = src[(size_t)c * HW + p] / div + add;
}

void cpu_pixels_to_planes(float *dst, const float *src, int C, long HW)
{
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        for (long p = 0; p < HW; p++) dst[(size_t)c * HW + p] = src[(size_t)p * C + c];
}

void cpu_upsample_shuffle(float *dst, const float *src, int s, int c)
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

void cpu_mul(float *y, const float *x, size_t n)
{
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) y[i] *= x[i];
}

void cpu_gather_rows(float *y, const float *table, const int32_t *ids, long n, int D)
{
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < n; r++) memcpy(y + (size_t)r * D, table + (size_t)ids[r] * D, (size_t)D * sizeof(float));
}

/* transformers' T5LayerNorm: variance = mean(x^2) in float32, x * rsqrt(variance + eps), * w.
 * The mean is summed in double here (torch's reduction order differs anyway; double makes ours
 * independent of the vector width). */
void cpu_rms_norm(float *y, const float *x, long rows, int D, float eps, const float *w)
{
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D;
        float *yr = y + (size_t)r * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        const float var = (float)(ss / D);
        const float inv = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < D; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

void cpu_to_bf16(uint16_t *y, const float *x, size_t n)
{
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i += 4096) mm_to_bf16(y + i, x + i, n - i < 4096 ? n - i : 4096);
}

void cpu_from_bf16(float *x, const uint16_t *y, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)y[i] << 16;
        memcpy(&x[i], &u, sizeof u);
    }
}

void cpu_swiglu(float *y, const float *x, int64_t M, int I)
{
    const cpu_vec_ops *vec = cpu_vec();
    #pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) vec->swiglu_row(y + m * I, x + m * 2 * I, x + m * 2 * I + I, I);
}

void cpu_rope(float *x, int B, int T, int64_t ld, int H, int hd, int rot, const float *cs, const float *sn)
{
    const int half = rot / 2;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)B * T; r++) {
        const float *c = cs + (r % T) * half, *s = sn + (r % T) * half;
        for (int h = 0; h < H; h++) {
            float *a = x + r * ld + (int64_t)h * hd, *b = a + half;
            for (int i = 0; i < half; i++) {
                const float ai = a[i], bi = b[i];
                a[i] = ai * c[i] - bi * s[i];
                b[i] = bi * c[i] + ai * s[i];
            }
        }
    }
}

void cpu_snake(float *y, const float *x, int64_t rows, int C, const float *a, const float *ib)
{
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            const float v = x[r * C + c], s = sinf(a[c] * v);
            y[r * C + c] = v + ib[c] * (s * s);
        }
}

void cpu_im2col1d(float *col, const float *x, int64_t L, int C, int k, int d, int pad, int64_t t0, int64_t n)
{
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        float *dst = col + r * (int64_t)C * k;
        for (int j = 0; j < k; j++) {
            const int64_t src = t0 + r + (int64_t)j * d - pad;
            const int in = src >= 0 && src < L;
            for (int c = 0; c < C; c++) dst[(int64_t)c * k + j] = in ? x[src * C + c] : 0.0f;
        }
    }
}

void cpu_col2im1d_add(float *y, int64_t Lo, const float *z, int C, int k, int s, int p, int64_t i0, int64_t n)
{
    /* Output position o receives from input rows i with o = i s + j - p: parallel over outputs of
     * this chunk's span, so no two threads write one row. */
    const int64_t lo = i0 * s - p, hi = (i0 + n - 1) * s + k - 1 - p; /* the span this chunk reaches */
    const int64_t o0 = lo < 0 ? 0 : lo, o1 = hi >= Lo ? Lo - 1 : hi;
    #pragma omp parallel for schedule(static)
    for (int64_t o = o0; o <= o1; o++) {
        float *dst = y + o * C;
        for (int j = 0; j < k; j++) {
            const int64_t num = o + p - j;
            if (num < 0 || num % s) continue;
            const int64_t i = num / s;
            if (i < i0 || i >= i0 + n) continue;
            const float *src = z + (i - i0) * (int64_t)C * k + j;
            for (int c = 0; c < C; c++) dst[c] += src[(int64_t)c * k];
        }
    }
}
