/* TeaCache's calibrator (`smoothcache calibrate --for teacache`): over uncached generations it
 * records, per sample and evaluation 1 <= n < steps - 1 (the last one always computes, so its
 * pair never meets a decision), x = relL1(m_n, m_{n-1}) of block 0's modulated input and
 * y = relL1(o_n, o_{n-1}) of the model output (all output channels), a sample being an image's
 * conditional and unconditional rows together; saved with the degree-4 least-squares fit
 * (polyfit.h) as {"_meta": {...}, "coef": [c0..c4] (x^4 first, teacache's coef= order),
 * "x": [...], "y": [...]} for `--cache teacache:coef_file=FILE`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrator.h"
#include "cache/kernels.h"
#include "cache/polyfit.h"
#include "core/error.h"
#include "io/json.h"

#define TEA_DEGREE 4
#define FIT_POINTS 200

typedef struct {
    int steps, depth, samples, gens;
    char sampler[32];
    int failed;               /* out of memory inside a hook (hooks cannot return errors) */
    double *x, *y;            /* the (x, y) points */
    size_t n_pts, cap_pts;
    char warning[256];
    /* Per generation. */
    cache_gen g;
    float *m_prev, *m_cur;    /* [rows * tokens, hidden] modulated inputs */
    double *x_now;            /* [images] x of the current evaluation, waiting for y */
    float *o_prev;            /* [o_count] previous model output */
    size_t o_count;
} tea_calib;

static sc_status tc_create(cache_spec *spec, void **state)
{
    (void)spec;
    tea_calib *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    *state = c;
    return SC_OK;
}

static void free_generation(tea_calib *c)
{
    if (c->g.be) {
        cache_free(&c->g, c->m_prev);
        cache_free(&c->g, c->m_cur);
        cache_free(&c->g, c->o_prev);
    }
    free(c->x_now);
    c->m_prev = c->m_cur = c->o_prev = NULL;
    c->x_now = NULL;
    c->o_count = 0;
}

static void tc_destroy(void *st)
{
    tea_calib *c = st;
    if (!c) return;
    free_generation(c);
    free(c->x);
    free(c->y);
    free(c);
}

static int tc_samples(const void *st) { return ((const tea_calib *)st)->samples; }

