/* Multi-head attention on the CPU: oneDNN products and a vectorised softmax. */
#include "backend/cpu/kernels.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "backend/cpu/vec.h"

size_t cpu_attention_scratch(int B, int T, int H)
{
    /* Short sequences: every (sample, head) at once; long ones: one query block at a time. */
    return T <= CPU_ATT_QBLOCK ? (size_t)B * H * T * T : (size_t)CPU_ATT_QBLOCK * T;
}

/* Row-wise softmax of scale * s over [rows, T], in place; with pb, the probabilities go to pb
 * [rows, T] rounded to bf16 instead (s then holds them unnormalised). */
static void softmax_rows(float *s, long rows, int T, float scale, uint16_t *pb)
{
    const cpu_vec_ops *vec = cpu_vec();
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        float *x = s + (size_t)r * T;
        float mx = -INFINITY;
        for (int i = 0; i < T; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < T; i++) x[i] *= scale;
        float sum = vec->exp_sub_sum(x, mx * scale, x, T);
        float inv = 1.0f / sum;
        #pragma omp simd
        for (int i = 0; i < T; i++) x[i] *= inv;
        if (pb) mm_to_bf16(pb + (size_t)r * T, x, (size_t)T);
    }
}

static void set4(int64_t *d, int64_t a, int64_t b, int64_t c, int64_t e)
{
    d[0] = a, d[1] = b, d[2] = c, d[3] = e;
}

/* The inputs of attention's products in the element type dt: q, k, v [M, D] rows of stride ld
 * -> *dq, *dk, *dv dense [M, D] (f32: converted only when ld != D, into `dense`; bf16: always,
 * into the context's scratch). */
static sc_status attention_inputs(mm_ctx *mm, int dt, const float *q, const float *k, const float *v, int64_t ld,
                                  int64_t M, int64_t D, float *dense, const void **dq, const void **dk,
                                  const void **dv)
{
    const float *src[3] = {q, k, v};
    if (dt == MM_BF16) {
        uint16_t *b = mm_scratch(mm, 0, (size_t)(3 * M * D) * sizeof(uint16_t)); /* [3, M, D] bf16 */
        if (!b) return SC_ERR_NOMEM;
        #pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < 3 * M; r++) mm_to_bf16(b + r * D, src[r / M] + (r % M) * ld, (size_t)D);
        *dq = b, *dk = b + M * D, *dv = b + 2 * M * D;
        return SC_OK;
    }
    if (ld != D) {
        /* [M, 3D] thirds -> [3, M, D]: dense rows let every product below run on the library's
         * batched kernels (strided rows fall back to a generic one, 10-50x slower here). */
        #pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < 3 * M; r++)
            memcpy(dense + r * D, src[r / M] + (r % M) * ld, (size_t)D * sizeof(float));
        q = dense, k = dense + M * D, v = dense + 2 * M * D;
    }
    *dq = q, *dk = k, *dv = v;
    return SC_OK;
}

/* Where the probabilities [n] go as the second product's input in dt: the float scores
 * themselves, or a bf16 buffer the softmax fills. */
static void *probs_buf(mm_ctx *mm, int dt, float *scores, size_t n)
{
    return dt == MM_BF16 ? mm_scratch(mm, 1, n * sizeof(uint16_t)) : scores;
}

/* Probabilities p [n] (float, normalised) as the second product's input in dt: p itself, or a
 * bf16 copy. */
static const void *probs_in(mm_ctx *mm, int dt, const float *p, size_t n)
{
    if (dt != MM_BF16) return p;
    uint16_t *b = mm_scratch(mm, 1, n * sizeof(uint16_t));
    if (!b) return NULL;
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i += 4096) mm_to_bf16(b + i, p + i, n - i < 4096 ? n - i : 4096);
    return b;
}

static const void *offset(const void *base, int dt, int64_t elems)
{
    return (const char *)base + elems * (dt == MM_BF16 ? 2 : 4);
}

