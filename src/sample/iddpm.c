/* The original DiT sampler (guided-diffusion p_sample, respaced to `steps` evaluations):
 * kept timesteps t_k = round(k * (N-1)/(steps-1)) accumulated in double; respaced betas
 * beta'_k = 1 - abar[t_k]/abar[t_{k-1}]; tables in float64, each cast to float32 when used,
 * as _extract_into_tensor does. The loop runs k = steps-1 .. 0 and calls the model with t_k. */
#include <math.h>

#include "sample/sampler.h"

enum { C_RECIP, C_RECIPM1, C_MEAN1, C_MEAN2, C_MINLOG, C_MAXLOG, C_FIXEDLOG };

sc_status iddpm_plan(sampler_plan *p, const sched_config *sc, int steps, int learned_sigma)
{
    const int N = sc->num_train;
    double betas[SCHED_MAX_TRAIN], kept_acp[SCHED_MAX_TRAIN];
    int kept[SCHED_MAX_TRAIN];
    sched_betas_f64(sc, betas);

    /* space_timesteps(N, [steps]): frac_stride = (N-1)/(steps-1), cur accumulates in double. */
    double stride = steps > 1 ? (double)(N - 1) / (steps - 1) : 1.0, cur = 0.0;
    for (int k = 0; k < steps; k++) {
        kept[k] = (int)np_round(cur);
        cur += stride;
    }
    /* Respaced betas from the base cumulative product, then their own cumulative product. */
    double acp = 1.0, last = 1.0, nb[SCHED_MAX_TRAIN];
    int j = 0;
    for (int i = 0; i < N && j < steps; i++) {
        acp *= 1.0 - betas[i];
        if (i == kept[j]) {
            nb[j++] = 1.0 - acp / last;
            last = acp;
        }
    }
    double a = 1.0;
    for (int k = 0; k < steps; k++) {
        a *= 1.0 - nb[k];
        kept_acp[k] = a;
    }
    double post_var[SCHED_MAX_TRAIN];
    for (int k = 0; k < steps; k++) {
        double ap = k ? kept_acp[k - 1] : 1.0;
        post_var[k] = nb[k] * (1.0 - ap) / (1.0 - kept_acp[k]);
    }
    for (int k = 0; k < steps; k++) {
        /* Step index s runs in call order: respaced index k = steps - 1 - s. */
        int s = steps - 1 - k;
        double ac = kept_acp[k], ap = k ? kept_acp[k - 1] : 1.0;
        double clipped = log(k == 0 && steps > 1 ? post_var[1] : post_var[k]);
        float *c = p->coef[s];
        c[C_RECIP] = (float)sqrt(1.0 / ac);
        c[C_RECIPM1] = (float)sqrt(1.0 / ac - 1.0);
        c[C_MEAN1] = (float)(nb[k] * sqrt(ap) / (1.0 - ac));
        c[C_MEAN2] = (float)((1.0 - ap) * sqrt(1.0 - nb[k]) / (1.0 - ac));
        c[C_MINLOG] = (float)clipped;
        c[C_MAXLOG] = (float)log(nb[k]);
        /* Without learned sigma the original uses the fixed-large variance log(beta')... with
         * posterior_variance[1] at k = 0 (FIXED_LARGE: append(post_var[1], betas[1:])). */
        c[C_FIXEDLOG] = (float)log(k == 0 && steps > 1 ? post_var[1] : nb[k]);
        p->timesteps[s] = kept[k];
    }
    p->needs_noise = 1;
    p->uses_variance = learned_sigma;
    return SC_OK;
}

void iddpm_step(const sampler_plan *p, int k, float *x, const float *eps, const float *v, const float *noise)
{
    const float *c = p->coef[k];
    const float r = c[C_RECIP], rm1 = c[C_RECIPM1], m1 = c[C_MEAN1], m2 = c[C_MEAN2];
    const float minlog = c[C_MINLOG], maxlog = c[C_MAXLOG], fixedlog = c[C_FIXEDLOG];
    const int add_noise = noise != NULL;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < p->n; i++) {
        float a = r * x[i], b = rm1 * eps[i];
        float x0 = a - b;
        float mean = m1 * x0 + m2 * x[i];
        float out = mean;
        if (add_noise) {
            float logvar;
            if (v) {
                float frac = (v[i] + 1.0f) / 2.0f;
                logvar = frac * maxlog + (1.0f - frac) * minlog;
            } else {
                logvar = fixedlog;
            }
            out = mean + expf(0.5f * logvar) * noise[i];
        }
        x[i] = out;
    }
}
