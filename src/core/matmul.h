/* The one place that talks to the matrix library (oneDNN). Everything else describes products
 * with mm_shape (dims + strides, up to 4-D batched) and calls mm_exec; primitives are created on
 * first use of a shape and cached in the context. A context is used by one thread at a time. */
#ifndef SC_CORE_MATMUL_H
#define SC_CORE_MATMUL_H

#include <stdint.h>

#include "smoothcache.h"

typedef struct mm_ctx mm_ctx;

enum { MM_POST_NONE = 0, MM_POST_GELU_TANH = 1 };

/* dst[..., m, n] = sum_k src[..., m, k] * wei[..., k, n] (+ bias[n]) (then post-op).
 * Batch dims of src and wei equal those of dst (no broadcast). Strides are in elements. */
typedef struct {
    int nd;                          /* 2..4 */
    int64_t src_dims[4], src_strides[4];
    int64_t wei_dims[4], wei_strides[4];
    int64_t dst_dims[4], dst_strides[4];
    int has_bias;                    /* bias of length n, broadcast over the other dims */
    int post;                        /* MM_POST_* */
} mm_shape;

sc_status mm_create(mm_ctx **out);
void mm_destroy(mm_ctx *c);

sc_status mm_exec(mm_ctx *c, const mm_shape *s, const float *src, const float *wei,
                  const float *bias, float *dst);

/* y[M, N] (row stride ldy) = x[M, K] (row stride ldx) * W^T + b, with W stored [N, K] row-major
 * (the PyTorch Linear layout); b may be NULL. */
sc_status mm_linear(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                    const float *W, const float *b, float *y, int64_t ldy, int post);

/* Sets the OpenMP thread count used by the library and by our own loops. */
void mm_set_threads(int threads);

#endif
