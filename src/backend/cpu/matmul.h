/* The one place that talks to the matrix library (oneDNN). Everything else describes products
 * with mm_shape (dims + strides, up to 4-D batched) and calls mm_exec; primitives are created on
 * first use of a shape and cached in the context. A context is used by one thread at a time. */
#ifndef SC_BACKEND_CPU_MATMUL_H
#define SC_BACKEND_CPU_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

typedef struct mm_ctx mm_ctx;

/* A weight matrix [N, K] reordered once into the library's preferred (blocked) layout, which
 * saves the per-call repacking of plain weights (+5-10% on DiT shapes, 3x for the M = 2 adaLN
 * products). Immutable once made; shared by every context. */
typedef struct mm_packed mm_packed;

enum { MM_POST_NONE = 0, MM_POST_GELU_TANH = 1, MM_POST_RELU = 2 }; /* = BE_POST_* */

/* The element type of a product's two inputs; its output, bias and accumulation are float32
 * (int32 for MM_S8, converted to float exactly as the library does). */
enum { MM_F32 = 0, MM_BF16 = 1, MM_S8 = 2 };

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
    int dt;                          /* MM_F32, MM_BF16 (src and wei bf16) or MM_S8 (both int8,
                                      * no bias and no post-op: the caller scales the output) */
    int dst_bf16;                    /* 1: dst in bf16 (rounded to nearest even by the library) */
} mm_shape;

sc_status mm_create(mm_ctx **out);
void mm_destroy(mm_ctx *c);

sc_status mm_exec(mm_ctx *c, const mm_shape *s, const void *src, const void *wei,
                  const float *bias, float *dst);

/* Scratch of the context, at least `bytes`, 64-byte aligned, kept for the next call; slots 0, 1
 * and 2 are independent (a product's converted input; attention's probabilities or per-thread
 * buffers; an MLP's hidden rows). NULL with an
 * SC_ERR_NOMEM message when memory runs out. */
void *mm_scratch(mm_ctx *c, int slot, size_t bytes);

/* y[M, N] (row stride ldy) = x[M, K] (row stride ldx) * W^T + b, with W stored [N, K] row-major
 * (the PyTorch Linear layout); b may be NULL. */
sc_status mm_linear(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                    const float *W, const float *b, float *y, int64_t ldy, int post);

/* Packs W [N, K] (row-major, the PyTorch Linear layout) for products with about m_hint rows,
 * in element type dt: MM_F32 as it is; MM_BF16 rounded to nearest even; MM_S8 quantised per
 * output channel, symmetric: scale[n] = max_k |W[n,k]| / 127, q = rint(W[n,k] * 127 / max)
 * (a zero row gets scale 0 and q = 0). SC_ERR_UNSUPPORTED when this CPU has no kernel for dt. */
sc_status mm_pack(int64_t m_hint, int64_t N, int64_t K, const float *W, int dt, mm_packed **out);
void mm_packed_free(mm_packed *p);
size_t mm_packed_bytes(const mm_packed *p); /* the packed weights' bytes, scales included */
int mm_packed_dt(const mm_packed *p);
/* y[M, N] = x[M, K] * W^T + b with packed weights (see mm_linear). For MM_BF16 weights x is
 * rounded to bf16 first (nearest even); for MM_S8 each row of x is quantised like a weight row
 * (sx[m] = max_k |x[m,k]| / 127), the int32 product is converted to float and
 * y = acc * (sx[m] * scale[n]) + b[n], then `post`. */
sc_status mm_linear_packed(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                           const mm_packed *W, const float *b, float *y, int64_t ldy, int post);

/* A product's input rows [M, K] in the element type of the weights they will meet: float32
 * (x the floats), bf16 (x rounded to nearest even) or int8 (x quantised per row as mm_pack
 * quantises weight rows, sx [M] the scales). Made once, they serve every product with weights
 * of that type (q, k and v from one normalised input), and a producer that writes them directly
 * (a LayerNorm, an MLP's hidden layer) saves a float32 round trip through memory. */
typedef struct {
    int dt;          /* MM_F32, MM_BF16 or MM_S8 */
    const void *x;   /* [M, K] rows of stride ld elements */
    int64_t ld;
    const float *sx; /* MM_S8: [M] */
} mm_rows;

/* The element type products with W's weights take their input in (plain weights: MM_F32). */
int mm_rows_dt(const mm_packed *W);
/* Bytes of storage rows of [M, K] take in dt (int8: the rows, padded to 64, then M scales). */
size_t mm_rows_bytes(int dt, int64_t M, int64_t K);
/* Rows z [M, K] (row stride ldz) in dt, stored in buf (mm_rows_bytes(dt, M, K) bytes, 64-byte
 * aligned; for MM_F32 rows are z itself and buf is unused). Row by row on the calling thread
 * (a row kernel: callers spread rows over threads): row m of the result depends on z's row m. */
void mm_rows_store(int dt, void *buf, int64_t M, int64_t K, int64_t m, const float *zrow);
/* The descriptor of rows stored by mm_rows_store in buf. */
mm_rows mm_rows_in(int dt, const void *buf, int64_t M, int64_t K);

/* y [M, N] (row stride ldy) = x W^T + b, then `post`, with x already in W's input type. */
sc_status mm_linear_rows(mm_ctx *c, int64_t M, int64_t N, int64_t K, const mm_rows *x, const mm_packed *W,
                         const float *b, float *y, int64_t ldy, int post);
/* The hidden layer of an MLP: h = post(x W^T + b) [M, N] made directly into rows of type out_dt
 * for the next product (bf16: the library writes bf16; int8: the float accumulators, scaled,
 * biased, post-op'd and quantised per row in one pass). buf: [M, N] floats, which holds the
 * float32 and bf16 rows and an int8 product's float accumulators (its int8 rows go to the
 * context's scratch slot 2). Equal to mm_linear_packed then mm_rows_store. */
sc_status mm_linear_rows_to_rows(mm_ctx *c, int64_t M, int64_t N, int64_t K, const mm_rows *x, const mm_packed *W,
                                 const float *b, int post, int out_dt, float *buf, mm_rows *out);

/* Rounding and quantisation, element-wise and deterministic (any thread count):
 * dst[i] = bf16(src[i]) rounded to nearest even (NaN stays NaN), n values, on the calling
 * thread (a row kernel: callers spread rows over threads). */
void mm_to_bf16(uint16_t *dst, const float *src, size_t n);
/* Rows of x [M, K] (row stride ldx) -> q [M, K] int8 and scale [M], as mm_pack's weights. */
void mm_quantize_rows(int8_t *q, float *scale, const float *x, int64_t M, int64_t K, int64_t ldx);

/* Sets the OpenMP thread count used by the library and by our own loops. */
void mm_set_threads(int threads);

#endif
