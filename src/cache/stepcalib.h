/* Calibration observers of the step-level policies, for `smoothcache calibrate --for teacache`
 * and `--for magcache`: a policy that computes everything and records, over uncached
 * generations run with generate_observed() (sample/generate.h),
 *
 *   teacache: per sample and evaluation 1 <= n < steps - 1 (the last one always computes, so
 *             its pair never meets a decision), x = relL1(m_n, m_{n-1}) of block 0's modulated
 *             input and y = relL1(o_n, o_{n-1}) of the model output (all output channels), a
 *             sample being an image's conditional and unconditional rows together; saved with
 *             the degree-4 least-squares fit (polyfit.h) as
 *             {"_meta": {...}, "coef": [c0..c4] (x^4 first, teacache's coef= order), "x": [...], "y": [...]}
 *   magcache: gamma_n = mean over the tokens of every row of ||R_n||_2 / (||R_{n-1}||_2 + 1e-8),
 *             R = hL - h0 the stack residual (gamma_0 = 1; the 1e-8 is diffusers' calibration
 *             guard), averaged over generations; saved as {"_meta": {...}, "ratios": [gamma_0..]}
 *
 *   stepcalib *c;  stepcalib_new(STEPCALIB_MAGCACHE, &c);
 *   generate_observed(m, &p, &cache_stepcalib, c, latents);   // once per sample (batch)
 *   stepcalib_save(c, "ratios.json", meta, force);  stepcalib_free(c); */
#ifndef SC_CACHE_STEPCALIB_H
#define SC_CACHE_STEPCALIB_H

#include <jansson.h>

#include "cache/policy.h"

typedef enum { STEPCALIB_TEACACHE = 0, STEPCALIB_MAGCACHE = 1 } stepcalib_kind;

typedef struct stepcalib stepcalib;

extern const cache_policy_ops cache_stepcalib;

sc_status stepcalib_new(stepcalib_kind kind, stepcalib **out);
void stepcalib_free(stepcalib *c);
/* Images observed so far. */
int stepcalib_samples(const stepcalib *c);
/* Writes the JSON above; `meta` (may be NULL) is copied and extended with sampler, steps,
 * samples and what the numbers are. Fails when nothing was observed or the fit is impossible. */
sc_status stepcalib_save(const stepcalib *c, const char *path, const json_t *meta, int force);
/* teacache: 1 when the fitted polynomial is negative somewhere between the smallest and the
 * largest observed x (*x_at: the first such x), a fit the policy would accumulate as negative
 * change; 0 otherwise and for magcache. */
int stepcalib_fit_negative(const stepcalib *c, double *x_at);
/* teacache: y against x with the fitted polynomial; magcache: gamma_n against n. */
sc_status stepcalib_plot(const stepcalib *c, const char *path, int force);

#endif
