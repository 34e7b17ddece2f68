#include "sample/sampler.h"

#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

double np_round(double x) { return nearbyint(x); }

/* The integer timesteps of diffusers' set_timesteps for the three spacings. DPM-Solver's
 * "leading" divides by steps + 1 (leading_plus_one); DDIM's by steps. */
sc_status diffusers_timesteps(const sched_config *sc, int steps, timestep_spacing sp, int leading_plus_one,
                              int *out)
{
    const int N = sc->num_train;
    if (sp == SPACING_LEADING) {
        int ratio = N / (steps + leading_plus_one);
        for (int k = 0; k < steps; k++) out[k] = (steps - 1 - k + leading_plus_one) * ratio + sc->steps_offset;
    } else if (sp == SPACING_TRAILING) {
        double step = (double)N / steps;
        /* np.arange(N, 0, -step) has ceil(N / step) entries, which is steps + 1 for some step
         * counts (a float rounding quirk of diffusers' formula); refuse those rather than differ. */
        double len = ceil((0.0 - N) / -step);
        if (len != steps)
            return err_fail(SC_ERR_ARG, "trailing timestep spacing with %d steps gives %d timesteps in diffusers; choose another step count",
                           steps, (int)len);
        for (int k = 0; k < steps; k++) out[k] = (int)np_round(N + k * -step) - 1;
    } else {
        int n = steps + leading_plus_one;
        double last = (double)N - 1;
        double step = n > 1 ? last / (n - 1) : 0.0;
        for (int k = 0; k < steps; k++) {
            int j = n - 1 - k;
            out[k] = (int)np_round(j == n - 1 ? last : j * step);
        }
    }
    for (int k = 0; k < steps; k++)
        if (out[k] < 0 || out[k] >= N)
            return err_fail(SC_ERR_ARG, "%d steps with this scheduler configuration give timestep %d, outside 0..%d",
                           steps, out[k], N - 1);
    return SC_OK;
}

static const char *const k_names[SC_SAMPLER_COUNT] = {"ddim",       "iddpm",         "dpmpp2m",           "k-euler",
                                                       "k-dpmpp2m",  "flow-euler",    "k-dpmpp3m-sde",     "cosine-dpmpp2m-sde"};

const char *sampler_name(sc_sampler s) { return (unsigned)s < SC_SAMPLER_COUNT ? k_names[s] : "?"; }

static const char *prediction_name(sample_prediction p)
{
    return p == PREDICTS_EPSILON ? "the noise (epsilon)" : p == PREDICTS_V ? "v" : "a flow velocity";
}

