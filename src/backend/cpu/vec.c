/* The ISA-dependent row kernels (vec.h), compiled once per instruction set: CMakeLists.txt builds
 * this file with VEC_VARIANT set to baseline, avx2 or avx512 and that instruction set's flags, and
 * each copy defines the table cpu_vec_<VEC_VARIANT>. The code is the same in every copy; what
 * differs is what the compiler makes of it (vmath.h's AVX-512 paths, the lane count of the simd
 * reductions). The reductions are held to at most 8 lanes (safelen), so every copy from AVX2 up
 * rounds alike whatever width the compiler's tuning prefers. */
#include <math.h>

#include "backend/cpu/vec.h"
#include "backend/cpu/vmath.h"

#ifndef VEC_VARIANT
#error "vec.c is compiled once per instruction set with VEC_VARIANT defined (see CMakeLists.txt)"
#endif
#define VEC_CAT2(a, b) a##b
#define VEC_CAT(a, b) VEC_CAT2(a, b)
#define VEC_STR2(a) #a
#define VEC_STR(a) VEC_STR2(a)

static void ln_modulate_row(float *y, const float *x, int D, float eps, const float *sh, const float *sc)
{
    float sum = 0.0f;
    #pragma omp simd reduction(+ : sum) safelen(8)
    for (int i = 0; i < D; i++) sum += x[i];
    float mean = sum / (float)D;
    float var = 0.0f;
    #pragma omp simd reduction(+ : var) safelen(8)
    for (int i = 0; i < D; i++) var += (x[i] - mean) * (x[i] - mean);
    float rstd = 1.0f / sqrtf(var / (float)D + eps);
    #pragma omp simd
    for (int i = 0; i < D; i++) y[i] = (x[i] - mean) * rstd * (1.0f + sc[i]) + sh[i];
}

/* x * sigmoid(x) = x / (1 + exp(-x)), as torch's SiLU computes it. */
static inline float silu1(float x) { return x / (1.0f + expf(-x)); }

static void scale_shift_row(float *y, const float *x, const float *a, const float *b, int C, int silu)
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

static float exp_sub_sum(const float *in, float sub, float *out, int n) { return vm_exp_sub_sum(in, sub, out, n); }

/* o[i] = a[i] * silu(g[i]) over one row of I (SwiGLU's gate), silu as silu1. */
static void swiglu_row(float *o, const float *a, const float *g, int I)
{
    int i = 0;
#if defined(__AVX512F__)
    const __m512 one = _mm512_set1_ps(1.0f);
    for (; i < I; i += SC_VLEN) {
        const __mmask16 m = I - i >= SC_VLEN ? (__mmask16)0xFFFF : (__mmask16)((1u << (I - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 e = vm_exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
        _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_div_ps(v, _mm512_add_ps(one, e))));
    }
#endif
    for (; i < I; i++) o[i] = a[i] * silu1(g[i]);
}

static void l1_chunk(const float *a, const float *b, size_t n, float *diff, float *ref)
{
    float fd = 0, fr = 0;
    #pragma omp simd reduction(+ : fd, fr) safelen(8)
    for (size_t i = 0; i < n; i++) {
        fd += fabsf(a[i] - b[i]);
        fr += fabsf(b[i]);
    }
    *diff = fd;
    *ref = fr;
}

static void l1_residual_chunk(const float *h, const float *h0, const float *b, size_t n, float *diff, float *ref)
{
    float fd = 0, fr = 0;
    #pragma omp simd reduction(+ : fd, fr) safelen(8)
    for (size_t i = 0; i < n; i++) {
        const float res = h[i] - h0[i]; /* rounded once, as the reference's stored residual */
        fd += fabsf(res - b[i]);
        fr += fabsf(b[i]);
    }
    *diff = fd;
    *ref = fr;
}

const cpu_vec_ops VEC_CAT(cpu_vec_, VEC_VARIANT) = {
    .name = VEC_STR(VEC_VARIANT),
    .ln_modulate_row = ln_modulate_row,
    .scale_shift_row = scale_shift_row,
    .exp_sub_sum = exp_sub_sum,
    .swiglu_row = swiglu_row,
    .l1_chunk = l1_chunk,
    .l1_residual_chunk = l1_residual_chunk,
};
