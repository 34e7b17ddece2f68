/* SmoothCache's calibrator: an observer that computes everything and, each time a block's
 * component output y_n is produced, accumulates relL1(y_{n-j}, y_n) = sum|y_{n-j} - y_n| /
 * sum|y_n| for the lags j = 1..k it has kept (docs/CACHING.md), per block, per sample (a sample
 * is an image's conditional and unconditional rows together). Saved as error curves (errors.h)
 * for `--cache smooth:errors=FILE,alpha=A` and `smoothcache schedule`.
 *
 * Options: k=K (1..16, default 3); averaging=pooled (default: one relL1 over all samples pooled,
 * as the released calibrator computes it) or mean (relL1 per sample, then the mean over samples,
 * as the paper's text describes it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrator.h"
#include "cache/errors.h"
#include "cache/kernels.h"
#include "core/error.h"

typedef struct {
    long k;
    int pooled;
    int steps, depth, samples, n_comp;
    char sampler[32];
    char comp[CACHE_MAX_COMP][32];
    /* Accumulators per [depth][n_comp][k][steps]: mean mode sums per-sample relL1 in `num` and
     * counts in `cnt`; pooled mode sums numerators in `num` and denominators in `den`. */
    double *num, *den;
    long *cnt;
    /* Per generation: the last k outputs of every (block, component), [rows * tokens * hidden]. */
    cache_gen g;
    float **ring;
    size_t row_elems;
} smooth_calib;

static size_t acc_index(const smooth_calib *c, int l, int comp, int j, int i)
{
    return (((size_t)l * c->n_comp + comp) * c->k + (size_t)(j - 1)) * c->steps + (size_t)i;
}

static sc_status smc_create(cache_spec *spec, void **state)
{
    smooth_calib *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    const char *avg = NULL;
    sc_status s = spec_int(spec, "k", 0, 1, 16, 3, &c->k);
    if (!s) s = spec_str(spec, "averaging", 0, &avg);
    if (!s && avg && strcmp(avg, "mean") && strcmp(avg, "pooled"))
        s = err_fail(SC_ERR_ARG, "calibration averaging '%s' is not mean or pooled", avg);
    if (s) {
        free(c);
        return s;
    }
    c->pooled = !avg || !strcmp(avg, "pooled");
    *state = c;
    return SC_OK;
}

static void free_ring(smooth_calib *c)
{
    if (c->ring)
        for (int i = 0; i < c->depth * c->n_comp * (int)c->k; i++) cache_free(&c->g, c->ring[i]);
    free(c->ring);
    c->ring = NULL;
}

static void smc_destroy(void *st)
{
    smooth_calib *c = st;
    if (!c) return;
    free_ring(c);
    free(c->num);
    free(c->den);
    free(c->cnt);
    free(c);
}

static int smc_samples(const void *st) { return ((const smooth_calib *)st)->samples; }

