/* The CPU backend's ISA-dependent row kernels, chosen at run time.
 *
 * A kernel belongs here when its instructions or its rounding depend on the instruction set it
 * is compiled for: the hand-written AVX-512 code of vmath.h (exp), and the OpenMP simd
 * reductions, whose partial sums follow the vector's lane count. vec.c is compiled once per
 * instruction set (CMakeLists.txt: the x86-64 baseline, AVX2 + FMA, AVX-512 F/VL/BW/DQ), each
 * copy filling one cpu_vec_ops table; cpu_vec() hands out the best table the running CPU
 * supports, so a portable build (no -march=native) computes on every CPU what a build for that
 * CPU computes (docs/ARCHITECTURE.md, "Build and install"). Everything else of the backend is
 * either oneDNN (which dispatches itself) or element-wise loops whose results do not depend on
 * the vector width. */
#ifndef SC_BACKEND_CPU_VEC_H
#define SC_BACKEND_CPU_VEC_H

#include <stddef.h>

typedef struct {
    const char *name; /* "baseline", "avx2", "avx512" */
    /* y[i] = (x[i] - mean) * rstd * (1 + sc[i]) + sh[i] over one row of D, LayerNorm without
     * affine (biased variance, float sums). */
    void (*ln_modulate_row)(float *y, const float *x, int D, float eps, const float *sh, const float *sc);
    /* y[c] = x[c] * a[c] + b[c], then SiLU when silu, over one pixel of C channels. */
    void (*scale_shift_row)(float *y, const float *x, const float *a, const float *b, int C, int silu);
    /* out[i] = exp(in[i] - sub) for i < n (in == out allowed); returns their sum. */
    float (*exp_sub_sum)(const float *in, float sub, float *out, int n);
    /* o[i] = a[i] * g[i] / (1 + exp(-g[i])) over one row of I (SwiGLU). */
    void (*swiglu_row)(float *o, const float *a, const float *g, int I);
    /* Float sums over [0, n) of |a - b| and |b|. */
    void (*l1_chunk)(const float *a, const float *b, size_t n, float *diff, float *ref);
    /* The same with a = h - h0 rounded to float first (a residual as the reference stores it). */
    void (*l1_residual_chunk)(const float *h, const float *h0, const float *b, size_t n, float *diff, float *ref);
} cpu_vec_ops;

/* The tables compiled in: baseline everywhere, avx2 and avx512 where the build targets x86-64
 * (SC_VEC_X86, set by CMakeLists.txt). */
extern const cpu_vec_ops cpu_vec_baseline, cpu_vec_avx2, cpu_vec_avx512;

/* The table for this process: the best the CPU supports, at most $SMOOTHCACHE_MAX_ISA
 * ("baseline", "avx2" or "avx512") when set; chosen once (an unknown value is warned about and
 * ignored). */
const cpu_vec_ops *cpu_vec(void);

/* The choice itself: the best table the CPU supports, at most `max` (NULL: no limit); NULL when
 * `max` names no instruction set. */
const cpu_vec_ops *cpu_vec_pick(const char *max);

#endif
