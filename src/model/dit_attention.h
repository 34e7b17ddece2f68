/* Multi-head self-attention of one DiT block on the packed qkv activations. */
#ifndef SC_MODEL_DIT_ATTENTION_H
#define SC_MODEL_DIT_ATTENTION_H

#include "core/matmul.h"

/* q, k, v [B*T, D] rows of stride ld (ld = 3D when they are column slices of one fused qkv
 * buffer, D when separate; head h = dims [h*hd, h*hd+hd)) -> att [B*T, D] with heads
 * concatenated; scores is scratch [B*H, T, T]. softmax(q k^T / sqrt(hd)) v over all T keys. */
sc_status dit_attention(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld,
                        float *att, float *scores, int B, int T, int H, int hd);

#endif
