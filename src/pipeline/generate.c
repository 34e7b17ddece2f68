/* The sampling loop for any family: initial latents, the conditioning rows ([cond; uncond] when
 * guided), classifier-free guidance over the model's prediction channels, the sampler update,
 * NaN/Inf guard and progress. All buffers are allocated once before the first step. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache/run.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "pipeline/pipeline.h"
#include "sample/sampler.h"

#define SC_MAX_IMAGES 4096

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "[4, 32, 48]" */
static void shape_text(const sc_shape *s, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < s->rank && i < SC_MAX_RANK && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%d", i ? ", " : "", s->dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static sc_status validate(const pipeline *p, const sc_gen_params *gp)
{
    if (!gp->cond) return err_fail(SC_ERR_ARG, "no conditioning given (sc_gen_params.cond)");
    const int n = gp->cond->n;
    if (n < 1 || n > SC_MAX_IMAGES)
        return err_fail(SC_ERR_ARG, "number of images must be in 1..%d (got %d)", SC_MAX_IMAGES, n);
    if (gp->steps < 1 || gp->steps > p->sched.num_train)
        return err_fail(SC_ERR_ARG, "steps must be in 1..%d (got %d)", p->sched.num_train, gp->steps);
    if (!(gp->cfg >= 1.0f && gp->cfg <= 1000.0f))
        return err_fail(SC_ERR_ARG, "guidance scale must be a finite number in [1, 1000] (got %g)", (double)gp->cfg);
    if (gp->threads < 0) return err_fail(SC_ERR_ARG, "threads must be >= 1 (got %d)", gp->threads);
    if ((unsigned)gp->sampler >= SC_SAMPLER_COUNT) return err_fail(SC_ERR_ARG, "unknown sampler");
    const model *m = p->net;
    if ((m->family->time_input == MODEL_TIME_SIGMA_ATAN) != (p->sched.kind == SCHED_SIGMA))
        return err_fail(SC_ERR_ARG, "%s: this %s model takes %s, and its scheduler configuration (%s) is %s", p->path,
                        m->family->name,
                        m->family->time_input == MODEL_TIME_SIGMA_ATAN ? "continuous noise levels (atan(sigma) 2/pi)"
                                                                       : "discrete timesteps",
                        p->scheduler, p->sched.kind == SCHED_SIGMA ? "a sigma schedule" : "not a sigma schedule");
    if (gp->shape.rank && !m->family->accepts_shape(m, &gp->shape)) {
        char want[64] = "", own[64] = "";
        shape_text(&gp->shape, want, sizeof want);
        shape_text(&m->latent, own, sizeof own);
        return err_fail(SC_ERR_ARG, "this model does not generate latents of shape %s; its own is %s", want, own);
    }
    return SC_OK;
}

typedef struct {
    model_ws *ws;
    model_cond rows;
    sampler_plan plan;
    float *model_in;   /* [rows, latent] */
    float *model_out;  /* [rows, out] */
    float *eps;        /* [N, latent] */
    float *var;        /* [N, latent] variance interpolation (learned sigma), or NULL */
    float *noise;      /* [N, latent] (stochastic sampler), or NULL */
    float *t_rows;     /* [rows] */
    rng_state *noise_rng; /* [N] */
    cache_run *cache;
} gen_state;

static void gen_free(const model *m, gen_state *g)
{
    cache_run_free(g->cache);
    if (g->ws) m->family->ws_free(m, g->ws);
    model_cond_free(&g->rows);
    sampler_plan_free(&g->plan);
    m->be->release(g->model_in);
    m->be->release(g->model_out);
    mem_free(g->eps);
    mem_free(g->var);
    mem_free(g->noise);
    mem_free(g->t_rows);
    mem_free(g->noise_rng);
}

/* eps (and var) [N, C, ...] from the model output [rows, Co, ...]: with guidance,
 * eps = u + s (c - u) on the first cfg_channels channels, the conditional row's value beyond;
 * var is always the conditional row's. */
static void guide(const model *m, const float *out, int N, size_t spatial, int guided, float s, float *eps, float *var)
{
    const backend *be = m->be;
    const int C = m->latent.dims[0], Co = m->out_channels; /* channels do not change with the shape */
    for (int i = 0; i < N; i++) {
        const float *cond = out + (size_t)i * Co * spatial;
        const float *unc = out + ((size_t)N + i) * Co * spatial;
        for (int ch = 0; ch < C; ch++) {
            float *e = eps + ((size_t)i * C + ch) * spatial;
            if (guided && ch < m->cfg_channels) be->cfg_combine(e, cond + ch * spatial, unc + ch * spatial, s, spatial);
            else be->copy(e, cond + ch * spatial, spatial);
            if (var) be->copy(var + ((size_t)i * C + ch) * spatial, cond + (C + ch) * spatial, spatial);
        }
    }
}

static sc_status check_finite(const float *x, size_t n, int step, int steps, int t)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return err_fail(SC_ERR_NUMERIC, "non-finite latent at step %d/%d (timestep %d); generation stopped", step,
                            steps, t);
    return SC_OK;
}