static sc_status obs_begin(void *st, const cache_gen *g)
{
    tea_calib *c = st;
    if (!g->has_modulated_input)
        return err_fail(SC_ERR_ARG, "TeaCache's signal is block 0's modulated input, which this model's blocks do not have");
    if (c->gens) {
        if (g->steps != c->steps || strcmp(g->sampler, c->sampler))
            return err_fail(SC_ERR_ARG, "calibration runs must share sampler and steps (%s, %d steps so far; now %s, %d)",
                            c->sampler, c->steps, g->sampler, g->steps);
    } else {
        if (g->steps < 2) return err_fail(SC_ERR_ARG, "calibration needs at least 2 steps");
        c->steps = g->steps;
        c->depth = g->depth;
        snprintf(c->sampler, sizeof c->sampler, "%s", g->sampler);
    }
    free_generation(c);
    c->g = *g;
    const size_t elems = (size_t)g->rows * g->tokens * g->hidden;
    if (!(c->m_prev = cache_alloc(g, elems, "calibration history")) ||
        !(c->m_cur = cache_alloc(g, elems, "calibration history")) ||
        !(c->x_now = calloc((size_t)g->images, sizeof *c->x_now))) {
        free_generation(c);
        return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    return SC_OK;
}

static int obs_stores(void *st, int l, int comp) { (void)st; (void)l; (void)comp; return 0; }

static int obs_boundary(void *st, int n, int l, const cache_view *v)
{
    tea_calib *c = st;
    if (l != 0) return l;
    if (v->modulated_input(v, c->m_cur)) {
        c->failed = 1;
        return l;
    }
    if (n > 0)
        for (int i = 0; i < c->g.images; i++)
            c->x_now[i] = cache_rel_sample(&c->g, c->m_cur, c->m_prev, v->rows, i, (size_t)v->tokens * v->hidden);
    float *swap = c->m_prev;
    c->m_prev = c->m_cur;
    c->m_cur = swap;
    return l;
}

static int add_point(tea_calib *c, double x, double y)
{
    if (c->n_pts == c->cap_pts) {
        const size_t cap = c->cap_pts ? 2 * c->cap_pts : 256;
        double *nx = realloc(c->x, cap * sizeof *nx);
        if (nx) c->x = nx;
        double *ny = nx ? realloc(c->y, cap * sizeof *ny) : NULL;
        if (!ny) return 0;
        c->y = ny;
        c->cap_pts = cap;
    }
    c->x[c->n_pts] = x;
    c->y[c->n_pts] = y;
    c->n_pts++;
    return 1;
}

static void obs_output(void *st, int n, const float *out, size_t count)
{
    tea_calib *c = st;
    if (c->failed) return;
    if (!c->o_prev) {
        if (!(c->o_prev = cache_alloc(&c->g, count, "calibration history"))) {
            c->failed = 1;
            return;
        }
        c->o_count = count;
    }
    SC_ASSERT(count == c->o_count && count % (size_t)c->g.rows == 0);
    /* The last evaluation is always computed (teacache does not set may_skip_last), so it never
     * decides with its pair; that pair is also the largest change of the run and, left in, bends
     * the least-squares fit below zero where the decisions are made. */
    if (n > 0 && n < c->steps - 1)
        for (int i = 0; i < c->g.images; i++) {
            const double y = cache_rel_sample(&c->g, out, c->o_prev, c->g.rows, i, count / (size_t)c->g.rows);
            /* A NaN (zero reference) says nothing about the relation: left out of the fit. */
            if (isfinite(c->x_now[i]) && isfinite(y) && !add_point(c, c->x_now[i], y)) c->failed = 1;
        }
    cache_copy(&c->g, c->o_prev, out, count);
}

static void obs_end(void *st)
{
    tea_calib *c = st;
    free_generation(c);
    c->samples += c->g.images;
    c->gens++;
}

static void obs_destroy(void *st) { (void)st; }

static const cache_policy_ops k_observer = {
    .name = "calibrate teacache",
    .options = "",
    .begin = obs_begin,
    .stores = obs_stores,
    .boundary = obs_boundary,
    .output = obs_output,
    .end = obs_end,
    .destroy = obs_destroy,
};

static sc_status fit(const tea_calib *c, double *coef)
{
    if (c->failed) return err_fail(SC_ERR_NOMEM, "out of memory during calibration");
    if (!c->gens) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    return polyfit(c->x, c->y, (int)c->n_pts, TEA_DEGREE, coef);
}

static json_t *number_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

static sc_status tc_save(const void *st, const char *path, const json_t *meta, int force)
{
    const tea_calib *c = st;
    double coef[TEA_DEGREE + 1];
    sc_status s = fit(c, coef);
    if (s) return s;
    json_t *root = json_object(), *m = meta ? json_deep_copy(meta) : json_object();
    json_object_set_new(m, "sampler", json_string(c->sampler));
    json_object_set_new(m, "steps", json_integer(c->steps));
    json_object_set_new(m, "samples", json_integer(c->samples));
    json_object_set_new(m, "blocks", json_integer(c->depth));
    json_object_set_new(m, "policy", json_string("teacache"));
    json_object_set_new(m, "x", json_string("relL1(m_n, m_n-1) of block 0's modulated input, per sample"));
    json_object_set_new(m, "y", json_string("relL1(o_n, o_n-1) of the model output, per sample"));
    json_object_set_new(m, "coef", json_string("least squares, degree 4, x^4 first (x scaled to [-1, 1], QR)"));
    json_object_set_new(root, "_meta", m);
    json_object_set_new(root, "coef", number_array(coef, TEA_DEGREE + 1));
    json_object_set_new(root, "x", number_array(c->x, c->n_pts));
    json_object_set_new(root, "y", number_array(c->y, c->n_pts));
    /* 17 digits: the file round-trips the doubles exactly. */
    s = json_save(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(17), force);
    json_decref(root);
    return s;
}

static void x_range(const tea_calib *c, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < c->n_pts; i++) {
        *lo = fmin(*lo, c->x[i]);
        *hi = fmax(*hi, c->x[i]);
    }
}

