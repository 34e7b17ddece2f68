/* The sampling loop: initial latents, the [cond; uncond] batch, classifier-free guidance in the
 * numerics of the model's origin, the sampler update, NaN/Inf guard and progress. All buffers
 * are allocated once before the first step. */
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/calibrate.h"
#include "cache/run.h"
#include "core/error.h"
#include "core/matmul.h"
#include "core/mem.h"
#include "core/rng.h"
#include "model/dit.h"
#include "sample/generate.h"
#include "sample/sampler.h"

#define SC_MAX_IMAGES 4096

sc_gen_params sc_gen_params_default(void)
{
    sc_gen_params p;
    memset(&p, 0, sizeof p);
    p.n_images = 1;
    p.steps = 50;
    p.sampler = SC_SAMPLER_DDIM;
    p.cfg = 4.0f;
    p.check_finite = 1;
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int threads_resolve(int threads)
{
    if (threads > 0) return threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static sc_status validate(const sc_model *m, const sc_gen_params *p)
{
    const dit_config *c = &m->cfg;
    if (p->n_images < 1 || p->n_images > SC_MAX_IMAGES)
        return err_fail(SC_ERR_ARG, "number of images must be in 1..%d (got %d)", SC_MAX_IMAGES, p->n_images);
    if (!p->classes) return err_fail(SC_ERR_ARG, "no class labels given");
    for (int i = 0; i < p->n_images; i++)
        if (p->classes[i] < 0 || p->classes[i] >= c->num_classes)
            return err_fail(SC_ERR_ARG, "class %d is out of range: this model has classes 0..%d", p->classes[i],
                           c->num_classes - 1);
    if (p->steps < 1 || p->steps > m->sched.num_train)
        return err_fail(SC_ERR_ARG, "steps must be in 1..%d (got %d)", m->sched.num_train, p->steps);
    if (!(p->cfg >= 1.0f && p->cfg <= 1000.0f))
        return err_fail(SC_ERR_ARG, "guidance scale must be a finite number in [1, 1000] (got %g)", (double)p->cfg);
    if (p->threads < 0) return err_fail(SC_ERR_ARG, "threads must be >= 1 (got %d)", p->threads);
    if ((unsigned)p->sampler > SC_SAMPLER_DPMPP2M) return err_fail(SC_ERR_ARG, "unknown sampler");
    return SC_OK;
}

typedef struct {
    dit_workspace ws;
    sampler_plan plan;
    float *model_in;   /* [rows, C, S, S] */
    float *model_out;  /* [rows, Co, S, S] */
    float *eps;        /* [N, C, S, S] */
    float *var;        /* [N, C, S, S] variance interpolation (learned sigma), or NULL */
    float *noise;      /* [N, C, S, S] (stochastic sampler), or NULL */
    float *t_rows;     /* [rows] */
    int *y_rows;       /* [rows] */
    rng_state *noise_rng; /* [N] */
    cache_run *cache;
} gen_state;

static void gen_free(gen_state *g)
{
    cache_run_free(g->cache);
    dit_workspace_free(&g->ws);
    sampler_plan_free(&g->plan);
    mem_free(g->model_in);
    mem_free(g->model_out);
    mem_free(g->eps);
    mem_free(g->var);
    mem_free(g->noise);
    mem_free(g->t_rows);
    mem_free(g->y_rows);
    mem_free(g->noise_rng);
}

/* eps (and var) [N, C, S, S] from the model output [rows, Co, S, S]: with guidance,
 * eps = u + s (c - u) on the first cfg_channels channels, the conditional row's value beyond;
 * var is always the conditional row's. */
static void guide(const dit_config *c, const float *out, int N, int guided, float s, float *eps, float *var)
{
    const size_t SS = (size_t)c->input_size * c->input_size;
    const int C = c->in_channels, Co = c->out_channels;
    for (int i = 0; i < N; i++) {
        const float *cond = out + (size_t)i * Co * SS;
        const float *unc = out + ((size_t)N + i) * Co * SS;
        for (int ch = 0; ch < C; ch++) {
            float *e = eps + ((size_t)i * C + ch) * SS;
            const float *cc = cond + ch * SS, *uu = unc + ch * SS;
            if (guided && ch < c->cfg_channels) {
                for (size_t k = 0; k < SS; k++) {
                    float d = cc[k] - uu[k];
                    float m = s * d;
                    e[k] = uu[k] + m;
                }
            } else {
                memcpy(e, cc, SS * sizeof *e);
            }
            if (var) memcpy(var + ((size_t)i * C + ch) * SS, cond + (C + ch) * SS, SS * sizeof *var);
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

sc_status sc_generate(sc_model *m, const sc_gen_params *p, float *x) { return generate_observed(m, p, NULL, NULL, x); }

sc_status generate_observed(sc_model *m, const sc_gen_params *p, const cache_policy_ops *ops, void *state, float *x)
{
    sc_status s = validate(m, p);
    if (s) return s;
    const dit_config *c = &m->cfg;
    const int N = p->n_images, guided = p->cfg > 1.0f, rows = guided ? 2 * N : N;
    const size_t SS = (size_t)c->input_size * c->input_size;
    const size_t lat = (size_t)c->in_channels * SS, n = (size_t)N * lat;
    gen_state g;
    memset(&g, 0, sizeof g);
    mm_set_threads(threads_resolve(p->threads));

    if (ops) {
        SC_ASSERT(!p->calibration && !p->cache);
        s = cache_run_create_with(ops, state, &g.cache);
    } else if (p->calibration) {
        if (p->cache && strcmp(p->cache, "none")) {
            s = err_fail(SC_ERR_ARG, "calibration observes uncached generations: no --cache with it");
            goto done;
        }
        s = cache_run_create_with(&cache_calibrate, p->calibration, &g.cache);
    } else {
        s = cache_run_create(p->cache ? p->cache : "none", &g.cache);
    }
    if (!s) s = sampler_plan_make(&g.plan, &m->sched, p->sampler, p->steps, n, c->learned_sigma);
    if (!s) s = dit_workspace_init(&g.ws, m, rows);
    if (s) goto done;
    const cache_gen cg = {.steps = p->steps, .depth = c->depth, .rows = rows, .images = N, .tokens = c->tokens,
                          .hidden = c->hidden, .timesteps = g.plan.timesteps, .sampler = sc_sampler_name(p->sampler),
                          .eps_attn = c->eps_attn, .side = c->input_size, .out_channels = c->out_channels};
    if ((s = cache_run_begin(g.cache, &cg, dit_macs_forward(c), dit_macs_attn(c), dit_macs_mlp(c)))) goto done;
    const int need_var = g.plan.uses_variance && c->learned_sigma;
    if (!(g.model_in = mem_alloc_array((size_t)rows * lat, sizeof(float), "model input")) ||
        !(g.model_out = mem_alloc_array((size_t)rows * c->out_channels * SS, sizeof(float), "model output")) ||
        !(g.eps = mem_alloc_array(n, sizeof(float), "noise prediction")) ||
        (need_var && !(g.var = mem_alloc_array(n, sizeof(float), "variance"))) ||
        (g.plan.needs_noise && !(g.noise = mem_alloc_array(n, sizeof(float), "sampler noise"))) ||
        !(g.t_rows = mem_alloc_array((size_t)rows, sizeof(float), "timesteps")) ||
        !(g.y_rows = mem_alloc_array((size_t)rows, sizeof(int), "labels")) ||
        !(g.noise_rng = mem_alloc_array((size_t)N, sizeof(rng_state), "generators"))) {
        s = SC_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < N; i++) {
        if (!p->latents_in) {
            rng_state r;
            rng_seed(&r, p->seed + (uint64_t)i);
            rng_normal(&r, x + (size_t)i * lat, lat);
        }
        rng_seed(&g.noise_rng[i], (p->seed + (uint64_t)i) ^ RNG_NOISE_STREAM);
        g.y_rows[i] = p->classes[i];
        if (guided) g.y_rows[N + i] = c->num_classes; /* the null class */
    }
    if (p->latents_in) memcpy(x, p->latents_in, n * sizeof *x);

    const double t0 = now_seconds();
    for (int k = 0; k < p->steps; k++) {
        const int t = g.plan.timesteps[k];
        for (int r = 0; r < rows; r++) g.t_rows[r] = (float)t;
        /* [x; x]: both halves see the conditional latent (FORMATS.md 3.4). */
        memcpy(g.model_in, x, n * sizeof *x);
        if (guided) memcpy(g.model_in + n, x, n * sizeof *x);
        cache_run_step(g.cache, k);
        if (guided && cache_run_uncond_skip(g.cache)) {
            /* CFG-Cache: only the conditional rows run; the policy rebuilds the unconditional
             * output from them. The workspace serves any batch up to its size. */
            const size_t per = (size_t)c->out_channels * SS;
            g.ws.rows = N;
            s = dit_forward(m, &g.ws, g.model_in, g.t_rows, g.y_rows, g.model_out, g.cache);
            g.ws.rows = rows;
            if (s) goto done;
            cache_run_rebuild_uncond(g.cache, g.model_out, g.model_out + (size_t)N * per, (size_t)N * per);
        } else {
            s = dit_forward(m, &g.ws, g.model_in, g.t_rows, g.y_rows, g.model_out, g.cache);
        }
        if (s) goto done;
        guide(c, g.model_out, N, guided, p->cfg, g.eps, g.var);
        float *noise = NULL;
        if (sampler_step_adds_noise(&g.plan, k)) {
            for (int i = 0; i < N; i++) rng_normal(&g.noise_rng[i], g.noise + (size_t)i * lat, lat);
            noise = g.noise;
        }
        sampler_step(&g.plan, k, x, g.eps, g.var, noise);
        if (p->check_finite && (s = check_finite(x, n, k + 1, p->steps, t))) goto done;
        if (p->progress && p->progress(p->progress_user, k + 1, p->steps, now_seconds() - t0, x)) {
            s = err_fail(SC_ERR_ARG, "generation cancelled at step %d/%d", k + 1, p->steps);
            goto done;
        }
    }
    cache_run_end(g.cache, p->stats);
    if (p->stats) p->stats->seconds = now_seconds() - t0;
done:
    gen_free(&g);
    return s;
}

sc_status sc_model_forward(sc_model *m, int n, const float *x, const float *t, const int *y, float *out,
                           int threads)
{
    if (n < 1 || n > SC_MAX_IMAGES) return err_fail(SC_ERR_ARG, "batch must be in 1..%d (got %d)", SC_MAX_IMAGES, n);
    if (threads < 0) return err_fail(SC_ERR_ARG, "threads must be >= 1 (got %d)", threads);
    for (int i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] > m->cfg.num_classes)
            return err_fail(SC_ERR_ARG, "class %d is out of range 0..%d (%d = null class)", y[i],
                           m->cfg.num_classes, m->cfg.num_classes);
        if (!(t[i] >= 0.0f && t[i] <= 1e4f))
            return err_fail(SC_ERR_ARG, "timestep %g is out of range", (double)t[i]);
    }
    mm_set_threads(threads_resolve(threads));
    dit_workspace ws;
    sc_status s = dit_workspace_init(&ws, m, n);
    if (s) return s;
    s = dit_forward(m, &ws, x, t, y, out, NULL);
    dit_workspace_free(&ws);
    return s;
}

sc_status sc_sampler_timesteps(const sc_model *m, sc_sampler sampler, int steps, int *out)
{
    sampler_plan p;
    sc_status s = sampler_plan_make(&p, &m->sched, sampler, steps, 1, 0);
    if (s) return s;
    memcpy(out, p.timesteps, (size_t)steps * sizeof *out);
    sampler_plan_free(&p);
    return SC_OK;
}
