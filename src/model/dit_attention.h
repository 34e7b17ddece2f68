/* Multi-head self-attention of one DiT block on the packed qkv activations. */
#ifndef SC_MODEL_DIT_ATTENTION_H
#define SC_MODEL_DIT_ATTENTION_H

#include "core/matmul.h"

/* qkv [B*T, 3D] (q | k | v, head h = dims [h*hd, h*hd+hd) of each) -> att [B*T, D] with heads
 * concatenated; scores is scratch [B*H, T, T]. softmax(q k^T / sqrt(hd)) v over all T keys. */
sc_status dit_attention(mm_ctx *mm, const float *qkv, float *att, float *scores, int B, int T,
                        int H, int hd);

#endif
