/* The compute backend: the operations table every model family and the cache layer compute
 * through. Every loop over a model's tensors (its activations, its outputs, what a cache policy
 * stores or predicts, a decoder's feature maps) is an operation here; callers never know which
 * implementation runs. What stays outside: weight preparation at load time (position tables,
 * folded upsampling weights) and the sampler's update of the latents (src/sample), which reads
 * and writes plain host arrays.
 *
 * The CPU folder (src/backend/cpu/: oneDNN matrix products and convolutions, OpenMP loops over
 * rows) gives three tables that differ only in the precision of their products: cpu-f32,
 * cpu-bf16 (inputs of every product rounded to bf16, float32 accumulation and outputs) and
 * cpu-int8 (W8A8 linear layers, bf16 attention; docs/PRECISION.md). A GPU backend would be a
 * sibling folder with its own table (docs/ARCHITECTURE.md, "Adding a backend"). Buffers come
 * from alloc() and are addressed as float arrays: activations are float32 at every precision.
 *
 * Shapes in comments: B batch rows (guidance halves included), T tokens, D hidden, M = B * T rows
 * of a product, mod rows of an adaLN modulation with a stride of mod_stride floats. */
#ifndef SC_BACKEND_BACKEND_H
#define SC_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

/* One execution context: primitive caches and streams; used by one thread at a time. */
typedef struct be_ctx be_ctx;

/* A linear layer y [M, out] = x [M, in] W^T + b. Until prepared, w and b are the caller's views
 * (a mapped file, a converted copy); linear_prepare() may make the backend's own copy (a packed
 * layout) in prep, after which the caller may release w (set it to NULL). */
typedef struct {
    const float *w; /* [out, in] row-major (PyTorch's Linear layout), or NULL once prepared */
    const float *b; /* [out], or NULL */
    int out, in;
    void *prep;     /* the backend's prepared weights, or NULL: w is used as it is */
    int precise;    /* 1: a conditioning projection (embedders, modulation, final layer) that the
                     * int8 backend computes in bf16 (docs/PRECISION.md says why) */
} be_linear;

/* A convolution layer with its weights in the backend's layout. */
typedef struct be_conv be_conv;

enum { BE_POST_NONE = 0, BE_POST_GELU_TANH = 1, BE_POST_RELU = 2 }; /* applied to a product's output */

/* A product's input rows [rows, cols] in the element type the backend multiplies a given layer
 * in (float32; bf16; int8 with a scale per row), made once by a producer (ln_modulate_rows, an
 * MLP's hidden layer) straight from its float32 results: they serve every linear layer of that
 * type (q, k and v of one normalised input) and spare the float32 round trip through memory.
 * Owned by the caller's storage or the context; valid until the context's next product. */
typedef struct {
    int dt;          /* the backend's element type code */
    const void *x;   /* [rows, cols] rows of stride ld elements */
    int64_t ld;
    const float *sx; /* int8: [rows] scales, else NULL */
    int64_t rows, cols;
} be_rows;
enum { BE_CONV_DIRECT = 0, BE_CONV_WINOGRAD = 1 };   /* convolution algorithms */
enum { BE_CONV_OVERWRITE = 0, BE_CONV_ACCUMULATE = 1 }; /* dst = conv(src) + b (+ dst) */

