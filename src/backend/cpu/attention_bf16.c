/* Self-attention in bf16 as one pass per (sample, head) on CPUs with AVX512-BF16 (vdpbf16ps):
 * the same scheme as the oneDNN path of attention.c (q, k, v rounded to bf16, scores summed in
 * float32, softmax in float32, probabilities rounded to bf16, p v summed in float32), with the
 * head's keys and values packed once in the pair layout the instruction reads and a block of
 * query rows whose scores stay in the core's cache: no [B, H, T, T] score matrix through memory,
 * no separate conversion and softmax passes.
 *
 * vdpbf16ps(acc, a, b): acc[i] += a[2i] b[2i] + a[2i+1] b[2i+1] over 16 float lanes. With a the
 * broadcast pair (q[r][2p], q[r][2p+1]) and lane i of b the pair (k[j+i][2p], k[j+i][2p+1]),
 * acc[i] sums q[r] . k[j+i]: the keys are packed as kp[p][j] (pairs of a key's dims, keys along
 * the lanes). With a the pair (P[r][2u], P[r][2u+1]) of two keys' probabilities and lane i of b
 * (v[2u][d+i], v[2u+1][d+i]), acc[i] sums P[r] v[:, d+i]: values are packed as vp[u][d]. */
#include "backend/cpu/kernels.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/vec.h"
#include "core/error.h"

#if defined(SC_VEC_X86) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define QB 64 /* query rows per block: their scores [QB, Tp] (64 KB at T = 256) stay in L2 */

int cpu_attention_bf16_available(void)
{
    static int known; /* 0 unknown, 1 yes, 2 no; a race only repeats the probe */
    if (!known) {
        __builtin_cpu_init();
        /* The AVX-512 row kernels chosen (so $SMOOTHCACHE_MAX_ISA below avx512 turns this off
         * too) and the bf16 dot-product instruction present. */
        known = !strcmp(cpu_vec()->name, "avx512") && __builtin_cpu_supports("avx512bf16") ? 1 : 2;
    }
    return known == 1;
}

/* dst [n2] bf16 = src [n] rounded to nearest even, zeros after n (n2 >= n, a multiple of 2). */
BF16_TARGET static void row_to_bf16(uint16_t *dst, const float *src, int n, int n2)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        const __m256i b = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, b);
        i = n;
    }
    for (; i < n2; i++) dst[i] = 0;
}

/* Asks for row r of hd floats to come into cache (rows of a head are ld apart: too far for the
 * hardware prefetcher to follow). */
static inline void prefetch_row(const float *r, int hd)
{
    for (int i = 0; i < hd; i += 16) __builtin_prefetch(r + i);
    __builtin_prefetch(r + hd - 1);
}

/* The head's keys and values in pair layout: kp [hd2][Tp] (pairs of dims, zero for padded keys
 * and the odd dim), vp [Tp/2][hdp] (pairs of keys, zero for padded keys and dims). row: 2 rows of
 * hdp + 2 bf16 of scratch. */
BF16_TARGET static void pack_head(uint32_t *kp, uint32_t *vp, const float *k, const float *v, int64_t ld, int T,
                                  int Tp, int hd, int hd2, int hdp, uint16_t *row)
{
    enum { AHEAD = 6 };
    for (int j = 0; j < Tp; j++) {
        if (j + AHEAD < T) prefetch_row(k + (int64_t)(j + AHEAD) * ld, hd);
        if (j < T) {
            row_to_bf16(row, k + (int64_t)j * ld, hd, 2 * hd2);
            const uint32_t *pr = (const uint32_t *)(const void *)row;
            for (int p = 0; p < hd2; p++) kp[(size_t)p * Tp + j] = pr[p];
        } else {
            for (int p = 0; p < hd2; p++) kp[(size_t)p * Tp + j] = 0;
        }
    }
    uint16_t *r0 = row, *r1 = row + hdp;
    for (int u = 0; u < Tp / 2; u++) {
        const int j = 2 * u;
        if (j + AHEAD < T) prefetch_row(v + (int64_t)(j + AHEAD) * ld, hd);
        if (j + AHEAD + 1 < T) prefetch_row(v + (int64_t)(j + AHEAD + 1) * ld, hd);
        if (j < T) row_to_bf16(r0, v + (int64_t)j * ld, hd, hdp);
        else memset(r0, 0, (size_t)hdp * sizeof *r0);
        if (j + 1 < T) row_to_bf16(r1, v + (int64_t)(j + 1) * ld, hd, hdp);
        else memset(r1, 0, (size_t)hdp * sizeof *r1);
        uint32_t *o = vp + (size_t)u * hdp;
        for (int d = 0; d < hdp; d += 16) {
            const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r0 + d)));
            const __m512i b = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r1 + d)));
            _mm512_storeu_si512(o + d, _mm512_or_si512(a, _mm512_slli_epi32(b, 16)));
        }
    }
}

