/* Turning decoded samples into 8-bit pictures: the float -> uint8 mapping of diffusers, and grids
 * of several images for a single PNG. */
#ifndef SC_IO_IMAGE_H
#define SC_IO_IMAGE_H

#include <stdint.h>

#include "smoothcache.h"

/* Background of the gaps between grid cells and of the empty cells of a last row (mid grey, so
 * that neither dark nor bright samples blend into it). */
#define IMAGE_GRID_BG 128

/* chw ([C][H][W] floats in [-1, 1], the VAE's output) -> rgb_hwc ([H][W][3] bytes), bit for bit
 * like diffusers' `(x / 2 + 0.5).clamp(0, 1)` then numpy_to_pil's `(x * 255).round()`:
 * round half to even, out-of-range values clamped (so +-Inf give 255 / 0), NaN gives 0.
 * C is 3 (RGB) or 1 (grey: the one channel is copied to R, G and B); other C abort. */
void image_from_float(uint8_t *rgb_hwc, const float *chw, int C, int H, int W);

/* Tiles n images (imgs: n x [H][W][3]) left to right, top to bottom, `cols` per row (<= 0:
 * ceil(sqrt(n)); more than n: n), with `pad` >= 0 pixels of IMAGE_GRID_BG between cells (none
 * around the outside). *out ([*out_h][*out_w][3]) is allocated here; free it with mem_free.
 * Fails with SC_ERR_ARG for n, H, W < 1, pad < 0 or a grid wider or taller than an int,
 * SC_ERR_NOMEM when it cannot be allocated. */
sc_status image_grid(uint8_t **out, int *out_w, int *out_h, const uint8_t *imgs, int n, int H, int W,
                     int cols, int pad);

#endif
