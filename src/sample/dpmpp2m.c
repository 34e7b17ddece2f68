/* diffusers DPMSolverMultistepScheduler (dpmsolver++, solver_order 2, midpoint, lower_order_final,
 * final_sigmas_type "zero"), float32 scalars as torch computes them:
 *   sigma_k = sqrt((1 - abar)/abar) at t_k (0 after the last step), alpha = 1/sqrt(sigma^2+1),
 *   sigma_t = sigma * alpha, lambda = log alpha - log sigma_t, h = lambda_next - lambda;
 *   x0 = (x - sigma_t eps) / alpha;
 *   first order:  x = (s_next/s) x - alpha_next (e^-h - 1) x0;
 *   second order: x = (s_next/s) x - alpha_next (e^-h - 1) D0 - 0.5 alpha_next (e^-h - 1) D1,
 *                 D0 = x0, D1 = (1/r0)(x0 - x0_prev), r0 = h_prev / h. */
#include <math.h>
#include <string.h>

#include "sample/sampler.h"

enum { C_SIGMA_T, C_ALPHA, C_RATIO, C_PHI, C_HALF_PHI, C_INV_R0, C_ORDER };

static void alpha_sigma(float sigma, float *alpha, float *sigma_t)
{
    *alpha = 1.0f / sqrtf(sigma * sigma + 1.0f);
    *sigma_t = sigma * *alpha;
}

sc_status dpmpp2m_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    float acp[SCHED_MAX_TRAIN];
    sched_alphas_cumprod_f32(sc, acp);
    timestep_spacing sp = sc->spacing_given ? sc->spacing : SPACING_LINSPACE;
    sc_status s = diffusers_timesteps(sc, steps, sp, 1, p->timesteps);
    if (s) return s;
    float sig[SCHED_MAX_TRAIN + 1], lam[SCHED_MAX_TRAIN + 1], al[SCHED_MAX_TRAIN + 1], st[SCHED_MAX_TRAIN + 1];
    for (int k = 0; k < steps; k++) {
        float a = acp[p->timesteps[k]];
        sig[k] = sqrtf((1.0f - a) / a);
    }
    sig[steps] = 0.0f;
    for (int k = 0; k <= steps; k++) {
        alpha_sigma(sig[k], &al[k], &st[k]);
        lam[k] = logf(al[k]) - logf(st[k]);
    }
    for (int k = 0; k < steps; k++) {
        float h = lam[k + 1] - lam[k];
        float phi = al[k + 1] * (expf(-h) - 1.0f);
        float *c = p->coef[k];
        c[C_SIGMA_T] = st[k];
        c[C_ALPHA] = al[k];
        c[C_RATIO] = st[k + 1] / st[k];
        c[C_PHI] = phi;
        c[C_HALF_PHI] = 0.5f * phi;
        int second = k > 0 && k < steps - 1;
        c[C_ORDER] = second ? 2.0f : 1.0f;
        c[C_INV_R0] = second ? 1.0f / ((lam[k] - lam[k - 1]) / h) : 0.0f;
    }
    return SC_OK;
}

void dpmpp2m_step(sampler_plan *p, int k, float *x, const float *eps)
{
    const float *c = p->coef[k];
    const float sigma_t = c[C_SIGMA_T], alpha = c[C_ALPHA], ratio = c[C_RATIO], phi = c[C_PHI];
    const float half_phi = c[C_HALF_PHI], inv_r0 = c[C_INV_R0];
    const int second = c[C_ORDER] == 2.0f;
    float *prev = p->prev;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        float se = sigma_t * eps[i];
        float x0 = (x[i] - se) / alpha;
        float a = ratio * x[i];
        float b = phi * x0;
        float out = a - b;
        if (second) {
            float d1 = inv_r0 * (x0 - prev[i]);
            out = out - half_phi * d1;
        }
        prev[i] = x0;
        x[i] = out;
    }
}
