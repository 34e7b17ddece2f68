/* The public API's sampling entry points: parameters, generation (optionally observed by a
 * calibration), the samplers' names and timesteps, the class draw of `sample`. */
#include <string.h>

#include "api/api.h"
#include "core/error.h"
#include "core/rng.h"
#include "pipeline/pipeline.h"
#include "sample/sampler.h"

sc_gen_params sc_gen_params_default(void)
{
    sc_gen_params p;
    memset(&p, 0, sizeof p);
    p.steps = 50;
    p.sampler = SC_SAMPLER_DDIM;
    p.cfg = 4.0f;
    p.check_finite = 1;
    return p;
}

sc_status sc_generate(sc_model *m, const sc_gen_params *p, float *latents_out)
{
    if (!p->calibration) return pipeline_generate(m, p, NULL, NULL, latents_out);
    if (p->cache && strcmp(p->cache, "none"))
        return err_fail(SC_ERR_ARG, "calibration observes uncached generations: no cache policy with it");
    sc_gen_params q = *p;
    q.cache = NULL;
    q.calibration = NULL;
    sc_status s = pipeline_generate(m, &q, p->calibration->cal->observer, p->calibration->state, latents_out);
    if (!s) s = calibration_record(p->calibration, m, p);
    return s;
}

sc_status sc_sampler_timesteps(const sc_model *m, sc_sampler sampler, int steps, int *out)
{
    sampler_plan p;
    sc_status s = sampler_plan_make(&p, &m->sched, sampler, steps, 1, 0, pipeline_prediction(m->net));
    if (s) return s;
    memcpy(out, p.timesteps, (size_t)steps * sizeof *out);
    sampler_plan_free(&p);
    return SC_OK;
}

const char *sc_sampler_name(sc_sampler s) { return sampler_name(s); }

int sc_sampler_from_name(const char *name)
{
    for (int s = 0; s < SC_SAMPLER_COUNT; s++)
        if (!strcmp(name, sc_sampler_name((sc_sampler)s))) return s;
    return -1;
}

void sc_draw_classes(uint64_t seed, int num_classes, long n, int *out)
{
    rng_state r;
    rng_seed(&r, seed ^ RNG_CLASS_STREAM); /* the class stream, apart from the latent streams */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % (uint64_t)num_classes;
    for (long i = 0; i < n; i++) {
        uint64_t v;
        do v = rng_next(&r);
        while (v >= limit); /* rejection: no modulo bias */
        out[i] = (int)(v % (uint64_t)num_classes);
    }
}
