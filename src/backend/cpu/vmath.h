/* Vectorised float kernels shared by the CPU backend's kernels. exp_ps is a
 * range-reduced degree-6 polynomial (max relative error ~2e-7 on [-87, 0]); inputs below -87
 * give 0. Used where glibc's scalar expf would dominate (softmax over T x T scores). */
#ifndef SC_BACKEND_CPU_VMATH_H
#define SC_BACKEND_CPU_VMATH_H

#include <math.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SC_VLEN 16

static inline __m512 vm_exp512(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.0f);
    x = _mm512_max_ps(x, lo);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693145751953125f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(-1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
#endif

/* out[i] = exp(in[i] - sub) for i < n; returns the sum of the outputs. */
static inline float vm_exp_sub_sum(const float *in, float sub, float *out, int n)
{
    int i = 0;
    float sum = 0.0f;
#if defined(__AVX512F__)
    __m512 vs = _mm512_set1_ps(sub), acc = _mm512_setzero_ps();
    for (; i + SC_VLEN <= n; i += SC_VLEN) {
        __m512 e = vm_exp512(_mm512_sub_ps(_mm512_loadu_ps(in + i), vs));
        _mm512_storeu_ps(out + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 e = vm_exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, in + i), vs));
        e = _mm512_maskz_mov_ps(m, e);
        _mm512_mask_storeu_ps(out + i, m, e);
        acc = _mm512_add_ps(acc, e);
        i = n;
    }
    sum = _mm512_reduce_add_ps(acc);
#endif
    for (; i < n; i++) {
        out[i] = expf(in[i] - sub);
        sum += out[i];
    }
    return sum;
}

#endif
