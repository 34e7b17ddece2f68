/* diffusers' CosineDPMSolverMultistepScheduler: DPM-Solver++(2M) SDE ("sde-dpmsolver++", midpoint
 * or heun, lower-order first and last steps) on a sigma schedule, for a v-prediction model with
 * EDM's preconditioning: what diffusers' StableAudioPipeline samples Stable Audio Open with.
 * float32 scalars as torch computes them (0-dim tensors), in the order diffusers writes them.
 *
 * set_timesteps(n): sigma_i = exp(linspace(log smin, log smax, n))[n - 1 - i] (float32; n = 1
 * gives smin alone), then sigma_n = 0 (final_sigmas_type zero). The model's time input is
 * precondition_noise(sigma) = atan(sigma) / pi * 2, what the Stable Audio transformer takes; the
 * initial latents are unit noise times init_noise_sigma = sqrt(smax^2 + 1) (a float64 product,
 * whatever sigma_data is); scale_model_input multiplies by c_in = 1 / sqrt(sigma^2 + sd^2).
 *
 * Step i (sigma s = sigma_i, sigma t = sigma_{i+1}, lambda = -log sigma, h = lambda_t - lambda_s):
 *   denoised = c_skip x + c_out v, c_skip = 1 / (s^2 + sd^2) * sd^2, c_out = -s sd / sqrt(s^2 + sd^2);
 *   first order (the first step, the last, or solver_order 1):
 *     x = (t / s e^-h) x + (1 - e^-2h) denoised + t sqrt(1 - e^-2h) noise;
 *   second order, r0 = h_prev / h, D1 = (1 / r0) (denoised - denoised_prev):
 *     x = (t / s e^-h) x + (1 - e^-2h) denoised + c D1 + t sqrt(1 - e^-2h) noise with
 *     c = (1 - e^-2h) / 2 (midpoint) or (1 - e^-2h) / (-2h) + 1 (heun).
 * At the last step t = 0: x = denoised. noise is unit normal (the BrownianTreeNoiseSampler's
 * draw in diffusers; here the caller's or the engine's seeded one). */
#include <math.h>

#include "core/error.h"
#include "sample/sampler.h"

#define PI_F 3.14159265358979323846f

/* Per-step scalars: the preconditioning, the update's coefficients of x, denoised, D1 and noise,
 * 1 / r0, and the order (1, 2). */
enum { C_SKIP, C_OUT, C_X, C_DEN, C_D1, C_NOISE, C_INV_R0, C_ORDER };

sc_status cosine_dpmpp2m_sde_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    if (sc->kind != SCHED_SIGMA) return err_fail(SC_ERR_ARG, "cosine-dpmpp2m-sde runs on a sigma schedule");
    if (sc->solver_order > 2)
        return err_fail(SC_ERR_ARG, "cosine-dpmpp2m-sde: the scheduler configuration's solver_order %d is not one "
                                    "CosineDPMSolverMultistepScheduler can run (1 or 2; with 3 diffusers fails at "
                                    "its third step)", sc->solver_order);
    if (sc->final_sigma_min)
        return err_fail(SC_ERR_ARG, "cosine-dpmpp2m-sde: the scheduler configuration's final_sigmas_type sigma_min "
                                    "is not supported (its last step would go from sigma_min to sigma_min, a step "
                                    "of zero length; use final_sigmas_type zero, or the k-dpmpp3m-sde sampler)");
    /* [steps + 1] sigmas, descending, ending in 0. */
    float lin[SCHED_MAX_TRAIN], sig[SCHED_MAX_TRAIN + 1], lam[SCHED_MAX_TRAIN + 1];
    sched_linspace_f32((float)log(sc->sigma_min), (float)log(sc->sigma_max), steps, lin);
    for (int i = 0; i < steps; i++) sig[i] = expf(lin[steps - 1 - i]);
    sig[steps] = 0.0f;
    for (int i = 0; i <= steps; i++) lam[i] = 0.0f - logf(sig[i]); /* log(alpha = 1) - log(sigma); +inf at 0 */
    const float sd = (float)sc->sigma_data, sd2 = (float)(sc->sigma_data * sc->sigma_data);
    for (int k = 0; k < steps; k++) {
        const float s = sig[k], t = sig[k + 1], s2 = s * s + sd2;
        float *c = p->coef[k];
        p->c_in[k] = 1.0f / sqrtf(s2);
        p->model_t[k] = atanf(s) / PI_F * 2.0f;
        p->timesteps[k] = (int)lrintf(p->model_t[k] * 1000.0f);
        c[C_SKIP] = 1.0f / s2 * sd2;
        c[C_OUT] = -s * sd / sqrtf(s2);
        const float h = lam[k + 1] - lam[k], e2 = expf(-2.0f * h);
        c[C_X] = t / s * expf(-h);
        c[C_DEN] = 1.0f - e2;
        c[C_NOISE] = t * sqrtf(1.0f - e2);
        const int second = sc->solver_order == 2 && k > 0 && k < steps - 1;
        c[C_ORDER] = second ? 2.0f : 1.0f;
        if (second) {
            c[C_INV_R0] = 1.0f / ((lam[k] - lam[k - 1]) / h);
            c[C_D1] = sc->solver_heun ? (1.0f - e2) / (-2.0f * h) + 1.0f : 0.5f * c[C_DEN];
        }
    }
    p->scales_input = 1;
    p->own_time = 1;
    p->init_sigma = (float)sqrt(sc->sigma_max * sc->sigma_max + 1.0);
    p->needs_noise = 1;
    return SC_OK;
}

void cosine_dpmpp2m_sde_step(sampler_plan *p, int k, float *x, const float *v, const float *noise)
{
    const float *c = p->coef[k];
    const float skip = c[C_SKIP], out = c[C_OUT], cx = c[C_X], cden = c[C_DEN], cd1 = c[C_D1], nz = c[C_NOISE];
    const float inv_r0 = c[C_INV_R0];
    const int second = c[C_ORDER] == 2.0f;
    float *prev = p->prev; /* the last step's denoised [n] */
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        const float den = skip * x[i] + out * v[i];
        float y = cx * x[i] + cden * den;
        if (second) y = y + cd1 * (inv_r0 * (den - prev[i]));
        if (noise) y = y + nz * noise[i];
        x[i] = y;
        prev[i] = den;
    }
}
