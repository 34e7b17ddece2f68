/* The one place that talks to the matrix library (oneDNN). Everything else describes products
 * with mm_shape (dims + strides, up to 4-D batched) and calls mm_exec; primitives are created on
 * first use of a shape and cached in the context. A context is used by one thread at a time. */
#ifndef SC_BACKEND_CPU_MATMUL_H
#define SC_BACKEND_CPU_MATMUL_H

#include <stdint.h>

#include "smoothcache.h"

typedef struct mm_ctx mm_ctx;

/* A weight matrix [N, K] reordered once into the library's preferred (blocked) layout, which
 * saves the per-call repacking of plain weights (+5-10% on DiT shapes, 3x for the M = 2 adaLN
 * products). Immutable once made; shared by every context. */
typedef struct mm_packed mm_packed;

enum { MM_POST_NONE = 0, MM_POST_GELU_TANH = 1, MM_POST_RELU = 2 }; /* = BE_POST_* */

/* dst[..., m, n] = sum_k src[..., m, k] * wei[..., k, n] (+ bias[n]) (then post-op).
 * Batch dims of src and wei equal those of dst (no broadcast). Strides are in elements. */
typedef struct {
    int nd;                          /* 2..4 */
    int64_t src_dims[4], src_strides[4];
    int64_t wei_dims[4], wei_strides[4];
    int64_t dst_dims[4], dst_strides[4];
    int has_bias;                    /* bias of length n, broadcast over the other dims */
    int post;                        /* MM_POST_* */
    int packed;                      /* 2-D only: weights come as an mm_packed (wei_* unused) */
} mm_shape;

sc_status mm_create(mm_ctx **out);
void mm_destroy(mm_ctx *c);

sc_status mm_exec(mm_ctx *c, const mm_shape *s, const float *src, const float *wei,
                  const float *bias, float *dst);

/* y[M, N] (row stride ldy) = x[M, K] (row stride ldx) * W^T + b, with W stored [N, K] row-major
 * (the PyTorch Linear layout); b may be NULL. */
sc_status mm_linear(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                    const float *W, const float *b, float *y, int64_t ldy, int post);

/* Packs W [N, K] (row-major, the PyTorch Linear layout) for products with about m_hint rows. */
sc_status mm_pack(int64_t m_hint, int64_t N, int64_t K, const float *W, mm_packed **out);
void mm_packed_free(mm_packed *p);
size_t mm_packed_bytes(const mm_packed *p);
/* y[M, N] = x[M, K] * W^T + b with packed weights (see mm_linear). */
sc_status mm_linear_packed(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                           const mm_packed *W, const float *b, float *y, int64_t ldy, int post);

/* Sets the OpenMP thread count used by the library and by our own loops. */
void mm_set_threads(int threads);

#endif
