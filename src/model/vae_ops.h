/* Element-wise and layout kernels of the VAE decoder, on one image in NHWC ([h, w, c], a pixel's
 * channels contiguous). OpenMP over pixels or rows. */
#ifndef SC_MODEL_VAE_OPS_H
#define SC_MODEL_VAE_OPS_H

#include <stddef.h>

/* y [P, C] = GroupNorm(x [P, C]) over G groups of C/G channels (statistics over all P pixels,
 * biased variance, eps), times gamma [C] plus beta [C]; then SiLU when silu != 0. stats is
 * scratch of 3C doubles. y may equal x. */
void vae_group_norm(float *y, const float *x, long P, int C, int G, float eps, const float *gamma,
                    const float *beta, int silu, double *stats);

/* dst [HW, C] = src [C, HW] / div + add (latent planes to NHWC, in float32 as torch divides). */
void vae_planes_to_pixels(float *dst, const float *src, int C, long HW, float div, float add);

/* dst [C, HW] = src [HW, C] (NHWC image to planes). */
void vae_pixels_to_planes(float *dst, const float *src, int C, long HW);

/* Nearest x2 upsampling followed by a 3x3 conv (pad 1) equals, per output phase (a, b) in
 * {0,1}^2, a 2x2 conv of the low-resolution image: output row 2i+a reads upsampled rows
 * 2i+a-1..2i+a+1, which are input rows {i-1, i, i} (a = 0) or {i, i, i+1} (a = 1). Folding the
 * taps that read the same input row gives 4/9 of the multiply-adds.
 * w2 [4 co, ci, 2, 2] (phase p = 2a + b major) from w3 [co, ci, 3, 3]; summed in double.
 * Run as one 2x2 conv with padding 1, phase (a, b) of output pixel (i, j) is conv output
 * (i + a, j + b), channels [p co, p co + co). */
void vae_upsample_weights(float *w2, const float *w3, int co, int ci);

/* dst [2s, 2s, c] from the folded conv's output src [s+1, s+1, 4c]:
 * dst[2i+a][2j+b][:] = src[i+a][j+b][(2a+b) c : (2a+b+1) c]. */
void vae_upsample_shuffle(float *dst, const float *src, int s, int c);

/* Each row of s [rows, T] becomes softmax(scale * row), in place. */
void vae_softmax_rows(float *s, long rows, int T, float scale);

#endif
