/* T5's encoder (transformers' T5EncoderModel; v1.0 with a ReLU feed-forward, v1.1 / Flan / mT5
 * with a gated-GELU one, umT5 with a position bias per layer). Pre-norm blocks of RMS norm,
 * self-attention without score scaling and with a relative position bias (bucketed key - query
 * distance), then a feed-forward; an RMS norm at the end; no biases anywhere. docs/TEXT.md has
 * the arithmetic. */
#ifndef SC_MODELS_T5_T5_H
#define SC_MODELS_T5_T5_H

#include "models/encoder.h"

typedef enum { T5_ACT_RELU, T5_ACT_GELU_TANH } t5_act;

typedef struct {
    int vocab, d_model, d_kv, heads, d_ff, layers;
    int buckets, max_distance;
    int gated;            /* wo (act(wi_0 x) * wi_1 x), else wo act(wi x) */
    t5_act act;
    float eps;
    int bias_per_layer;   /* umT5 */
    char feed_forward[32];
} t5_config;

typedef struct {
    be_linear q, k, v, o;   /* q, k, v [inner, d_model]; o [d_model, inner] */
    be_linear wi, wi1, wo;  /* wi (wi_0 when gated) [d_ff, d_model]; wi1 (gated) ; wo [d_model, d_ff] */
    const float *ln_att, *ln_ff; /* [d_model] */
    const float *rel;       /* [buckets, heads]: block 0's (shared), or each block's (umT5) */
} t5_block;

typedef struct {
    encoder base;
    t5_config cfg;
    weights *files;       /* kept open: float32 weights are views into the mapping */
    const float *embed;   /* [vocab, d_model] */
    const float *ln_final;
    t5_block *blocks;
    float **owned;        /* converted copies (F16/BF16 files) */
    int n_owned, cap_owned;
    be_ctx *ctx;
} t5_encoder;

sc_status t5_config_from_json(t5_config *c, const json_t *j, const char *path);
/* The bucket of relative position r = key - query (bidirectional), as transformers computes it. */
int t5_bucket(const t5_config *c, int r);

sc_status t5_load(const encoder_probe *p, encoder **out);
void t5_free(encoder *e);
sc_status t5_encode(encoder *e, int n, int L, const int32_t *ids, const int32_t *mask, float *out, int threads);

#endif