sc_status cpu_attention(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld,
                        float *att, float *dense, float *scores, int B, int T, int H, int hd, int dt)
{
    if (dt == MM_BF16 && cpu_attention_bf16_available())
        return cpu_attention_bf16_fused(mm, q, k, v, ld, att, B, T, H, hd);
    const int64_t D = (int64_t)H * hd, M = (int64_t)B * T;
    const float scale = 1.0f / sqrtf((float)hd);
    const void *dq, *dk, *dv;
    void *p;
    sc_status st = attention_inputs(mm, dt, q, k, v, ld, M, D, dense, &dq, &dk, &dv);
    if (st) return st;
    mm_shape s;
    memset(&s, 0, sizeof s);
    s.nd = 4;
    s.dt = dt;
    if (T <= CPU_ATT_QBLOCK) {
        /* scores [B, H, T, T] = q [B, H, T, hd] . k^T [B, H, hd, T] */
        set4(s.src_dims, B, H, T, hd), set4(s.src_strides, T * D, hd, D, 1);
        set4(s.wei_dims, B, H, hd, T), set4(s.wei_strides, T * D, hd, 1, D);
        set4(s.dst_dims, B, H, T, T), set4(s.dst_strides, (int64_t)H * T * T, (int64_t)T * T, T, 1);
        st = mm_exec(mm, &s, dq, dk, NULL, scores);
        if (st) return st;
        if (!(p = probs_buf(mm, dt, scores, (size_t)B * H * T * T))) return SC_ERR_NOMEM;
        softmax_rows(scores, (long)B * H * T, T, scale, p == scores ? NULL : (uint16_t *)p);
        /* att [B, H, T, hd] (rows of stride D, heads side by side) = p [B, H, T, T] . v [B, H, T, hd] */
        set4(s.src_dims, B, H, T, T), set4(s.src_strides, (int64_t)H * T * T, (int64_t)T * T, T, 1);
        set4(s.wei_dims, B, H, T, hd), set4(s.wei_strides, T * D, hd, D, 1);
        set4(s.dst_dims, B, H, T, hd), set4(s.dst_strides, T * D, hd, D, 1);
        return mm_exec(mm, &s, p, dv, NULL, att);
    }
    /* Long sequences: per (sample, head, block of Qb query rows), scores [Qb, T] stay in cache. */
    s.nd = 2;
    for (int b = 0; b < B && !st; b++)
        for (int h = 0; h < H && !st; h++)
            for (int q0 = 0; q0 < T && !st; q0 += CPU_ATT_QBLOCK) {
                const int64_t Qb = T - q0 < CPU_ATT_QBLOCK ? T - q0 : CPU_ATT_QBLOCK;
                const int64_t head = (int64_t)b * T * D + (int64_t)h * hd;
                /* scores [Qb, T] = q [Qb, hd] . k^T [hd, T] */
                s.src_dims[0] = Qb, s.src_dims[1] = hd, s.src_strides[0] = D, s.src_strides[1] = 1;
                s.wei_dims[0] = hd, s.wei_dims[1] = T, s.wei_strides[0] = 1, s.wei_strides[1] = D;
                s.dst_dims[0] = Qb, s.dst_dims[1] = T, s.dst_strides[0] = T, s.dst_strides[1] = 1;
                st = mm_exec(mm, &s, offset(dq, dt, head + q0 * D), offset(dk, dt, head), NULL, scores);
                if (st) break;
                if (!(p = probs_buf(mm, dt, scores, (size_t)(Qb * T)))) return SC_ERR_NOMEM;
                softmax_rows(scores, (long)Qb, T, scale, p == scores ? NULL : (uint16_t *)p);
                /* att [Qb, hd] = p [Qb, T] . v [T, hd] */
                s.src_dims[0] = Qb, s.src_dims[1] = T, s.src_strides[0] = T, s.src_strides[1] = 1;
                s.wei_dims[0] = T, s.wei_dims[1] = hd, s.wei_strides[0] = D, s.wei_strides[1] = 1;
                s.dst_dims[0] = Qb, s.dst_dims[1] = hd, s.dst_strides[0] = D, s.dst_strides[1] = 1;
                st = mm_exec(mm, &s, p, offset(dv, dt, head), NULL, att + head + q0 * D);
            }
    return st;
}

