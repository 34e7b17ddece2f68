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

sc_status sampler_plan_make(sampler_plan *p, const sched_config *sc, sc_sampler kind, int steps,
                            size_t n, int learned_sigma)
{
    memset(p, 0, sizeof *p);
    if (steps < 1 || steps > sc->num_train)
        return err_fail(SC_ERR_ARG, "steps must be in 1..%d (got %d)", sc->num_train, steps);
    p->kind = kind;
    p->steps = steps;
    p->n = n;
    switch (kind) {
    case SC_SAMPLER_DDIM: return ddim_plan(p, sc, steps);
    case SC_SAMPLER_IDDPM: return iddpm_plan(p, sc, steps, learned_sigma);
    case SC_SAMPLER_DPMPP2M: {
        sc_status s = dpmpp2m_plan(p, sc, steps);
        if (s) return s;
        p->prev = mem_alloc_array(n, sizeof(float), "sampler history");
        return p->prev ? SC_OK : SC_ERR_NOMEM;
    }
    }
    return err_fail(SC_ERR_ARG, "unknown sampler %d", (int)kind);
}

void sampler_plan_free(sampler_plan *p)
{
    mem_free(p->prev);
    p->prev = NULL;
}

int sampler_step_adds_noise(const sampler_plan *p, int k) { return p->needs_noise && k < p->steps - 1; }

void sampler_step(sampler_plan *p, int k, float *x, const float *eps, const float *v, const float *noise)
{
    switch (p->kind) {
    case SC_SAMPLER_DDIM: ddim_step(p, k, x, eps); break;
    case SC_SAMPLER_IDDPM: iddpm_step(p, k, x, eps, v, noise); break;
    case SC_SAMPLER_DPMPP2M: dpmpp2m_step(p, k, x, eps); break;
    }
}

const char *sampler_name(sc_sampler s)
{
    switch (s) {
    case SC_SAMPLER_DDIM: return "ddim";
    case SC_SAMPLER_IDDPM: return "iddpm";
    case SC_SAMPLER_DPMPP2M: return "dpmpp2m";
    }
    return "?";
}
