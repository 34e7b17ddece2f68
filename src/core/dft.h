/* Two-dimensional discrete Fourier transforms of small planes (latents: 32x32 for DiT-XL/2 at
 * 256 px), separable, in double precision, any size: radix-2 FFTs along power-of-two sides
 * (O(H W log(H W)) per plane), plain DFTs along other sides (O(H W (H + W))). Complex values are interleaved (re, im).
 * `work` is caller scratch of dft_work_doubles(H, W) doubles. */
#ifndef SC_CORE_DFT_H
#define SC_CORE_DFT_H

#include <stddef.h>

size_t dft_work_doubles(int H, int W);
/* out [H][W][2] = sum_{y,x} in[y][x] e^{-2 pi i (u y / H + v x / W)}. */
void dft2_real(const float *in, int H, int W, double *out, double *work);
/* out [H][W] = Re( (1 / (H W)) sum_{u,v} in[u][v] e^{+2 pi i (u y / H + v x / W)} ). */
void idft2_real(const double *in, int H, int W, float *out, double *work);

#endif