size_t cpu_attention_cross_scratch(int B, int Tq, int Tk, int H)
{
    return Tq <= CPU_ATT_QBLOCK ? (size_t)B * H * Tq * Tk : (size_t)CPU_ATT_QBLOCK * Tk;
}

/* Softmax of scale s + bias[h, i, :] + mask[b, :] over rows of Tk scores laid out [nb][nh][ni]
 * for samples b0.., heads h0.. and queries i0..; bias [H, Tq, Tk] and mask [B, Tk] may be NULL. */
static void softmax_biased(float *s, int nb, int nh, int ni, int b0, int h0, int i0, int Tq, int Tk, float scale,
                           const float *bias, const float *mask)
{
    const long rows = (long)nb * nh * ni;
    const cpu_vec_ops *vec = cpu_vec();
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        const int ii = (int)(r % ni), hh = (int)(r / ni % nh), bb = (int)(r / ni / nh);
        const int b = b0 + bb, h = h0 + hh, i = i0 + ii;
        float *x = s + (size_t)r * Tk;
        const float *br = bias ? bias + ((size_t)h * Tq + i) * Tk : NULL;
        const float *mr = mask ? mask + (size_t)b * Tk : NULL;
        float mx = -INFINITY;
        for (int j = 0; j < Tk; j++) {
            float v = x[j] * scale;
            if (br) v += br[j];
            if (mr) v += mr[j];
            x[j] = v;
            mx = v > mx ? v : mx;
        }
        const float sum = vec->exp_sub_sum(x, mx, x, Tk);
        const float inv = 1.0f / sum;
        #pragma omp simd
        for (int j = 0; j < Tk; j++) x[j] *= inv;
    }
}

/* The inputs of a biased attention in dt: q [Mq, D], k, v [Mk, D] dense -> *dq, *dk, *dv (f32: the
 * inputs themselves; bf16: rounded into the context's scratch). */
static sc_status biased_inputs(mm_ctx *mm, int dt, const float *q, const float *k, const float *v, int64_t Mq,
                               int64_t Mk, int64_t D, const void **dq, const void **dk, const void **dv)
{
    if (dt != MM_BF16) {
        *dq = q, *dk = k, *dv = v;
        return SC_OK;
    }
    uint16_t *b = mm_scratch(mm, 0, (size_t)((Mq + 2 * Mk) * D) * sizeof(uint16_t)); /* [Mq + 2 Mk, D] */
    if (!b) return SC_ERR_NOMEM;
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < Mq + 2 * Mk; r++) {
        const float *src = r < Mq ? q + r * D : r < Mq + Mk ? k + (r - Mq) * D : v + (r - Mq - Mk) * D;
        mm_to_bf16(b + r * D, src, (size_t)D);
    }
    *dq = b, *dk = b + Mq * D, *dv = b + (Mq + Mk) * D;
    return SC_OK;
}