/* s [4][ss] (columns j0 .. j0+63) = q [4 rows of qs pairs] . kp[:, j0 .. j0+63], float sums over
 * hd2 pairs. */
BF16_TARGET static inline void score_tile(float *s, int64_t ss, const uint32_t *q, int qs, const uint32_t *kp, int Tp,
                                          int hd2, int j0)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    for (int p = 0; p < hd2; p++) {
        const uint32_t *kr = kp + (size_t)p * Tp + j0;
        const __m512bh k0 = (__m512bh)_mm512_loadu_si512(kr), k1 = (__m512bh)_mm512_loadu_si512(kr + 16);
        const __m512bh k2 = (__m512bh)_mm512_loadu_si512(kr + 32), k3 = (__m512bh)_mm512_loadu_si512(kr + 48);
        __m512bh b = (__m512bh)_mm512_set1_epi32((int)q[p]);
        a00 = _mm512_dpbf16_ps(a00, b, k0), a01 = _mm512_dpbf16_ps(a01, b, k1);
        a02 = _mm512_dpbf16_ps(a02, b, k2), a03 = _mm512_dpbf16_ps(a03, b, k3);
        b = (__m512bh)_mm512_set1_epi32((int)q[qs + p]);
        a10 = _mm512_dpbf16_ps(a10, b, k0), a11 = _mm512_dpbf16_ps(a11, b, k1);
        a12 = _mm512_dpbf16_ps(a12, b, k2), a13 = _mm512_dpbf16_ps(a13, b, k3);
        b = (__m512bh)_mm512_set1_epi32((int)q[2 * qs + p]);
        a20 = _mm512_dpbf16_ps(a20, b, k0), a21 = _mm512_dpbf16_ps(a21, b, k1);
        a22 = _mm512_dpbf16_ps(a22, b, k2), a23 = _mm512_dpbf16_ps(a23, b, k3);
        b = (__m512bh)_mm512_set1_epi32((int)q[3 * qs + p]);
        a30 = _mm512_dpbf16_ps(a30, b, k0), a31 = _mm512_dpbf16_ps(a31, b, k1);
        a32 = _mm512_dpbf16_ps(a32, b, k2), a33 = _mm512_dpbf16_ps(a33, b, k3);
    }
    float *r = s + j0;
    _mm512_storeu_ps(r, a00), _mm512_storeu_ps(r + 16, a01), _mm512_storeu_ps(r + 32, a02), _mm512_storeu_ps(r + 48, a03);
    r += ss;
    _mm512_storeu_ps(r, a10), _mm512_storeu_ps(r + 16, a11), _mm512_storeu_ps(r + 32, a12), _mm512_storeu_ps(r + 48, a13);
    r += ss;
    _mm512_storeu_ps(r, a20), _mm512_storeu_ps(r + 16, a21), _mm512_storeu_ps(r + 32, a22), _mm512_storeu_ps(r + 48, a23);
    r += ss;
    _mm512_storeu_ps(r, a30), _mm512_storeu_ps(r + 16, a31), _mm512_storeu_ps(r + 32, a32), _mm512_storeu_ps(r + 48, a33);
}

/* o rows r0 .. r0+3 (those < rows), dims d0 .. d0+16G (those < hd) = P [4 rows of ps pairs] .
 * vp[:, d0 ..], float sums over Tp/2 key pairs. */
