/* Two-dimensional discrete Fourier transforms of small planes (latents: 32x32 for DiT-XL/2 at
 * 256 px), separable, in double precision, any size: radix-2 FFTs along power-of-two sides
 * (O(H W log(H W)) per plane), plain DFTs along other sides (O(H W (H + W))). Complex values are interleaved (re, im).
 * `work` is caller scratch of dft_work_doubles(H, W) doubles. */
#ifndef SC_BACKEND_CPU_DFT_H
#define SC_BACKEND_CPU_DFT_H

#include <stddef.h>

size_t dft_work_doubles(int H, int W);
/* out [H][W][2] = sum_{y,x} in[y][x] e^{-2 pi i (u y / H + v x / W)}. */
void dft2_real(const float *in, int H, int W, double *out, double *work);
/* out [H][W] = Re( (1 / (H W)) sum_{u,v} in[u][v] e^{+2 pi i (u y / H + v x / W)} ). */
void idft2_real(const double *in, int H, int W, float *out, double *work);

/* Two real planes for the price of one complex transform.
 * dft2_real_pair: A = DFT(a), B = DFT(b) ([H][W][2] each), from Z = DFT(a + i b) by
 *   A(k) = (Z(k) + conj Z(-k)) / 2, B(k) = (Z(k) - conj Z(-k)) / 2i.
 * idft2_real_pair: a = Re iDFT(A), b = Re iDFT(B) when A and B are spectra of real planes
 *   (Hermitian: X(-k) = conj X(k)), as the real and imaginary parts of iDFT(A + i B); any
 *   non-Hermitian part (rounding) leaks between the two at that size.
 * `work` holds dft_work_doubles(H, W) doubles, as for the single transforms. */
void dft2_real_pair(const float *a, const float *b, int H, int W, double *A, double *B, double *work);
void idft2_real_pair(const double *A, const double *B, int H, int W, float *a, float *b, double *work);

/* d = a - b over n complex values, split by mask [n] (1 = low): low = mask ? d : 0, high the
 * rest. low may be a (in place). */
void dft_spectrum_split(double *low, double *high, const double *a, const double *b, const unsigned char *mask,
                        size_t n);
/* low *= wl, high *= wh in place, then x += low + high (n complex values). */
void dft_spectrum_blend(double *x, double *low, double *high, double wl, double wh, size_t n);

#endif
