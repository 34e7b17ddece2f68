/* MagCache's calibrator (`smoothcache calibrate --for magcache`): over uncached generations,
 * gamma_n = mean over the tokens of every row of ||R_n||_2 / (||R_{n-1}||_2 + 1e-8), R = hL - h0
 * the residual of the whole block stack (gamma_0 = 1; the 1e-8 is diffusers' calibration guard),
 * averaged over generations; saved as {"_meta": {...}, "ratios": [gamma_0, ...]} for
 * `--cache magcache:ratios=FILE`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrator.h"
#include "cache/kernels.h"
#include "core/error.h"
#include "io/json.h"

typedef struct {
    int steps, depth, samples, gens;
    char sampler[32];
    double *ratio_sum;        /* [steps]: the sum over generations of gamma_n */
    /* Per generation. */
    cache_gen g;
    float *h0;                /* [rows * tokens, hidden] the stream entering block 0 */
    double *norm, *norm_prev; /* [rows * tokens] ||R_n||, ||R_{n-1}|| per token */
} mag_calib;

static sc_status mc_create(cache_spec *spec, void **state)
{
    (void)spec;
    mag_calib *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    *state = c;
    return SC_OK;
}

static void free_generation(mag_calib *c)
{
    if (c->g.be) cache_free(&c->g, c->h0);
    free(c->norm);
    free(c->norm_prev);
    c->h0 = NULL;
    c->norm = c->norm_prev = NULL;
}

static void mc_destroy(void *st)
{
    mag_calib *c = st;
    if (!c) return;
    free_generation(c);
    free(c->ratio_sum);
    free(c);
}

static int mc_samples(const void *st) { return ((const mag_calib *)st)->samples; }