#define PV_TILE(G)                                                                                                   \
    BF16_TARGET static inline void pv_tile##G(float *o, int64_t ldo, int rows, const uint32_t *P, int ps,            \
                                              const uint32_t *vp, int hdp, int up, int d0, int hd)                   \
    {                                                                                                                \
        __m512 acc[4][G];                                                                                            \
        for (int r = 0; r < 4; r++)                                                                                  \
            for (int g = 0; g < G; g++) acc[r][g] = _mm512_setzero_ps();                                             \
        for (int u = 0; u < up; u++) {                                                                               \
            __m512bh vv[G];                                                                                          \
            for (int g = 0; g < G; g++) vv[g] = (__m512bh)_mm512_loadu_si512(vp + (size_t)u * hdp + d0 + 16 * g);    \
            for (int r = 0; r < 4; r++) {                                                                            \
                const __m512bh b = (__m512bh)_mm512_set1_epi32((int)P[r * ps + u]);                                  \
                for (int g = 0; g < G; g++) acc[r][g] = _mm512_dpbf16_ps(acc[r][g], b, vv[g]);                       \
            }                                                                                                        \
        }                                                                                                            \
        for (int r = 0; r < 4 && r < rows; r++)                                                                      \
            for (int g = 0; g < G; g++) {                                                                            \
                const int d = d0 + 16 * g, n = hd - d < 16 ? hd - d : 16;                                            \
                _mm512_mask_storeu_ps(o + r * ldo + d, (__mmask16)((1u << n) - 1), acc[r][g]);                       \
            }                                                                                                        \
    }
PV_TILE(1)
PV_TILE(2)
PV_TILE(3)
PV_TILE(4)
PV_TILE(5)

/* p [Tp] bf16 = softmax(scale x) over x [T] (x overwritten), zeros after T: the arithmetic of
 * attention.c's softmax_rows (max ignoring NaN, x scale, exp(x - max scale), times 1/sum). */
BF16_TARGET static void softmax_row(uint16_t *p, float *x, int T, int Tp, float scale, const cpu_vec_ops *vec)
{
    __m512 m = _mm512_set1_ps(-INFINITY);
    const __m512 sc = _mm512_set1_ps(scale);
    int j = 0;
    for (; j + 16 <= T; j += 16) {
        const __m512 v = _mm512_loadu_ps(x + j);
        m = _mm512_max_ps(v, m); /* a NaN in v keeps m, as `v > m ? v : m` */
        _mm512_storeu_ps(x + j, _mm512_mul_ps(v, sc));
    }
    float mx = _mm512_reduce_max_ps(m);
    for (; j < T; j++) {
        mx = x[j] > mx ? x[j] : mx;
        x[j] *= scale;
    }
    const __m512 inv = _mm512_set1_ps(1.0f / vec->exp_sub_sum(x, mx * scale, x, T));
    for (j = 0; j + 16 <= T; j += 16)
        _mm256_storeu_si256((__m256i *)(p + j), (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_loadu_ps(x + j), inv)));
    if (j < T) {
        const __mmask16 k = (__mmask16)((1u << (T - j)) - 1);
        _mm256_mask_storeu_epi16(p + j, k, (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + j), inv)));
        j = T;
    }
    for (; j < Tp; j++) p[j] = 0;
}

