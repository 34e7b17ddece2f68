/* k-diffusion's sample_euler without churn on Karras sigmas (ksigma.c), for a model that predicts
 * the noise: denoised = x + eps (-sigma), d = (x - denoised) / sigma, x += d (sigma_next - sigma),
 * in float32 in torch's order. */
#include "sample/sampler.h"

enum { C_SIGMA, C_NEG_SIGMA, C_DT };

sc_status keuler_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    float sigmas[SCHED_MAX_TRAIN + 1];
    sc_status s = ksigma_plan(p, sc, steps, sigmas);
    if (s) return s;
    for (int k = 0; k < steps; k++) {
        p->coef[k][C_SIGMA] = sigmas[k];
        p->coef[k][C_NEG_SIGMA] = -sigmas[k];
        p->coef[k][C_DT] = sigmas[k + 1] - sigmas[k];
    }
    return SC_OK;
}

void keuler_step(const sampler_plan *p, int k, float *x, const float *eps)
{
    const float sigma = p->coef[k][C_SIGMA], neg = p->coef[k][C_NEG_SIGMA], dt = p->coef[k][C_DT];
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        const float denoised = x[i] + eps[i] * neg;
        const float d = (x[i] - denoised) / sigma;
        x[i] = x[i] + d * dt;
    }
}
