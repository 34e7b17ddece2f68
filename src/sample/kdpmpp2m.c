/* k-diffusion's sample_dpmpp_2m (DPM-Solver++(2M)) on Karras sigmas (ksigma.c), for a model that
 * predicts the noise, float32 scalars as torch computes them: with t = -log sigma,
 * h = t_next - t, denoised = x + eps (-sigma):
 *   first step, or the last (sigma_next = 0): x = (sigma_next / sigma) x - expm1(-h) denoised;
 *   otherwise, r = h_prev / h: x = (sigma_next / sigma) x - expm1(-h) ((1 + 1/2r) denoised -
 *   (1/2r) denoised_prev). */
#include <math.h>

#include "sample/sampler.h"

enum { C_NEG_SIGMA, C_RATIO, C_EM1, C_A, C_B, C_SECOND };

sc_status kdpmpp2m_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    float sigmas[SCHED_MAX_TRAIN + 1];
    sc_status s = ksigma_plan(p, sc, steps, sigmas);
    if (s) return s;
    for (int k = 0; k < steps; k++) {
        const float t = -logf(sigmas[k]), t_next = -logf(sigmas[k + 1]); /* +inf at sigma 0 */
        const float h = t_next - t;
        float *c = p->coef[k];
        c[C_NEG_SIGMA] = -sigmas[k];
        c[C_RATIO] = expf(-t_next) / expf(-t);
        c[C_EM1] = expm1f(-h);
        const int second = k > 0 && sigmas[k + 1] != 0.0f;
        c[C_SECOND] = second ? 1.0f : 0.0f;
        if (second) {
            const float h_last = t - -logf(sigmas[k - 1]), r = h_last / h;
            c[C_A] = 1.0f + 1.0f / (2.0f * r);
            c[C_B] = 1.0f / (2.0f * r);
        }
    }
    return SC_OK;
}

void kdpmpp2m_step(sampler_plan *p, int k, float *x, const float *eps)
{
    const float *c = p->coef[k];
    const float neg = c[C_NEG_SIGMA], ratio = c[C_RATIO], em1 = c[C_EM1], a = c[C_A], b = c[C_B];
    const int second = c[C_SECOND] != 0.0f;
    float *prev = p->prev;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        const float denoised = x[i] + eps[i] * neg;
        const float d = second ? a * denoised - b * prev[i] : denoised;
        x[i] = ratio * x[i] - em1 * d;
        prev[i] = denoised;
    }
}
