/* Continuous sigmas over a discrete schedule, as k-diffusion computes them in float32 for a model
 * trained on discrete timesteps (external.DiscreteEpsDDPMDenoiser, sampling.get_sigmas_karras):
 *   sigma_t = sqrt((1 - abar_t) / abar_t), t = 0..N-1 (ascending);
 *   Karras: s_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho, rho = 7, then 0;
 *   the model at sigma: input x / sqrt(sigma^2 + 1), time t(sigma) interpolated linearly in
 *   log sigma between the two timesteps around it (clamped to the table). */
#include <math.h>

#include "core/error.h"
#include "sample/sampler.h"

#define KARRAS_RHO 7.0f

/* torch.linspace(0, 1, n) in float32: each half an fma from its own end (as schedule.c). */
static float ramp(int i, int n)
{
    if (n == 1) return 0.0f;
    const float step = 1.0f / (float)(n - 1);
    return i < n / 2 ? fmaf(step, (float)i, 0.0f) : fmaf(-step, (float)(n - 1 - i), 1.0f);
}

/* k-diffusion's sigma_to_t (not quantized). */
static float sigma_to_t(const float *log_sigmas, int N, float sigma)
{
    const float ls = logf(sigma);
    int low = 0;
    for (int t = 0; t < N; t++)
        if (ls - log_sigmas[t] >= 0) low = t; /* the last table entry at or below (ascending table) */
    if (low > N - 2) low = N - 2;
    const float lo = log_sigmas[low], hi = log_sigmas[low + 1];
    float w = (lo - ls) / (lo - hi);
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1.0f - w) * (float)low + w * (float)(low + 1);
}

sc_status ksigma_plan(sampler_plan *p, const sched_config *sc, int steps, float *sigmas)
{
    const int N = sc->num_train;
    float acp[SCHED_MAX_TRAIN], sig[SCHED_MAX_TRAIN], log_sig[SCHED_MAX_TRAIN];
    sched_alphas_cumprod_f32(sc, acp);
    for (int t = 0; t < N; t++) {
        sig[t] = sqrtf((1.0f - acp[t]) / acp[t]);
        log_sig[t] = logf(sig[t]);
    }
    if (!(sig[0] > 0) || !(sig[N - 1] > sig[0]))
        return err_fail(SC_ERR_ARG, "this schedule's noise levels do not rise from timestep 0 to %d", N - 1);
    const float min_inv = powf(sig[0], 1.0f / KARRAS_RHO), max_inv = powf(sig[N - 1], 1.0f / KARRAS_RHO);
    for (int i = 0; i < steps; i++) sigmas[i] = powf(max_inv + ramp(i, steps) * (min_inv - max_inv), KARRAS_RHO);
    sigmas[steps] = 0.0f;
    for (int k = 0; k < steps; k++) {
        p->model_t[k] = sigma_to_t(log_sig, N, sigmas[k]);
        p->timesteps[k] = (int)np_round(p->model_t[k]);
        p->c_in[k] = 1.0f / sqrtf(sigmas[k] * sigmas[k] + 1.0f);
    }
    p->scales_input = 1;
    p->own_time = 1;
    p->init_sigma = sigmas[0];
    return SC_OK;
}
