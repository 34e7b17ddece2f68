/* k-diffusion's sample_dpmpp_3m_sde (DPM-Solver++(3M) SDE, eta 1, s_noise 1) on a sigma schedule,
 * for a v-prediction model wrapped as k-diffusion's VDenoiser: what stable-audio-tools samples
 * Stable Audio with (and the SmoothCache paper's audio setting). float32 scalars as torch computes
 * them.
 *
 * Sigmas (get_sigmas_polyexponential): ramp = linspace(1, 0, n)^rho, sigma_i = exp(ramp_i (log
 * smax - log smin) + log smin), then 0. The model at sigma (VDenoiser, sigma_data sd): input
 * c_in x with c_in = 1 / sqrt(sigma^2 + sd^2), time atan(sigma) / pi * 2, and
 * denoised = v c_out + x c_skip with c_skip = sd^2 / (sigma^2 + sd^2), c_out = -sigma sd /
 * sqrt(sigma^2 + sd^2).
 *
 * Step i, with t = -log sigma_i, s = -log sigma_{i+1}, h = s - t, h_eta = 2h:
 *   last step (sigma_{i+1} = 0): x = denoised;
 *   else x = exp(-h_eta) x - expm1(-h_eta) denoised, then with phi_2 = expm1(-h_eta) / h_eta + 1,
 *   phi_3 = phi_2 / h_eta - 1/2 and the previous steps' h_1, h_2 and denoised_1, denoised_2:
 *     from the third step: r0 = h_1 / h, r1 = h_2 / h, d1_0 = (den - den_1) / r0,
 *       d1_1 = (den_1 - den_2) / r1, d1 = d1_0 + (d1_0 - d1_1) r0 / (r0 + r1),
 *       d2 = (d1_0 - d1_1) / (r0 + r1), x += phi_2 d1 - phi_3 d2;
 *     the second step: r = h_1 / h, x += phi_2 (den - den_1) / r;
 *   then x += noise sigma_{i+1} sqrt(-expm1(-2h)) (noise: unit normal, the caller's). */
#include <math.h>

#include "core/error.h"
#include "sample/sampler.h"

#define PI_F 3.14159265358979323846f

/* Per-step scalars; C_ORDER: -1 the last step, else the multistep order used (1, 2, 3). */
enum { C_SKIP, C_OUT, C_DECAY, C_MIX, C_ORDER, C_PHI2, C_PHI3, C_NOISE, C_R0, C_R1, C_RSUM };

/* torch.linspace(1, 0, n) in float32: the first half from the start, the second from the end. */
static float ramp_down(int i, int n)
{
    if (n == 1) return 1.0f;
    const float step = -1.0f / (float)(n - 1);
    return i < n / 2 ? fmaf(step, (float)i, 1.0f) : fmaf(-step, (float)(n - 1 - i), 0.0f);
}

sc_status kdpmpp3m_sde_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    if (sc->kind != SCHED_SIGMA) return err_fail(SC_ERR_ARG, "k-dpmpp3m-sde runs on a sigma schedule");
    float sig[SCHED_MAX_TRAIN + 1];
    const float span = (float)(log(sc->sigma_max) - log(sc->sigma_min)), lo = (float)log(sc->sigma_min);
    for (int i = 0; i < steps; i++) {
        const float r = sc->rho == 1.0 ? ramp_down(i, steps) : powf(ramp_down(i, steps), (float)sc->rho);
        sig[i] = expf(r * span + lo);
    }
    sig[steps] = 0.0f;
    const float sd2 = (float)(sc->sigma_data * sc->sigma_data), sd = (float)sc->sigma_data;
    float h_prev[2] = {0, 0}; /* h_1, h_2 */
    int have = 0;             /* how many of them exist */
    for (int k = 0; k < steps; k++) {
        const float s = sig[k], s2 = s * s + sd2;
        float *c = p->coef[k];
        p->c_in[k] = 1.0f / sqrtf(s2);
        p->model_t[k] = atanf(s) / PI_F * 2.0f;
        p->timesteps[k] = (int)lrintf(p->model_t[k] * 1000.0f);
        c[C_SKIP] = sd2 / s2;
        c[C_OUT] = -s * sd / sqrtf(s2);
        if (sig[k + 1] == 0.0f) {
            c[C_ORDER] = -1.0f; /* x = denoised */
            continue;
        }
        const float t = -logf(s), tn = -logf(sig[k + 1]), h = tn - t, he = h * 2.0f;
        c[C_DECAY] = expf(-he);
        c[C_MIX] = -expm1f(-he);
        c[C_PHI2] = expm1f(-he) / he + 1.0f;
        c[C_PHI3] = c[C_PHI2] / he - 0.5f;
        c[C_NOISE] = sig[k + 1] * sqrtf(-expm1f(-2.0f * h));
        c[C_ORDER] = (float)(have >= 2 ? 3 : have + 1);
        if (have >= 1) c[C_R0] = h_prev[0] / h;
        if (have >= 2) {
            c[C_R1] = h_prev[1] / h;
            c[C_RSUM] = c[C_R0] + c[C_R1];
        }
        h_prev[1] = h_prev[0];
        h_prev[0] = h;
        if (have < 2) have++;
    }
    p->scales_input = 1;
    p->own_time = 1;
    p->init_sigma = sig[0];
    p->needs_noise = 1;
    return SC_OK;
}

void kdpmpp3m_sde_step(sampler_plan *p, int k, float *x, const float *v, const float *noise)
{
    const float *c = p->coef[k];
    const float skip = c[C_SKIP], out = c[C_OUT];
    const int order = (int)c[C_ORDER];
    float *d1 = p->prev, *d2 = p->prev2; /* denoised of the last step and the one before */
    if (order < 0) {
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < p->n; i++) x[i] = v[i] * out + x[i] * skip;
        return;
    }
    const float decay = c[C_DECAY], mix = c[C_MIX], phi2 = c[C_PHI2], phi3 = c[C_PHI3], nz = c[C_NOISE];
    const float r0 = c[C_R0], r1 = c[C_R1], rs = c[C_RSUM];
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        const float den = v[i] * out + x[i] * skip;
        float y = decay * x[i] + mix * den;
        if (order == 3) {
            const float a = (den - d1[i]) / r0, b = (d1[i] - d2[i]) / r1;
            const float dd1 = a + (a - b) * r0 / rs, dd2 = (a - b) / rs;
            y = y + phi2 * dd1 - phi3 * dd2;
        } else if (order == 2) {
            y = y + phi2 * ((den - d1[i]) / r0);
        }
        if (noise) y = y + noise[i] * nz;
        x[i] = y;
        d2[i] = d1[i];
        d1[i] = den;
    }
}