typedef struct backend {
    const char *name;  /* "cpu-f32", "cpu-bf16", "cpu-int8" */
    const char *about; /* one line */
    sc_dtype dtype;    /* the compute precision of its products */

    /* ---- contexts, threads, memory ---- */
    sc_status (*ctx_create)(be_ctx **out);
    void (*ctx_free)(be_ctx *c);
    /* Threads used by every operation from now on (threads > 0). */
    void (*set_threads)(int threads);
    /* n zero-filled floats (NULL with an SC_ERR_NOMEM message naming `what`); free with release. */
    float *(*alloc)(size_t n, const char *what);
    void (*release)(void *p);

    /* ---- linear layers ---- */
    /* Prepares L for products of about m_hint rows: L->prep is set, or left NULL where the
     * backend keeps plain weights (SC_OK either way). */
    sc_status (*linear_prepare)(be_linear *L, int64_t m_hint);
    void (*linear_drop)(be_linear *L); /* frees L->prep */
    /* Bytes the layer's weights take in the backend's hands: the prepared copy, or the plain
     * float32 weights when there is none (biases included). */
    size_t (*linear_bytes)(const be_linear *L);
    /* y [M, out] (row stride ldy) = x [M, in] W^T + b, then `post` (BE_POST_*). */
    sc_status (*linear)(be_ctx *c, const be_linear *L, int64_t M, const float *x, float *y, int64_t ldy, int post);

    /* ---- products on prepared rows ---- */
    /* z[b,t,:] = LN(h[b,t,:]; eps) * (1 + scale[b,:]) + shift[b,:] (as ln_modulate) made into the
     * input rows of products with L's weights, stored in z ([B*T, D] floats of storage; float32
     * rows are z itself; rows too big for it, int8 ones of D < 16, go to the context). */
    sc_status (*ln_modulate_rows)(be_ctx *c, const be_linear *L, float *z, const float *h, int B, int T, int D,
                                  float eps, const float *shift, const float *scale, int mod_stride, be_rows *out);
    /* y [rows, out] (row stride ldy) = x W^T + b, then post: linear() on rows made for a layer of
     * L's type (SC_ERR_ARG otherwise). */
    sc_status (*linear_rows)(be_ctx *c, const be_linear *L, const be_rows *x, float *y, int64_t ldy, int post);
    /* An MLP: y [rows, fc2.out] = fc2(post(fc1(x))) with fc1's output made directly into fc2's
     * input rows (bf16 written by the product itself; int8 scaled, post-op'd and quantised in one
     * pass). hid: [rows, fc1.out] floats of scratch. Equal to linear, linear. */
    sc_status (*mlp)(be_ctx *c, const be_linear *fc1, const be_linear *fc2, const be_rows *x, float *hid, float *y,
                     int64_t ldy, int post);

    /* ---- attention ---- */
    /* Floats of `scores` scratch attention() needs for B samples, T tokens, H heads. */
    size_t (*attention_scratch)(int B, int T, int H);
    /* q, k, v [B*T, H*hd] with rows of stride ld (3 H hd for the thirds of one fused qkv product,
     * H hd when dense; head h = dims [h hd, h hd + hd)) -> att [B*T, H*hd], heads concatenated:
     * softmax(q k^T / sqrt(hd)) v over all T keys. dense: scratch [3, B*T, H*hd] used when
     * ld != H hd; scores: attention_scratch() floats. */
    sc_status (*attention)(be_ctx *c, const float *q, const float *k, const float *v, int64_t ld, float *att,
                           float *dense, float *scores, int B, int T, int H, int hd);
    /* The same with dense rows (ld = H hd) and what a text encoder adds to the scores:
     * softmax(scale q k^T + bias[h, i, j] + key_mask[b, j]) v, where bias [H, T, T] (may be NULL)
     * is shared by the batch and key_mask [B, T] (may be NULL) is 0 for keys and a large
     * negative number for padding. scores: attention_scratch() floats. */
    sc_status (*attention_biased)(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                  float *scores, int B, int T, int H, int hd, float scale, const float *bias,
                                  const float *key_mask);
    /* Cross-attention (PixArt's queries over the text tokens): q [B*Tq, H*hd], k, v [B*Tk, H*hd]
     * dense -> att [B*Tq, H*hd] = softmax(q k^T / sqrt(hd) + key_bias[b, j]) v; key_bias [B, Tk]
     * (0 for a token, -10000 for padding as diffusers adds it) may be NULL; scores:
     * attention_cross_scratch() floats. */
    size_t (*attention_cross_scratch)(int B, int Tq, int Tk, int H);
    sc_status (*attention_cross)(be_ctx *c, const float *q, const float *k, const float *v, float *att, float *scores,
                                 int B, int Tq, int Tk, int H, int hd, const float *key_bias);

    /* ---- convolutions on NHWC activations ([n, h, w, c], channels last) ---- */
    /* A k x k convolution, stride 1, `pad` zeros on every side, cin -> cout; w [cout, cin, k, k]
     * (PyTorch's OIHW), bias [cout] or NULL, both copied. algorithm: BE_CONV_*. */
    sc_status (*conv_create)(be_ctx *c, int cin, int cout, int k, int pad, const float *w, const float *bias,
                             int algorithm, be_conv **out);
    void (*conv_free)(be_conv *L);
    /* dst [n, ho, wo, cout] = conv(src [n, h, w, cin]) + bias (+ dst with BE_CONV_ACCUMULATE). */
    sc_status (*conv)(be_ctx *c, be_conv *L, int n, int h, int w, const float *src, float *dst, int mode);

    /* ---- normalisation, modulation, residual adds ---- */
    /* z[b,t,:] = LN(h[b,t,:]; eps) * (1 + scale[b,:]) + shift[b,:]; h, z [B*T, D]; shift and
     * scale point into row b at b * mod_stride. */
    void (*ln_modulate)(float *z, const float *h, int B, int T, int D, float eps, const float *shift,
                        const float *scale, int mod_stride);
    /* h[b,t,:] += gate[b,:] * sub[b,t,:]; h, sub [B*T, D]. */
    void (*gated_add)(float *h, const float *sub, int B, int T, int D, const float *gate, int mod_stride);
    /* y [P, C] = GroupNorm(x [P, C]) over G groups (statistics over all P pixels, biased variance)
     * * gamma [C] + beta [C], then SiLU when silu != 0; stats: scratch of 3C doubles; y may be x. */
    void (*group_norm)(float *y, const float *x, long P, int C, int G, float eps, const float *gamma,
                       const float *beta, int silu, double *stats);
    /* y [rows, D] = w [D] * x / sqrt(mean(x^2) + eps) per row (T5's RMS norm: no mean, no bias);
     * y may be x. */
    void (*rms_norm)(float *y, const float *x, long rows, int D, float eps, const float *w);

    /* ---- element-wise and layout ---- */
    void (*add)(float *y, const float *x, size_t n);                  /* y += x */
    void (*sub)(float *y, const float *a, const float *b, size_t n);  /* y = a - b */
    void (*copy)(float *y, const float *x, size_t n);
    /* y = bf16(x) rounded to nearest even; x = float(y) exactly (stored outputs kept in bf16). */
    void (*to_bf16)(uint16_t *y, const float *x, size_t n);
    void (*from_bf16)(float *x, const uint16_t *y, size_t n);
    void (*silu)(float *y, const float *x, size_t n);                 /* y = x sigmoid(x) */
    void (*mul)(float *y, const float *x, size_t n);                  /* y *= x */
    /* y [M, I] = a * silu(g) where x [M, 2I] = [a | g] per row (SwiGLU's gate, diffusers' order). */
    void (*swiglu)(float *y, const float *x, int64_t M, int I);
    /* Rotary embedding in place on the first `rot` dims of every head ("rotate half" pairing: dim i
     * with dim i + rot/2): x [B*T, ...] rows of stride ld, H heads of hd dims from column 0; row
     * b*T + t is position t; cs [T, rot/2] cosines, sn [T, rot/2] sines. */
    void (*rope)(float *x, int B, int T, int64_t ld, int H, int hd, int rot, const float *cs, const float *sn);
    /* Snake on [rows, C]: y = x + ib[c] sin(a[c] x)^2 (Oobleck's, with a = exp(alpha), ib =
     * 1 / (exp(beta) + 1e-9) given). y may be x. */
    void (*snake)(float *y, const float *x, int64_t rows, int C, const float *a, const float *ib);
    /* 1-D im2col for a convolution of kernel k, dilation d, `pad` zeros each side, stride 1:
     * col [n, C k] rows t0..t0+n-1 of the output, col[t][c k + j] = x[t + j d - pad][c] (0 outside
     * 0..L-1); x [L, C]. */
    void (*im2col1d)(float *col, const float *x, int64_t L, int C, int k, int d, int pad, int64_t t0, int64_t n);
    /* 1-D col2im of a transposed convolution of kernel k, stride s, padding p: y [Lo, C] +=
     * z[i][c k + j] at output position i s + j - p (when inside 0..Lo-1), for input rows i0..i0+n-1
     * (z [n, C k]). */
    void (*col2im1d_add)(float *y, int64_t Lo, const float *z, int C, int k, int s, int p, int64_t i0, int64_t n);
    /* y [n, D] = table[ids[i], :] (an embedding lookup). */
    void (*gather_rows)(float *y, const float *table, const int32_t *ids, long n, int D);
    /* y[b,:] += table[ids[b],:]; y [B, D] (an embedding lookup added to a row). */
    void (*add_rows)(float *y, const float *table, const int *ids, int B, int D);
    /* h [B*T, D] += pos [T, D]. */
    void (*add_pos)(float *h, const float *pos, int B, int T, int D);
    /* out [B, 256] = [cos(t f_k) | sin(t f_k)], f_k = exp(-ln(1e4) k / div), float32 like torch. */
    void (*timestep_features)(float *out, const float *t, int B, int div);
    /* x [B, C, H, W] -> patches [B*T, C*p*p] in (c, u, v) order, the conv weight [D, C, p, p]'s;
     * token t = i (W/p) + j is the patch at rows [i p, i p + p), columns [j p, j p + p). */
    void (*patchify)(float *patches, const float *x, int B, int C, int H, int W, int p);
    /* o [B*T, p*p*Co], o[t=(i,j)][(u*p+v)*Co + c] -> out [B, Co, H, W]. */
    void (*unpatchify)(float *out, const float *o, int B, int Co, int H, int W, int p);
    /* dst [HW, C] = src [C, HW] / div + add; dst [C, HW] = src [HW, C]. */
    void (*planes_to_pixels)(float *dst, const float *src, int C, long HW, float div, float add);
    void (*pixels_to_planes)(float *dst, const float *src, int C, long HW);
    /* dst [2s, 2s, c] from a folded upsampling conv's src [s+1, s+1, 4c]:
     * dst[2i+a][2j+b][:] = src[i+a][j+b][(2a+b) c, (2a+b+1) c). */
    void (*upsample_shuffle)(float *dst, const float *src, int s, int c);
    /* Classifier-free guidance e = u + s (c - u), n floats. */
    void (*cfg_combine)(float *e, const float *cond, const float *uncond, float s, size_t n);

    /* ---- reductions (deterministic: the same bits for any thread count) ---- */
    /* sum|a - b| and sum|b| over n floats. */
    void (*l1_diff)(const float *a, const float *b, size_t n, double *diff, double *ref);
    /* The same for a = h - h0 rounded once, never stored: sum|(h - h0) - b|, sum|b|. */
    void (*l1_diff_residual)(const float *h, const float *h0, const float *b, size_t n, double *diff, double *ref);
    /* norms[r] = ||h[r,:] - h0[r,:]||_2 (the difference rounded to float, squares summed in
     * double) for rows r < rows of D floats. */
    void (*residual_norms)(const float *h, const float *h0, size_t rows, int D, double *norms);

    /* ---- prediction from past outputs (cache policies) ---- */
    /* Divided differences, in place: with v = out, for j < top: old = d[j]; d[j] = v;
     * v = (v - old) / delta; then d[top] = v. top = 0 copies out into d[0]. */
    void (*taylor_update)(float *const *d, int top, const float *out, float delta, size_t n);
    /* out = sum_{i < have} d[i] coef[i], summed in index order. */
    void (*taylor_eval)(float *out, const float *const *d, const float *coef, int have, size_t n);
    /* out = sum_{i < have} w[i] src[i] (have <= 4), one pass. */
    void (*lagrange_eval)(float *out, const float *const *src, const float *w, int have, size_t n);
    /* e = a1 + (a1 - a2) w, written to out and over a2. */
    void (*extrapolate)(float *out, const float *a1, float *a2, float w, size_t n);

    /* ---- Fourier transforms of output planes (double, interleaved re/im) ---- */
    size_t (*dft_work)(int H, int W); /* doubles of `work` scratch */
    /* X [H][W][2] = DFT(x [H][W]); x = Re iDFT(X). */
    void (*dft2)(const float *x, int H, int W, double *X, double *work);
    void (*idft2)(const double *X, int H, int W, float *x, double *work);
    /* Two real planes for one complex transform each way. */
    void (*dft2_pair)(const float *a, const float *b, int H, int W, double *A, double *B, double *work);
    void (*idft2_pair)(const double *A, const double *B, int H, int W, float *a, float *b, double *work);
    /* Splits d = a - b of n complex values by mask [n] (1 = low): low = mask ? d : 0, high = the rest. */
    void (*spectrum_split)(double *low, double *high, const double *a, const double *b, const unsigned char *mask,
                           size_t n);
    /* low *= wl, high *= wh (in place), then x += low + high; n complex values. */
    void (*spectrum_blend)(double *x, double *low, double *high, double wl, double wh, size_t n);
} backend;

/* The CPU backends (src/backend/cpu/). */
const backend *backend_cpu_f32(void);
const backend *backend_cpu_bf16(void);
const backend *backend_cpu_int8(void);
/* The CPU backend computing in `dtype` (SC_DTYPE_F32, _BF16 or _INT8; not AUTO). */
const backend *backend_cpu(sc_dtype dtype);
/* 1 when this CPU has fast kernels for `dtype` (oneDNN's bf16 / int8 matrix products), found by
 * packing a small matrix once. */
int backend_cpu_has(sc_dtype dtype);

#endif