static sc_status obs_begin(void *st, const cache_gen *g)
{
    smooth_calib *c = st;
    if (c->num) {
        if (g->steps != c->steps || g->depth != c->depth || g->comp.n != c->n_comp || strcmp(g->sampler, c->sampler))
            return err_fail(SC_ERR_ARG, "calibration runs must share sampler and steps (%s, %d steps so far; now %s, %d)",
                            c->sampler, c->steps, g->sampler, g->steps);
    } else {
        if (g->steps < 2) return err_fail(SC_ERR_ARG, "calibration needs at least 2 steps");
        if (c->k >= g->steps) return err_fail(SC_ERR_ARG, "calibration lag k=%ld needs more than %d steps", c->k, g->steps);
        c->steps = g->steps;
        c->depth = g->depth;
        c->n_comp = g->comp.n;
        for (int i = 0; i < c->n_comp; i++) snprintf(c->comp[i], sizeof c->comp[i], "%s", g->comp.name[i]);
        snprintf(c->sampler, sizeof c->sampler, "%s", g->sampler);
        size_t n = (size_t)c->depth * c->n_comp * c->k * c->steps;
        c->num = calloc(n, sizeof *c->num);
        c->den = calloc(n, sizeof *c->den);
        c->cnt = calloc(n, sizeof *c->cnt);
        if (!c->num || !c->den || !c->cnt) return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    c->g = *g;
    c->row_elems = (size_t)g->tokens * g->hidden;
    const int slots = c->depth * c->n_comp * (int)c->k;
    c->ring = calloc((size_t)slots, sizeof *c->ring);
    if (!c->ring) return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    for (int i = 0; i < slots; i++)
        if (!(c->ring[i] = cache_alloc(g, (size_t)g->rows * c->row_elems, "calibration history"))) {
            free_ring(c);
            return SC_ERR_NOMEM;
        }
    return SC_OK;
}

static int obs_stores(void *st, int l, int comp) { (void)st; (void)l; (void)comp; return 0; }
static int obs_decide(void *st, int n, int l, int comp) { (void)st; (void)n; (void)l; (void)comp; return 1; }

static void obs_observe(void *st, int n, int l, int comp, const float *out)
{
    smooth_calib *c = st;
    const int images = c->g.images, guided = c->g.rows == 2 * images;
    float **slot = c->ring + ((size_t)l * c->n_comp + comp) * c->k;
    for (int j = 1; j <= c->k && j <= n; j++) {
        const float *prev = slot[(n - j) % c->k];
        const size_t idx = acc_index(c, l, comp, j, n - j);
        for (int i = 0; i < images; i++) {
            double d = 0, r = 0, d2, r2;
            for (int h = 0; h <= guided; h++) {
                size_t off = (size_t)(i + h * images) * c->row_elems;
                cache_l1(&c->g, prev + off, out + off, c->row_elems, &d2, &r2);
                d += d2;
                r += r2;
            }
            if (!c->pooled) {
                c->num[idx] += r > 0 ? d / r : 0.0;
                c->cnt[idx]++;
            } else {
                c->num[idx] += d;
                c->den[idx] += r;
            }
        }
    }
    cache_copy(&c->g, slot[n % c->k], out, (size_t)c->g.rows * c->row_elems);
}

static void obs_end(void *st)
{
    smooth_calib *c = st;
    free_ring(c);
    c->samples += c->g.images;
}

static void obs_destroy(void *st) { (void)st; }

static const cache_policy_ops k_observer = {
    .name = "calibrate smooth",
    .options = "",
    .begin = obs_begin,
    .stores = obs_stores,
    .decide = obs_decide,
    .observe = obs_observe,
    .end = obs_end,
    .destroy = obs_destroy,
};

/* Per-block curves from the accumulators; per-component curves = unweighted mean over blocks. */
static sc_status curves(const smooth_calib *c, cache_errors *e)
{
    if (!c->num || c->samples == 0) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    const char *names[CACHE_MAX_COMP];
    for (int i = 0; i < c->n_comp; i++) names[i] = c->comp[i];
    sc_status s = errors_alloc(e, c->steps, (int)c->k, c->depth, c->n_comp, names);
    if (s) return s;
    e->has_blocks = 1;
    for (int comp = 0; comp < c->n_comp; comp++)
        for (int j = 1; j <= c->k; j++)
            for (int i = 0; i < c->steps - j; i++) {
                double sum = 0;
                int blocks = 0;
                for (int l = 0; l < c->depth; l++) {
                    size_t idx = acc_index(c, l, comp, j, i);
                    double v = !c->pooled ? (c->cnt[idx] ? c->num[idx] / c->cnt[idx] : NAN)
                                          : (c->den[idx] > 0 ? c->num[idx] / c->den[idx] : NAN);
                    *errors_at(e, errors_block_curve(e, l, comp), j, i) = v;
                    if (isfinite(v)) {
                        sum += v;
                        blocks++;
                    }
                }
                *errors_at(e, comp, j, i) = blocks ? sum / blocks : NAN;
            }
    return SC_OK;
}

static sc_status smc_save(const void *st, const char *path, const json_t *meta, int force)
{
    const smooth_calib *c = st;
    cache_errors e;
    sc_status s = curves(c, &e);
    if (s) return s;
    e.meta = meta ? json_deep_copy(meta) : json_object();
    json_object_set_new(e.meta, "sampler", json_string(c->sampler));
    json_object_set_new(e.meta, "steps", json_integer(c->steps));
    json_object_set_new(e.meta, "k", json_integer(c->k));
    json_object_set_new(e.meta, "samples", json_integer(c->samples));
    json_object_set_new(e.meta, "averaging", json_string(c->pooled ? "pooled" : "mean"));
    json_object_set_new(e.meta, "blocks", json_integer(c->depth));
    s = errors_save(path, &e, force);
    errors_free(&e);
    return s;
}

static sc_status smc_figure(const void *st, sc_figure *out)
{
    cache_errors e;
    sc_status s = curves(st, &e);
    if (s) return s;
    s = errors_figure(&e, out);
    errors_free(&e);
    return s;
}

/* [depth, n_comp, k, steps, samples, pooled, num[n], den[n], cnt[n]], n = depth n_comp k steps. */
static size_t smc_export(const void *st, double *out)
{
    const smooth_calib *c = st;
    if (!c->num) return 0;
    const size_t n = (size_t)c->depth * c->n_comp * c->k * c->steps;
    if (out) {
        const double head[6] = {c->depth, c->n_comp, (double)c->k, c->steps, c->samples, c->pooled};
        memcpy(out, head, sizeof head);
        for (size_t i = 0; i < n; i++) out[6 + i] = c->num[i], out[6 + n + i] = c->den[i], out[6 + 2 * n + i] = (double)c->cnt[i];
    }
    return 6 + 3 * n;
}

static sc_status smc_absorb(void *st, const double *in, size_t len)
{
    smooth_calib *c = st;
    if (!len) return SC_OK; /* a process that observed nothing */
    const size_t n = c->num ? (size_t)c->depth * c->n_comp * c->k * c->steps : 0;
    if (!c->num || len != 6 + 3 * n || in[0] != c->depth || in[1] != c->n_comp || in[2] != (double)c->k ||
        in[3] != c->steps || in[5] != c->pooled)
        return err_fail(SC_ERR_ARG, "calibration parts do not match (blocks, components, k, steps or averaging differ)");
    c->samples += (int)in[4];
    for (size_t i = 0; i < n; i++) c->num[i] += in[6 + i], c->den[i] += in[6 + n + i], c->cnt[i] += (long)in[6 + 2 * n + i];
    return SC_OK;
}

const cache_calibrator cache_calibrator_smooth = {
    .what = "error curves: how much each block's component outputs change between evaluations i and i + j",
    .options = "k=K (longest reuse lag, 1..16, default 3), averaging=pooled|mean (default pooled, as the official calibrator)",
    .default_samples = 10,
    .create = smc_create,
    .observer = &k_observer,
    .samples = smc_samples,
    .save = smc_save,
    .figure = smc_figure,
    .export_state = smc_export,
    .absorb = smc_absorb,
    .destroy = smc_destroy,
};
