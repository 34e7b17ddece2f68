/* Quality of a cached generation against the uncached one: PSNR and SSIM of 8-bit images, and the
 * relative L2 distance of latents. */
#ifndef SC_METRICS_QUALITY_H
#define SC_METRICS_QUALITY_H

#include <stddef.h>
#include <stdint.h>

/* 10 log10(255^2 / MSE) over n bytes; +inf when identical. */
double metric_psnr(const uint8_t *a, const uint8_t *b, size_t n);

/* Mean SSIM (Wang et al. 2004) of two images [h][w][ch]: 11x11 Gaussian window, sigma 1.5,
 * K1 = 0.01, K2 = 0.03, L = 255, population covariances, over the positions where the window
 * fits (as scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255) after its border crop), averaged over channels.
 * Images smaller than 11x11 use the largest odd window that fits. */
double metric_ssim(const uint8_t *a, const uint8_t *b, int w, int h, int ch);

/* ||a - b||_2 / ||b||_2 (0 when both are zero). */
double metric_rel_l2(const float *a, const float *b, size_t n);

#endif