sc_status sampler_plan_make(sampler_plan *p, const sched_config *sc, sc_sampler kind, int steps, size_t n,
                            int learned_sigma, sample_prediction pred)
{
    memset(p, 0, sizeof *p);
    if ((unsigned)kind >= SC_SAMPLER_COUNT) return err_fail(SC_ERR_ARG, "unknown sampler %d", (int)kind);
    if (steps < 1 || steps > sc->num_train)
        return err_fail(SC_ERR_ARG, "steps must be in 1..%d (got %d)", sc->num_train, steps);
    const int on_sigmas = kind == SC_SAMPLER_K_DPMPP3M_SDE || kind == SC_SAMPLER_COSINE_DPMPP2M_SDE;
    const sched_kind wants = kind == SC_SAMPLER_FLOW_EULER ? SCHED_FLOW : on_sigmas ? SCHED_SIGMA : SCHED_DISCRETE;
    static const char *const k_runs[] = {"a noise (beta)", "a flow-matching", "a sigma (v-diffusion)"};
    static const char *const k_is[] = {"a beta schedule", "flow matching", "a sigma schedule"};
    if (wants != sc->kind)
        return err_fail(SC_ERR_ARG, "the %s sampler runs on %s schedule; this model's scheduler is %s", k_names[kind],
                        k_runs[wants], k_is[sc->kind]);
    const sample_prediction needs = wants == SCHED_FLOW ? PREDICTS_FLOW : wants == SCHED_SIGMA ? PREDICTS_V : PREDICTS_EPSILON;
    if (pred != needs)
        return err_fail(SC_ERR_ARG, "the %s sampler needs a model that predicts %s; this one predicts %s", k_names[kind],
                        prediction_name(needs), prediction_name(pred));
    p->kind = kind;
    p->steps = steps;
    p->n = n;
    p->init_sigma = 1.0f;
    sc_status s = SC_ERR_ARG;
    int history = 0;
    switch (kind) {
    case SC_SAMPLER_DDIM: s = ddim_plan(p, sc, steps); break;
    case SC_SAMPLER_IDDPM: s = iddpm_plan(p, sc, steps, learned_sigma); break;
    case SC_SAMPLER_DPMPP2M: s = dpmpp2m_plan(p, sc, steps), history = 1; break;
    case SC_SAMPLER_K_EULER: s = keuler_plan(p, sc, steps); break;
    case SC_SAMPLER_K_DPMPP2M: s = kdpmpp2m_plan(p, sc, steps), history = 1; break;
    case SC_SAMPLER_FLOW_EULER: s = flow_euler_plan(p, sc, steps); break;
    case SC_SAMPLER_K_DPMPP3M_SDE: s = kdpmpp3m_sde_plan(p, sc, steps), history = 2; break;
    case SC_SAMPLER_COSINE_DPMPP2M_SDE: s = cosine_dpmpp2m_sde_plan(p, sc, steps), history = 1; break;
    }
    if (s) return s;
    if (!p->own_time)
        for (int k = 0; k < steps; k++) p->model_t[k] = (float)p->timesteps[k];
    /* A configuration that makes sampling impossible (betas reaching 1, an alphas_cumprod that
     * underflows to 0, a zero beta_start under IDDPM's log variance, a multistep solver asked to
     * step to a noise-free timestep) shows as a non-finite coefficient: refused here, with the
     * reason, instead of a NaN in the middle of the run. */
    for (int k = 1; k < steps && !p->own_time; k++)
        if (p->timesteps[k] == p->timesteps[k - 1])
            return err_fail(SC_ERR_ARG, "%d %s steps over %d training timesteps visit timestep %d twice (steps %d and %d): "
                                        "a step of zero length; use fewer steps", steps, k_names[kind], sc->num_train,
                            p->timesteps[k], k, k + 1);
    int bad = !isfinite(p->init_sigma) ? 0 : -1;
    for (int k = 0; k < steps && bad < 0; k++) {
        int ok = isfinite(p->model_t[k]) && (!p->scales_input || isfinite(p->c_in[k]));
        for (int c = 0; c < SAMPLER_NCOEF; c++) ok &= isfinite(p->coef[k][c]) != 0;
        if (!ok) bad = k;
    }
    if (bad >= 0) {
        const char *why = sc->kind != SCHED_DISCRETE ? "" : sc->beta_end >= 1.0 ? ": betas reach 1"
                          : kind == SC_SAMPLER_IDDPM && sc->beta_start <= 0 ? ": IDDPM's posterior log-variance is log 0 "
                                                                            "when beta_start is 0"
                                                                          : ": the noise level there is 0 or infinite "
                                                                            "(alphas_cumprod of 1, or underflowing to 0)";
        return err_fail(SC_ERR_ARG, "the scheduler configuration (%d training timesteps%s) makes the %s sampler's "
                                    "coefficients non-finite at step %d/%d (timestep %d)%s; no sampling was done",
                        sc->num_train, sc->kind == SCHED_FLOW ? ", flow matching" : "", k_names[kind], bad + 1, steps,
                        p->timesteps[bad], why);
    }
    if (history && !(p->prev = mem_alloc_array(n, sizeof(float), "sampler history"))) return SC_ERR_NOMEM;
    if (history > 1 && !(p->prev2 = mem_alloc_array(n, sizeof(float), "sampler history"))) return SC_ERR_NOMEM;
    return SC_OK;
}

void sampler_plan_free(sampler_plan *p)
{
    mem_free(p->prev);
    mem_free(p->prev2);
    p->prev = p->prev2 = NULL;
}

void sampler_init_latents(const sampler_plan *p, float *x)
{
    if (p->init_sigma == 1.0f) return;
    const float s = p->init_sigma;
    for (size_t i = 0; i < p->n; i++) x[i] = x[i] * s;
}

void sampler_model_input(const sampler_plan *p, int k, const float *x, float *in)
{
    if (!p->scales_input) {
        memcpy(in, x, p->n * sizeof *in);
        return;
    }
    const float c = p->c_in[k];
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < p->n; i++) in[i] = x[i] * c;
}

int sampler_step_adds_noise(const sampler_plan *p, int k) { return p->needs_noise && k < p->steps - 1; }

void sampler_step(sampler_plan *p, int k, float *x, const float *pred, const float *v, const float *noise)
{
    switch (p->kind) {
    case SC_SAMPLER_DDIM: ddim_step(p, k, x, pred); break;
    case SC_SAMPLER_IDDPM: iddpm_step(p, k, x, pred, v, noise); break;
    case SC_SAMPLER_DPMPP2M: dpmpp2m_step(p, k, x, pred); break;
    case SC_SAMPLER_K_EULER: keuler_step(p, k, x, pred); break;
    case SC_SAMPLER_K_DPMPP2M: kdpmpp2m_step(p, k, x, pred); break;
    case SC_SAMPLER_FLOW_EULER: flow_euler_step(p, k, x, pred); break;
    case SC_SAMPLER_K_DPMPP3M_SDE: kdpmpp3m_sde_step(p, k, x, pred, noise); break;
    case SC_SAMPLER_COSINE_DPMPP2M_SDE: cosine_dpmpp2m_sde_step(p, k, x, pred, noise); break;
    }
}