/* One (sample, head): att rows [T] of that head's dims = softmax(q k^T scale) v. */
BF16_TARGET static void one_head(const float *q, const float *k, const float *v, int64_t ld, float *att, int64_t ldo,
                                 int T, int hd, float scale, uint32_t *kp, uint32_t *vp, uint32_t *qb, float *s,
                                 uint32_t *pb, uint16_t *row)
{
    const int Tp = (T + 63) / 64 * 64, hd2 = (hd + 1) / 2, hdp = (hd + 15) / 16 * 16;
    const cpu_vec_ops *vec = cpu_vec();
    pack_head(kp, vp, k, v, ld, T, Tp, hd, hd2, hdp, row);
    for (int i0 = 0; i0 < T; i0 += QB) {
        const int nq = T - i0 < QB ? T - i0 : QB, nq4 = (nq + 3) / 4 * 4;
        /* q rows of the block in bf16 pairs [nq4][hd2] (zero rows to a multiple of 4) */
        for (int i = 0; i < nq4; i++) {
            uint16_t *qr = (uint16_t *)(void *)(qb + (size_t)i * hd2);
            if (i + 6 < nq) prefetch_row(q + (int64_t)(i0 + i + 6) * ld, hd);
            if (i < nq) row_to_bf16(qr, q + (int64_t)(i0 + i) * ld, hd, 2 * hd2);
            else memset(qr, 0, (size_t)hd2 * sizeof(uint32_t));
        }
        /* s [nq4][Tp] = q k^T (float sums) */
        for (int j0 = 0; j0 < Tp; j0 += 64)
            for (int i = 0; i < nq4; i += 4) score_tile(s + (size_t)i * Tp, Tp, qb + (size_t)i * hd2, hd2, kp, Tp, hd2, j0);
        /* P [nq4][Tp] bf16 = softmax(scale s) over the T real keys, zero after (as attention.c) */
        for (int i = 0; i < nq4; i++) {
            float *x = s + (size_t)i * Tp;
            uint16_t *p = (uint16_t *)(void *)(pb + (size_t)i * (Tp / 2));
            if (i >= nq) {
                memset(p, 0, (size_t)Tp * sizeof *p);
                continue;
            }
            softmax_row(p, x, T, Tp, scale, vec);
        }
        /* att rows [nq][hd] = P v (float sums over the key pairs) */
        float *o = att + (int64_t)i0 * ldo;
        for (int i = 0; i < nq4; i += 4) {
            const uint32_t *P = pb + (size_t)i * (Tp / 2);
            float *oi = o + (int64_t)i * ldo;
            const int rows = nq - i;
            for (int d0 = 0; d0 < hdp;) {
                /* groups of at most 5 blocks of 16 dims (20 accumulators), none of 1 when avoidable */
                const int left = (hdp - d0) / 16, G = left <= 5 ? left : left == 6 ? 3 : 4;
                if (G == 5) pv_tile5(oi, ldo, rows, P, Tp / 2, vp, hdp, Tp / 2, d0, hd);
                else if (G == 4) pv_tile4(oi, ldo, rows, P, Tp / 2, vp, hdp, Tp / 2, d0, hd);
                else if (G == 3) pv_tile3(oi, ldo, rows, P, Tp / 2, vp, hdp, Tp / 2, d0, hd);
                else if (G == 2) pv_tile2(oi, ldo, rows, P, Tp / 2, vp, hdp, Tp / 2, d0, hd);
                else pv_tile1(oi, ldo, rows, P, Tp / 2, vp, hdp, Tp / 2, d0, hd);
                d0 += 16 * G;
            }
        }
    }
}

sc_status cpu_attention_bf16_fused(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld, float *att,
                                   int B, int T, int H, int hd)
{
    const int64_t D = (int64_t)H * hd;
    const int Tp = (T + 63) / 64 * 64, hd2 = (hd + 1) / 2, hdp = (hd + 15) / 16 * 16;
    const float scale = 1.0f / sqrtf((float)hd);
    /* Per thread: kp [hd2][Tp], vp [Tp/2][hdp], q block [QB][hd2], scores [QB][Tp], P [QB][Tp/2]
     * (32-bit words), two bf16 rows. */
    const size_t words = (size_t)hd2 * Tp + (size_t)(Tp / 2) * hdp + (size_t)QB * hd2 + (size_t)QB * Tp +
                         (size_t)QB * (Tp / 2) + (size_t)hdp + 16;
    const size_t stride = (words + 15) / 16 * 16; /* whole cache lines per thread */
    const int threads = omp_get_max_threads();
    uint32_t *all = mm_scratch(mm, 1, (size_t)threads * stride * sizeof(uint32_t)); /* kept by the context */
    if (!all) return SC_ERR_NOMEM;
    #pragma omp parallel num_threads(threads)
    {
        uint32_t *kp = all + (size_t)omp_get_thread_num() * stride, *vp = kp + (size_t)hd2 * Tp;
        uint32_t *qb = vp + (size_t)(Tp / 2) * hdp;
        float *s = (float *)(void *)(qb + (size_t)QB * hd2);
        uint32_t *pb = (uint32_t *)(void *)(s + (size_t)QB * Tp);
        uint16_t *row = (uint16_t *)(void *)(pb + (size_t)QB * (Tp / 2));
        #pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * H; bh++) {
            const int b = bh / H, h = bh % H;
            const int64_t base = (int64_t)b * T * ld + (int64_t)h * hd;
            one_head(q + base, k + base, v + base, ld, att + (int64_t)b * T * D + (int64_t)h * hd, D, T, hd, scale, kp,
                     vp, qb, s, pb, row);
        }
    }
    return SC_OK;
}

#else

int cpu_attention_bf16_available(void) { return 0; }

sc_status cpu_attention_bf16_fused(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld, float *att,
                                   int B, int T, int H, int hd)
{
    (void)mm, (void)q, (void)k, (void)v, (void)ld, (void)att, (void)B, (void)T, (void)H, (void)hd;
    return err_fail(SC_ERR_UNSUPPORTED, "no AVX512-BF16 attention kernel in this build");
}

#endif
