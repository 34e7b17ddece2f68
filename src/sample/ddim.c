/* diffusers DDIMScheduler, eta = 0, epsilon prediction, float32 arithmetic in torch's order:
 *   x0 = (x - sqrt(1 - a_t) * eps) / sqrt(a_t), clamped to [-r, r] with clip_sample;
 *   x = sqrt(a_prev) * x0 + sqrt(1 - a_prev) * eps,
 * a_prev = alphas_cumprod[t - N/steps], or 1 (set_alpha_to_one) / alphas_cumprod[0] below 0. */
#include <math.h>

#include "sample/sampler.h"

enum { C_SQRT_BETA, C_SQRT_ALPHA, C_SQRT_ALPHA_PREV, C_SQRT_BETA_PREV, C_CLIP };

sc_status ddim_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    float acp[SCHED_MAX_TRAIN];
    sched_alphas_cumprod_f32(sc, acp);
    sc_status s = diffusers_timesteps(sc, steps, sc->spacing, 0, p->timesteps);
    if (s) return s;
    const int ratio = sc->num_train / steps;
    const float final_acp = sc->set_alpha_to_one ? 1.0f : acp[0];
    for (int k = 0; k < steps; k++) {
        int t = p->timesteps[k], prev = t - ratio;
        float a = acp[t], a_prev = prev >= 0 ? acp[prev] : final_acp;
        p->coef[k][C_SQRT_BETA] = sqrtf(1.0f - a);
        p->coef[k][C_SQRT_ALPHA] = sqrtf(a);
        p->coef[k][C_SQRT_ALPHA_PREV] = sqrtf(a_prev);
        p->coef[k][C_SQRT_BETA_PREV] = sqrtf(1.0f - a_prev - 0.0f);
        p->coef[k][C_CLIP] = (float)sc->clip_sample;
    }
    return SC_OK;
}

void ddim_step(const sampler_plan *p, int k, float *x, const float *eps)
{
    const float *c = p->coef[k];
    const float sb = c[C_SQRT_BETA], sa = c[C_SQRT_ALPHA], sap = c[C_SQRT_ALPHA_PREV], sbp = c[C_SQRT_BETA_PREV];
    const float clip = c[C_CLIP];
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        float be = sb * eps[i];
        float x0 = (x[i] - be) / sa;
        if (clip > 0.0f) x0 = x0 < -clip ? -clip : x0 > clip ? clip : x0;
        float a = sap * x0;
        float d = sbp * eps[i];
        x[i] = a + d;
    }
}