sample_prediction pipeline_prediction(const model *m)
{
    return m->prediction == PRED_V ? PREDICTS_V : m->prediction == PRED_FLOW ? PREDICTS_FLOW : PREDICTS_EPSILON;
}

static void comps_of(const model *m, cache_comps *c)
{
    static const cache_role roles[] = {[ROLE_SELF_ATTENTION] = CACHE_ROLE_SELF_ATTENTION,
                                       [ROLE_CROSS_ATTENTION] = CACHE_ROLE_CROSS_ATTENTION,
                                       [ROLE_MLP] = CACHE_ROLE_MLP};
    memset(c, 0, sizeof *c);
    c->n = m->n_comp;
    for (int k = 0; k < m->n_comp; k++) {
        c->name[k] = m->comp[k].name;
        c->aliases[k] = m->comp[k].aliases;
        c->role[k] = roles[m->comp[k].role];
    }
}

sc_status pipeline_generate(pipeline *p, const sc_gen_params *gp, const cache_policy_ops *observer, void *state,
                            float *x)
{
    sc_status s = validate(p, gp);
    if (s) return s;
    const model *m = p->net;
    const int N = gp->cond->n, guided = gp->cfg > 1.0f, rows = guided ? 2 * N : N;
    const sc_shape *shape = gp->shape.rank ? &gp->shape : &m->latent;
    const size_t lat = model_shape_count(shape), spatial = lat / (size_t)shape->dims[0];
    const size_t n = (size_t)N * lat, out_row = (size_t)m->out_channels * spatial;
    gen_state g;
    memset(&g, 0, sizeof g);
    m->be->set_threads(threads_resolve(gp->threads));

    if (observer) {
        SC_ASSERT(!gp->calibration && !gp->cache);
        s = cache_run_create_with(observer, state, &g.cache);
    } else {
        s = cache_run_create(gp->cache ? gp->cache : "none", &g.cache);
    }
    if (!s) s = m->family->conditioning(m, gp->cond, guided, 0, &g.rows);
    if (!s) s = sampler_plan_make(&g.plan, &p->sched, gp->sampler, gp->steps, n, m->learned_sigma, pipeline_prediction(m));
    if (!s) s = m->family->ws_create(m, rows, shape, &g.ws);
    if (s) goto done;
    cache_gen cg = {.steps = gp->steps, .depth = m->depth, .rows = rows, .images = N, .tokens = g.ws->tokens,
                    .hidden = m->hidden, .timesteps = g.plan.timesteps, .sampler = sampler_name(gp->sampler),
                    .cfg = gp->cfg, .macs_forward = m->macs_forward, .has_modulated_input = m->family->modulated_input != NULL, .be = m->be};
    comps_of(m, &cg.comp);
    cg.out = *shape;
    cg.out.dims[0] = m->out_channels;
    if ((s = cache_run_begin(g.cache, &cg, m->macs_forward, m->macs_comp))) goto done;
    const int need_var = g.plan.uses_variance && m->learned_sigma;
    if (!(g.model_in = m->be->alloc((size_t)rows * lat, "model input")) ||
        !(g.model_out = m->be->alloc((size_t)rows * out_row, "model output")) ||
        !(g.eps = mem_alloc_array(n, sizeof(float), "noise prediction")) ||
        (need_var && !(g.var = mem_alloc_array(n, sizeof(float), "variance"))) ||
        (g.plan.needs_noise && !(g.noise = mem_alloc_array(n, sizeof(float), "sampler noise"))) ||
        !(g.t_rows = mem_alloc_array((size_t)rows, sizeof(float), "timesteps")) ||
        !(g.noise_rng = mem_alloc_array((size_t)N, sizeof(rng_state), "generators"))) {
        s = SC_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < N; i++) {
        if (!gp->latents_in) {
            rng_state r;
            rng_seed(&r, gp->seed + (uint64_t)i);
            rng_normal(&r, x + (size_t)i * lat, lat);
        }
        rng_seed(&g.noise_rng[i], (gp->seed + (uint64_t)i) ^ RNG_NOISE_STREAM);
    }
    if (gp->latents_in) memcpy(x, gp->latents_in, n * sizeof *x);
    sampler_init_latents(&g.plan, x); /* unit noise times the first noise level */

    const double t0 = now_seconds();
    for (int k = 0; k < gp->steps; k++) {
        const int t = g.plan.timesteps[k];
        for (int r = 0; r < rows; r++) g.t_rows[r] = g.plan.model_t[k];
        /* [x; x]: both halves see the conditional latent (scaled as the sampler feeds the model). */
        sampler_model_input(&g.plan, k, x, g.model_in);
        if (guided) m->be->copy(g.model_in + n, g.model_in, n);
        cache_run_step(g.cache, k);
        if (guided && cache_run_uncond_skip(g.cache)) {
            /* CFG-Cache: only the conditional rows run; the policy rebuilds the unconditional
             * output from them. The workspace serves any batch up to its capacity. */
            g.ws->rows = N;
            s = pipeline_forward(m, g.ws, g.model_in, g.t_rows, &g.rows, g.model_out, g.cache);
            g.ws->rows = rows;
            if (s) goto done;
            cache_run_rebuild_uncond(g.cache, g.model_out, g.model_out + (size_t)N * out_row, (size_t)N * out_row);
        } else {
            s = pipeline_forward(m, g.ws, g.model_in, g.t_rows, &g.rows, g.model_out, g.cache);
        }
        if (s) goto done;
        guide(m, g.model_out, N, spatial, guided, gp->cfg, g.eps, g.var);
        const float *noise = NULL;
        if (sampler_step_adds_noise(&g.plan, k)) {
            if (gp->noise_in) {
                noise = gp->noise_in + (size_t)k * n;
            } else {
                for (int i = 0; i < N; i++) rng_normal(&g.noise_rng[i], g.noise + (size_t)i * lat, lat);
                noise = g.noise;
            }
        }
        sampler_step(&g.plan, k, x, g.eps, g.var, noise);
        if (gp->check_finite && (s = check_finite(x, n, k + 1, gp->steps, t))) goto done;
        if (gp->progress && gp->progress(gp->progress_user, k + 1, gp->steps, now_seconds() - t0, x)) {
            s = err_fail(SC_ERR_ARG, "generation cancelled at step %d/%d", k + 1, gp->steps);
            goto done;
        }
    }
    cache_run_end(g.cache, gp->stats);
    if (gp->stats) gp->stats->seconds = now_seconds() - t0;
done:
    gen_free(m, &g);
    return s;
}