sc_status cpu_attention_general(mm_ctx *mm, const float *q, const float *k, const float *v, float *att, float *scores,
                                int B, int Tq, int Tk, int H, int hd, float scale, const float *bias,
                                const float *key_mask, int dt)
{
    const int64_t D = (int64_t)H * hd;
    const void *dq, *dk, *dv, *p;
    sc_status st = biased_inputs(mm, dt, q, k, v, (int64_t)B * Tq, (int64_t)B * Tk, D, &dq, &dk, &dv);
    if (st) return st;
    mm_shape s;
    memset(&s, 0, sizeof s);
    s.dt = dt;
    if (Tq <= CPU_ATT_QBLOCK) {
        s.nd = 4;
        /* scores [B, H, Tq, Tk] = q [B, H, Tq, hd] . k^T [B, H, hd, Tk] */
        set4(s.src_dims, B, H, Tq, hd), set4(s.src_strides, Tq * D, hd, D, 1);
        set4(s.wei_dims, B, H, hd, Tk), set4(s.wei_strides, Tk * D, hd, 1, D);
        set4(s.dst_dims, B, H, Tq, Tk), set4(s.dst_strides, (int64_t)H * Tq * Tk, (int64_t)Tq * Tk, Tk, 1);
        if ((st = mm_exec(mm, &s, dq, dk, NULL, scores))) return st;
        softmax_biased(scores, B, H, Tq, 0, 0, 0, Tq, Tk, scale, bias, key_mask);
        if (!(p = probs_in(mm, dt, scores, (size_t)B * H * Tq * Tk))) return SC_ERR_NOMEM;
        /* att [B, H, Tq, hd] (heads side by side in rows of D) = p [B, H, Tq, Tk] . v [B, H, Tk, hd] */
        set4(s.src_dims, B, H, Tq, Tk), set4(s.src_strides, (int64_t)H * Tq * Tk, (int64_t)Tq * Tk, Tk, 1);
        set4(s.wei_dims, B, H, Tk, hd), set4(s.wei_strides, Tk * D, hd, D, 1);
        set4(s.dst_dims, B, H, Tq, hd), set4(s.dst_strides, Tq * D, hd, D, 1);
        return mm_exec(mm, &s, p, dv, NULL, att);
    }
    s.nd = 2;
    for (int b = 0; b < B && !st; b++)
        for (int h = 0; h < H && !st; h++)
            for (int q0 = 0; q0 < Tq && !st; q0 += CPU_ATT_QBLOCK) {
                const int64_t Qb = Tq - q0 < CPU_ATT_QBLOCK ? Tq - q0 : CPU_ATT_QBLOCK;
                const int64_t qhead = (int64_t)b * Tq * D + (int64_t)h * hd, khead = (int64_t)b * Tk * D + (int64_t)h * hd;
                /* scores [Qb, Tk] = q [Qb, hd] . k^T [hd, Tk] */
                s.src_dims[0] = Qb, s.src_dims[1] = hd, s.src_strides[0] = D, s.src_strides[1] = 1;
                s.wei_dims[0] = hd, s.wei_dims[1] = Tk, s.wei_strides[0] = 1, s.wei_strides[1] = D;
                s.dst_dims[0] = Qb, s.dst_dims[1] = Tk, s.dst_strides[0] = Tk, s.dst_strides[1] = 1;
                if ((st = mm_exec(mm, &s, offset(dq, dt, qhead + q0 * D), offset(dk, dt, khead), NULL, scores))) break;
                softmax_biased(scores, 1, 1, (int)Qb, b, h, q0, Tq, Tk, scale, bias, key_mask);
                if (!(p = probs_in(mm, dt, scores, (size_t)(Qb * Tk)))) return SC_ERR_NOMEM;
                /* att [Qb, hd] = p [Qb, Tk] . v [Tk, hd] */
                s.src_dims[0] = Qb, s.src_dims[1] = Tk, s.src_strides[0] = Tk, s.src_strides[1] = 1;
                s.wei_dims[0] = Tk, s.wei_dims[1] = hd, s.wei_strides[0] = D, s.wei_strides[1] = 1;
                s.dst_dims[0] = Qb, s.dst_dims[1] = hd, s.dst_strides[0] = D, s.dst_strides[1] = 1;
                st = mm_exec(mm, &s, p, offset(dv, dt, khead), NULL, att + qhead + q0 * D);
            }
    return st;
}
