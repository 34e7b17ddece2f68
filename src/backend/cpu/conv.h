/* 2-D convolutions through oneDNN, the one place that talks to the library about them (as
 * core/matmul.h does for matrix products).
 *
 * Activations are NHWC ([n, h, w, c], channels last): on this machine oneDNN's brgemm
 * convolution runs at ~95% of one core's FP32 peak on NHWC for every VAE shape, while its
 * blocked nChw16c kernel drops to ~35% at 128x128 and beyond, and the `any` layout it picks by
 * itself is 2-5x slower than NHWC (measured with oneDNN 2.6.3; see conv.c). NHWC also makes a
 * pixel's channels one contiguous vector, which the VAE's GroupNorm, attention and upsampling
 * kernels want.
 *
 * A layer's weights are reordered once, when the layer is created, into the blocked layout the
 * convolution kernel reads. Primitives are created on the first use of a shape and cached in
 * the context. A context and its layers are used by one thread at a time.
 *
 *     conv_ctx *c; conv_layer *L;
 *     conv_create(&c);
 *     conv_layer_create(c, 512, 512, 3, 1, w_oihw, bias, CONV_DIRECT, &L);  // w [512, 512, 3, 3]
 *     conv_exec(c, L, 1, 64, 64, x, y, CONV_OVERWRITE);  // x [1, 64, 64, 512] -> y [1, 64, 64, 512]
 *     conv_layer_free(L); conv_destroy(c);
 */
#ifndef SC_BACKEND_CPU_CONV_H
#define SC_BACKEND_CPU_CONV_H

#include <stddef.h>

#include "backend/backend.h"
#include "smoothcache.h"

typedef struct conv_ctx conv_ctx;
/* A layer is the backend's be_conv (backend/backend.h). */
typedef be_conv conv_layer;

enum {
    CONV_OVERWRITE = 0,  /* dst = conv(src) + bias */
    CONV_ACCUMULATE = 1  /* dst = conv(src) + bias + dst (a residual add, fused) */
};

sc_status conv_create(conv_ctx **out);
void conv_destroy(conv_ctx *c);

enum {
    CONV_DIRECT = 0,
    /* Winograd F(4x4, 3x3) where oneDNN has it (3x3, pad 1, channel counts multiples of 16,
     * AVX-512), else direct: 1.5-2x faster, as exact as direct, but its pre-transformed weights
     * take 4x the memory (plus a plain copy) and it converts src/dst to a blocked layout in
     * buffers the context keeps (conv.c). Worth it where the image is large for the weights. */
    CONV_WINOGRAD = 1
};

/* A k x k convolution, stride 1, `pad` zero rows/columns on every side, cin -> cout channels.
 * w [cout, cin, k, k] is PyTorch's OIHW layout; bias [cout] or NULL. Both are copied, so the
 * caller's buffers may be released afterwards. algorithm: CONV_DIRECT or CONV_WINOGRAD.
 * bf16: weights kept in bf16 and each execution's src rounded to bf16 (nearest even), float32
 * accumulation, bias and output; always direct. */
sc_status conv_layer_create(conv_ctx *c, int cin, int cout, int k, int pad, const float *w,
                            const float *bias, int algorithm, int bf16, conv_layer **out);
void conv_layer_free(conv_layer *L);

/* Winograd layers run on horizontal strips of at most `elems` pixels x (cin + cout) channels,
 * which bounds the context's blocked buffers and the kernel's scratchpad (about 4 and 9 bytes
 * per element); smaller strips are slower (conv.c). 0 restores the default, 16M. */
void conv_set_strip_elems(conv_ctx *c, size_t elems);

/* dst [n, ho, wo, cout] = conv(src [n, h, w, cin]) + bias (+ dst with CONV_ACCUMULATE), where
 * ho = h + 2 pad - k + 1 and wo = w + 2 pad - k + 1. src and dst must not overlap. */
sc_status conv_exec(conv_ctx *c, conv_layer *L, int n, int h, int w, const float *src, float *dst,
                    int mode);

#endif