/* A fit negative somewhere between the smallest and the largest observed x: the policy would
 * accumulate such steps as negative change. */
static const char *tc_warning(void *st)
{
    tea_calib *c = st;
    double coef[TEA_DEGREE + 1], lo, hi;
    if (c->failed || !c->gens || polyfit(c->x, c->y, (int)c->n_pts, TEA_DEGREE, coef)) return NULL;
    x_range(c, &lo, &hi);
    for (int i = 0; i < FIT_POINTS; i++) {
        const double x = lo + (hi - lo) * i / (FIT_POINTS - 1);
        if (polyval(coef, TEA_DEGREE, x) < 0) {
            snprintf(c->warning, sizeof c->warning,
                     "the fitted polynomial is negative at x = %.4g, inside the observed range; TeaCache would count "
                     "such steps as negative change (more samples may help)",
                     x);
            return c->warning;
        }
    }
    return NULL;
}

/* The points as a scatter (a NaN between two points breaks the line, leaving the markers) and
 * the fit as a line. */
static sc_status tc_figure(const void *st, sc_figure *out)
{
    const tea_calib *c = st;
    double coef[TEA_DEGREE + 1];
    sc_status s = fit(c, coef);
    if (s) return s;
    const size_t n = c->n_pts, ns = 2 * n - 1;
    if ((s = figure_alloc(out, 2, ns > FIT_POINTS ? ns : FIT_POINTS))) return s;
    out->title = "TeaCache calibration: output vs input change";
    out->x_label = "relL1 of block 0's modulated input";
    out->y_label = "relL1 of the model output";
    double *sx, *sy, *fx, *fy;
    char *name;
    figure_series(out, 0, &sx, &sy, &name);
    snprintf(name, 64, "evaluations");
    for (size_t i = 0; i < ns; i++) {
        sx[i] = i % 2 ? NAN : c->x[i / 2];
        sy[i] = i % 2 ? NAN : c->y[i / 2];
    }
    out->series[0].n = (int)ns;
    out->series[0].markers = 1;
    figure_series(out, 1, &fx, &fy, &name);
    snprintf(name, 64, "degree-4 fit");
    double lo, hi;
    x_range(c, &lo, &hi);
    for (int i = 0; i < FIT_POINTS; i++) {
        fx[i] = lo + (hi - lo) * i / (FIT_POINTS - 1);
        fy[i] = polyval(coef, TEA_DEGREE, fx[i]);
    }
    out->series[1].n = FIT_POINTS;
    return SC_OK;
}

/* [steps, gens, samples, n_pts, x[n_pts], y[n_pts]]: the points are appended on absorb (the fit
 * is over all points; their order changes its sums only by rounding). */
static size_t tc_export(const void *st, double *out)
{
    const tea_calib *c = st;
    if (!c->gens) return 0;
    if (out) {
        out[0] = c->steps, out[1] = c->gens, out[2] = c->samples, out[3] = (double)c->n_pts;
        memcpy(out + 4, c->x, c->n_pts * sizeof *out);
        memcpy(out + 4 + c->n_pts, c->y, c->n_pts * sizeof *out);
    }
    return 4 + 2 * c->n_pts;
}

static sc_status tc_absorb(void *st, const double *in, size_t len)
{
    tea_calib *c = st;
    if (!len) return SC_OK;
    const size_t n = len >= 4 ? (size_t)in[3] : 0;
    if (!c->gens || len < 4 || len != 4 + 2 * n || in[0] != c->steps)
        return err_fail(SC_ERR_ARG, "calibration parts do not match (steps differ)");
    for (size_t i = 0; i < n; i++)
        if (!add_point(c, in[4 + i], in[4 + n + i])) return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    c->gens += (int)in[1];
    c->samples += (int)in[2];
    return SC_OK;
}

const cache_calibrator cache_calibrator_teacache = {
    .what = "the rescaling polynomial: model output change against block 0's modulated input change",
    .options = "no options",
    .default_samples = 10,
    .create = tc_create,
    .observer = &k_observer,
    .samples = tc_samples,
    .save = tc_save,
    .figure = tc_figure,
    .warning = tc_warning,
    .export_state = tc_export,
    .absorb = tc_absorb,
    .destroy = tc_destroy,
};
