/* Multi-head self-attention of one DiT block. */
#ifndef SC_MODEL_DIT_ATTENTION_H
#define SC_MODEL_DIT_ATTENTION_H

#include "core/matmul.h"

/* Query rows per block of the score matrix: at most ATT_QBLOCK x T scores of one (sample, head)
 * are live at a time once T exceeds it, so 512-px images (T = 1024) never hold the whole
 * [B, H, T, T] matrix (134 MB for DiT-XL/2, through DRAM, 25x slower per PERF.md). */
#define ATT_QBLOCK 256

/* Scores scratch (floats) dit_attention needs for B samples, H heads and T tokens. */
size_t dit_attention_scratch(int B, int T, int H);

/* q, k, v [B*T, D] with rows of stride ld (3D when they are the thirds of one fused qkv output,
 * D when dense; head h = dims [h*hd, h*hd+hd)) -> att [B*T, D] with heads concatenated.
 * softmax(q k^T / sqrt(hd)) v over all T keys. dense is scratch [3, B*T, D] used when ld != D
 * (the matrix library's fast batched kernels need dense rows); scores is scratch of
 * dit_attention_scratch() floats. */
sc_status dit_attention(mm_ctx *mm, const float *q, const float *k, const float *v, int64_t ld,
                        float *att, float *dense, float *scores, int B, int T, int H, int hd);

#endif