static sc_status obs_begin(void *st, const cache_gen *g)
{
    mag_calib *c = st;
    if (c->gens) {
        if (g->steps != c->steps || strcmp(g->sampler, c->sampler))
            return err_fail(SC_ERR_ARG, "calibration runs must share sampler and steps (%s, %d steps so far; now %s, %d)",
                            c->sampler, c->steps, g->sampler, g->steps);
    } else {
        if (g->steps < 2) return err_fail(SC_ERR_ARG, "calibration needs at least 2 steps");
        c->steps = g->steps;
        c->depth = g->depth;
        snprintf(c->sampler, sizeof c->sampler, "%s", g->sampler);
        if (!(c->ratio_sum = calloc((size_t)g->steps, sizeof *c->ratio_sum)))
            return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    free_generation(c);
    c->g = *g;
    const size_t toks = (size_t)g->rows * g->tokens;
    if (!(c->h0 = cache_alloc(g, toks * g->hidden, "calibration history")) ||
        !(c->norm = calloc(toks, sizeof *c->norm)) || !(c->norm_prev = calloc(toks, sizeof *c->norm_prev))) {
        free_generation(c);
        return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    return SC_OK;
}

static int obs_stores(void *st, int l, int comp) { (void)st; (void)l; (void)comp; return 0; }

/* gamma_n from the per-token norms of R_n and R_{n-1} (diffusers' MagCache calibration, in double). */
static void ratio(mag_calib *c, int n, const cache_view *v)
{
    const size_t toks = (size_t)v->rows * v->tokens;
    cache_residual_norms(&c->g, v->h, c->h0, toks, v->hidden, c->norm);
    double sum = 0;
    for (size_t t = 0; t < toks; t++) {
        if (n > 0) sum += c->norm[t] / (c->norm_prev[t] + 1e-8);
        c->norm_prev[t] = c->norm[t];
    }
    c->ratio_sum[n] += n > 0 ? sum / (double)toks : 1.0;
}

static int obs_boundary(void *st, int n, int l, const cache_view *v)
{
    mag_calib *c = st;
    if (l == 0) cache_copy(&c->g, c->h0, v->h, (size_t)v->rows * v->tokens * v->hidden);
    else if (l == c->g.depth) ratio(c, n, v);
    return l;
}

static void obs_end(void *st)
{
    mag_calib *c = st;
    free_generation(c);
    c->samples += c->g.images;
    c->gens++;
}

static void obs_destroy(void *st) { (void)st; }

static const cache_policy_ops k_observer = {
    .name = "calibrate magcache",
    .options = "",
    .begin = obs_begin,
    .stores = obs_stores,
    .boundary = obs_boundary,
    .end = obs_end,
    .destroy = obs_destroy,
};

static sc_status mc_save(const void *st, const char *path, const json_t *meta, int force)
{
    const mag_calib *c = st;
    if (!c->gens) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    json_t *root = json_object(), *m = meta ? json_deep_copy(meta) : json_object();
    json_object_set_new(m, "sampler", json_string(c->sampler));
    json_object_set_new(m, "steps", json_integer(c->steps));
    json_object_set_new(m, "samples", json_integer(c->samples));
    json_object_set_new(m, "blocks", json_integer(c->depth));
    json_object_set_new(m, "policy", json_string("magcache"));
    json_object_set_new(m, "ratios", json_string("mean over tokens of ||R_n|| / ||R_n-1||, R = hL - h0; "
                                                 "mean over generations"));
    json_object_set_new(root, "_meta", m);
    json_t *a = json_array();
    for (int i = 0; i < c->steps; i++) json_array_append_new(a, json_real(c->ratio_sum[i] / c->gens));
    json_object_set_new(root, "ratios", a);
    /* 17 digits: the file round-trips the doubles exactly. */
    sc_status s = json_save(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(17), force);
    json_decref(root);
    return s;
}

static sc_status mc_figure(const void *st, sc_figure *out)
{
    const mag_calib *c = st;
    if (!c->gens) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    sc_status s = figure_alloc(out, 1, (size_t)c->steps);
    if (s) return s;
    out->title = "MagCache calibration: residual magnitude ratio";
    out->x_label = "evaluation n (0 = noisiest)";
    out->y_label = "mean ||R_n|| / ||R_n-1||";
    double *x, *y;
    char *name;
    figure_series(out, 0, &x, &y, &name);
    snprintf(name, 64, "gamma");
    for (int i = 0; i < c->steps; i++) {
        x[i] = i;
        y[i] = c->ratio_sum[i] / c->gens;
    }
    out->series[0].markers = 1;
    return SC_OK;
}

/* [steps, depth, gens, samples, ratio_sum[steps]]. */
static size_t mc_export(const void *st, double *out)
{
    const mag_calib *c = st;
    if (!c->gens) return 0;
    if (out) {
        out[0] = c->steps, out[1] = c->depth, out[2] = c->gens, out[3] = c->samples;
        memcpy(out + 4, c->ratio_sum, (size_t)c->steps * sizeof *out);
    }
    return 4 + (size_t)c->steps;
}

static sc_status mc_absorb(void *st, const double *in, size_t len)
{
    mag_calib *c = st;
    if (!len) return SC_OK;
    if (!c->gens || len != 4 + (size_t)c->steps || in[0] != c->steps || in[1] != c->depth)
        return err_fail(SC_ERR_ARG, "calibration parts do not match (steps or blocks differ)");
    c->gens += (int)in[2];
    c->samples += (int)in[3];
    for (int i = 0; i < c->steps; i++) c->ratio_sum[i] += in[4 + i];
    return SC_OK;
}

const cache_calibrator cache_calibrator_magcache = {
    .what = "the magnitude ratios of the block stack's residual from one evaluation to the next",
    .options = "no options",
    .default_samples = 1,
    .create = mc_create,
    .observer = &k_observer,
    .samples = mc_samples,
    .save = mc_save,
    .figure = mc_figure,
    .export_state = mc_export,
    .absorb = mc_absorb,
    .destroy = mc_destroy,
};
