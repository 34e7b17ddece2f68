/* The T5 encoder's forward on a padded batch (transformers' T5Stack, encoder side):
 *
 *   h = E[ids]                                         [n L, D]   (no scaling, no positions)
 *   per block:  h += O attn(RMS(h))                    q, k, v [n L, inner], inner = H d_kv
 *               h += FF(RMS(h))                        FF = wo relu(wi z) or wo (gelu(wi_0 z) * wi_1 z)
 *   out = RMS_final(h)                                 [n L, D]
 *
 * attention: softmax(q k^T + B[h, i, j] + m[b, j]) v, no 1/sqrt(d_kv); B[h, i, j] =
 * rel[bucket(j - i), h] from block 0's table (every block's own for umT5); m = 0 for tokens and
 * -FLT_MAX for padding (transformers adds finfo(float32).min). */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/t5/t5.h"

/* bias [H, L, L] from a table rel [buckets, H]. */
static void position_bias(const t5_config *c, const float *rel, int L, float *bias)
{
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            const int b = t5_bucket(c, j - i);
            for (int h = 0; h < c->heads; h++) bias[((size_t)h * L + i) * L + j] = rel[(size_t)b * c->heads + h];
        }
}

sc_status t5_encode(encoder *e, int n, int L, const int32_t *ids, const int32_t *mask, float *out, int threads)
{
    t5_encoder *m = (t5_encoder *)e;
    const t5_config *c = &m->cfg;
    const backend *be = m->base.be;
    if (n < 1 || L < 1 || (int64_t)n * L > (1 << 24))
        return err_fail(SC_ERR_ARG, "T5 encoder: %d sequences of %d tokens is not a batch it encodes", n, L);
    for (int64_t i = 0; i < (int64_t)n * L; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return err_fail(SC_ERR_ARG, "T5 encoder: token id %d (sequence %lld, position %lld) is outside its %d-entry "
                                        "vocabulary", ids[i], (long long)(i / L), (long long)(i % L), c->vocab);
        if (mask && mask[i] != 0 && mask[i] != 1)
            return err_fail(SC_ERR_ARG, "T5 encoder: the attention mask holds %d (0 and 1 only)", mask[i]);
    }
    if (threads > 0) be->set_threads(threads);
    const int64_t M = (int64_t)n * L;
    const int D = c->d_model, inner = c->heads * c->d_kv, F = c->d_ff;
    float *z = be->alloc((size_t)M * D, "T5 activations");
    float *tmp = be->alloc((size_t)M * D, "T5 activations");
    float *qkv = be->alloc((size_t)3 * M * inner, "T5 attention");
    float *att = be->alloc((size_t)M * inner, "T5 attention");
    float *ff = be->alloc((size_t)M * F * (c->gated ? 2 : 1), "T5 feed-forward");
    float *bias = be->alloc((size_t)c->heads * L * L, "T5 position bias");
    float *kmask = mask ? be->alloc((size_t)M, "T5 attention mask") : NULL;
    float *scores = be->alloc(be->attention_scratch(n, L, c->heads), "T5 attention scores");
    sc_status s = z && tmp && qkv && att && ff && bias && scores && (!mask || kmask) ? SC_OK : SC_ERR_NOMEM;
    float *h = out; /* the residual stream lives in the output [n L, D] */
    if (!s) {
        if (mask)
            for (int64_t i = 0; i < M; i++) kmask[i] = mask[i] ? 0.0f : -FLT_MAX;
        be->gather_rows(h, m->embed, ids, (long)M, D); /* [M, D] */
    }
    float *q = qkv, *k = qkv + M * inner, *v = qkv + 2 * M * inner;
    for (int l = 0; l < c->layers && !s; l++) {
        const t5_block *b = &m->blocks[l];
        if (l == 0 || c->bias_per_layer) position_bias(c, b->rel, L, bias); /* [H, L, L] */
        be->rms_norm(z, h, (long)M, D, c->eps, b->ln_att);                /* z [M, D] */
        if ((s = be->linear(m->ctx, &b->q, M, z, q, inner, BE_POST_NONE)) || /* q, k, v [M, inner] */
            (s = be->linear(m->ctx, &b->k, M, z, k, inner, BE_POST_NONE)) ||
            (s = be->linear(m->ctx, &b->v, M, z, v, inner, BE_POST_NONE)))
            break;
        /* att [M, inner] = softmax(q k^T + bias + mask) v, per sequence and head */
        if ((s = be->attention_biased(m->ctx, q, k, v, att, scores, n, L, c->heads, c->d_kv, 1.0f, bias, kmask))) break;
        if ((s = be->linear(m->ctx, &b->o, M, att, tmp, D, BE_POST_NONE))) break; /* tmp [M, D] */
        be->add(h, tmp, (size_t)M * D);
        be->rms_norm(z, h, (long)M, D, c->eps, b->ln_ff);
        if (c->gated) {
            float *g = ff + M * F; /* ff = gelu(wi_0 z), g = wi_1 z: [M, F] each */
            if ((s = be->linear(m->ctx, &b->wi, M, z, ff, F, BE_POST_GELU_TANH)) ||
                (s = be->linear(m->ctx, &b->wi1, M, z, g, F, BE_POST_NONE)))
                break;
            be->mul(ff, g, (size_t)M * F);
        } else if ((s = be->linear(m->ctx, &b->wi, M, z, ff, F, BE_POST_RELU))) { /* ff [M, F] */
            break;
        }
        if ((s = be->linear(m->ctx, &b->wo, M, ff, tmp, D, BE_POST_NONE))) break; /* tmp [M, D] */
        be->add(h, tmp, (size_t)M * D);
    }
    if (!s) be->rms_norm(out, h, (long)M, D, c->eps, m->ln_final); /* out [M, D] */
    be->release(z);
    be->release(tmp);
    be->release(qkv);
    be->release(att);
    be->release(ff);
    be->release(bias);
    be->release(kmask);
    be->release(scores);
    return s;
}
