#include "model/dit_attention.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/vmath.h"

/* Row-wise softmax of scale * s over [rows, T], in place. */
static void softmax_rows(float *s, long rows, int T, float scale)
{
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < rows; r++) {
        float *x = s + (size_t)r * T;
        float mx = -INFINITY;
        for (int i = 0; i < T; i++) mx = x[i] > mx ? x[i] : mx;
        for (int i = 0; i < T; i++) x[i] *= scale;
        float sum = sc_exp_sub_sum(x, mx * scale, x, T);
        float inv = 1.0f / sum;
        #pragma omp simd
        for (int i = 0; i < T; i++) x[i] *= inv;
    }
}

sc_status dit_attention(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld,
                        float *att, float *scores, int B, int T, int H, int hd)
{
    const int64_t D = (int64_t)H * hd;
    mm_shape s;
    memset(&s, 0, sizeof s);
    s.nd = 4;
    /* scores [B, H, T, T] = q [B, H, T, hd] . k^T [B, H, hd, T], read in place. */
    int64_t qd[4] = {B, H, T, hd}, qs[4] = {T * ld, hd, ld, 1};
    int64_t kd[4] = {B, H, hd, T}, ks[4] = {T * ld, hd, 1, ld};
    int64_t sd[4] = {B, H, T, T}, ss[4] = {(int64_t)H * T * T, (int64_t)T * T, T, 1};
    memcpy(s.src_dims, qd, sizeof qd); memcpy(s.src_strides, qs, sizeof qs);
    memcpy(s.wei_dims, kd, sizeof kd); memcpy(s.wei_strides, ks, sizeof ks);
    memcpy(s.dst_dims, sd, sizeof sd); memcpy(s.dst_strides, ss, sizeof ss);
    sc_status st = mm_exec(mm, &s, q, k, NULL, scores);
    if (st) return st;

    softmax_rows(scores, (long)B * H * T, T, 1.0f / sqrtf((float)hd));

    /* att [B, H, T, hd] (strided into [B*T, D]) = p [B, H, T, T] . v [B, H, T, hd]. */
    int64_t vd[4] = {B, H, T, hd}, vs[4] = {T * ld, hd, ld, 1};
    int64_t od[4] = {B, H, T, hd}, os[4] = {T * D, hd, D, 1};
    memcpy(s.src_dims, sd, sizeof sd); memcpy(s.src_strides, ss, sizeof ss);
    memcpy(s.wei_dims, vd, sizeof vd); memcpy(s.wei_strides, vs, sizeof vs);
    memcpy(s.dst_dims, od, sizeof od); memcpy(s.dst_strides, os, sizeof os);
    return mm_exec(mm, &s, scores, v, NULL, att);
}
