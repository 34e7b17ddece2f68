#include "cache/stepcalib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/polyfit.h"
#include "cache/stepcache.h"
#include "core/error.h"
#include "io/json.h"
#include "core/mem.h"
#include "io/file.h"
#include "metrics/plot.h"
#include "model/dit_ops.h"

#define TEA_DEGREE 4

struct stepcalib {
    stepcalib_kind kind;
    int steps, depth, samples, gens;
    char sampler[16];
    int failed;               /* out of memory inside a hook (hooks cannot return errors) */
    /* teacache: the (x, y) points. */
    double *x, *y;
    size_t n_pts, cap_pts;
    /* magcache: sum over generations of gamma_n, [steps]. */
    double *ratio_sum;
    /* Per generation. */
    cache_gen g;
    float *m_prev, *m_cur;    /* teacache: [rows * tokens, hidden] modulated inputs */
    double *x_now;            /* teacache: [images] x of the current evaluation, waiting for y */
    float *o_prev;            /* teacache: [o_count] previous model output */
    size_t o_count;
    float *h0;                /* magcache: [rows * tokens, hidden] the stream entering block 0 */
    double *norm_prev;        /* magcache: [rows * tokens] ||R_{n-1}|| per token */
};

sc_status stepcalib_new(stepcalib_kind kind, stepcalib **out)
{
    *out = NULL;
    SC_ASSERT(kind == STEPCALIB_TEACACHE || kind == STEPCALIB_MAGCACHE);
    stepcalib *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    c->kind = kind;
    *out = c;
    return SC_OK;
}

static void free_generation(stepcalib *c)
{
    mem_free(c->m_prev);
    mem_free(c->m_cur);
    mem_free(c->o_prev);
    mem_free(c->h0);
    free(c->x_now);
    free(c->norm_prev);
    c->m_prev = c->m_cur = c->o_prev = c->h0 = NULL;
    c->x_now = c->norm_prev = NULL;
    c->o_count = 0;
}

void stepcalib_free(stepcalib *c)
{
    if (!c) return;
    free_generation(c);
    free(c->x);
    free(c->y);
    free(c->ratio_sum);
    free(c);
}

int stepcalib_samples(const stepcalib *c) { return c->samples; }

static sc_status obs_begin(void *st, const cache_gen *g)
{
    stepcalib *c = st;
    if (c->gens) {
        if (g->steps != c->steps || strcmp(g->sampler, c->sampler))
            return err_fail(SC_ERR_ARG, "calibration runs must share sampler and steps (%s, %d steps so far; now %s, %d)",
                           c->sampler, c->steps, g->sampler, g->steps);
    } else {
        if (g->steps < 2) return err_fail(SC_ERR_ARG, "calibration needs at least 2 steps");
        c->steps = g->steps;
        c->depth = g->depth;
        snprintf(c->sampler, sizeof c->sampler, "%s", g->sampler);
        if (c->kind == STEPCALIB_MAGCACHE && !(c->ratio_sum = calloc((size_t)g->steps, sizeof *c->ratio_sum)))
            return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    c->g = *g;
    free_generation(c);
    const size_t elems = (size_t)g->rows * g->tokens * g->hidden;
    if (c->kind == STEPCALIB_TEACACHE) {
        if (!(c->m_prev = mem_alloc_array(elems, sizeof(float), "calibration history")) ||
            !(c->m_cur = mem_alloc_array(elems, sizeof(float), "calibration history")) ||
            !(c->x_now = calloc((size_t)g->images, sizeof *c->x_now))) {
            free_generation(c);
            return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
        }
    } else if (!(c->h0 = mem_alloc_array(elems, sizeof(float), "calibration history")) ||
               !(c->norm_prev = calloc((size_t)g->rows * g->tokens, sizeof *c->norm_prev))) {
        free_generation(c);
        return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    return SC_OK;
}

static int obs_stores(void *st, int l, cache_comp comp) { (void)st; (void)l; (void)comp; return 0; }

static void tea_boundary(stepcalib *c, int n, const cache_view *v)
{
    const int D = v->hidden;
    ops_ln_modulate(c->m_cur, v->h, v->rows, v->tokens, D, c->g.eps_attn, v->mod, v->mod + D, 6 * D);
    if (n > 0)
        for (int i = 0; i < c->g.images; i++)
            c->x_now[i] = step_rel_sample(c->m_cur, c->m_prev, v->rows, c->g.images, i, (size_t)v->tokens * D);
    float *swap = c->m_prev;
    c->m_prev = c->m_cur;
    c->m_cur = swap;
}

/* ||R_n|| per token of R = h - h0 [rows * tokens, hidden], and gamma_n = their mean ratio to the
 * previous evaluation's (diffusers' MagCache calibration, in double here). */
static void mag_boundary(stepcalib *c, int n, const cache_view *v)
{
    const size_t toks = (size_t)v->rows * v->tokens, D = (size_t)v->hidden;
    double sum = 0;
    for (size_t t = 0; t < toks; t++) {
        const float *h = v->h + t * D, *h0 = c->h0 + t * D;
        double ss = 0;
        for (size_t i = 0; i < D; i++) {
            const double r = (float)(h[i] - h0[i]);
            ss += r * r;
        }
        const double norm = sqrt(ss);
        if (n > 0) sum += norm / (c->norm_prev[t] + 1e-8);
        c->norm_prev[t] = norm;
    }
    c->ratio_sum[n] += n > 0 ? sum / (double)toks : 1.0;
}

static int obs_boundary(void *st, int n, int l, const cache_view *v)
{
    stepcalib *c = st;
    if (c->kind == STEPCALIB_TEACACHE) {
        if (l == 0) tea_boundary(c, n, v);
    } else if (l == 0) {
        memcpy(c->h0, v->h, (size_t)v->rows * v->tokens * v->hidden * sizeof *c->h0);
    } else if (l == c->g.depth) {
        mag_boundary(c, n, v);
    }
    return l;
}

static int add_point(stepcalib *c, double x, double y)
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
    stepcalib *c = st;
    if (c->kind != STEPCALIB_TEACACHE || c->failed) return;
    if (!c->o_prev) {
        if (!(c->o_prev = mem_alloc_array(count, sizeof(float), "calibration history"))) {
            c->failed = 1;
            return;
        }
        c->o_count = count;
    }
    SC_ASSERT(count == c->o_count && count % (size_t)c->g.rows == 0);
    /* The last evaluation is always computed (teacache does not set may_skip_last), so it never decides
     * with its pair; that pair is also the largest change of the run and, left in, bends the
     * least-squares fit below zero where the decisions are made. */
    if (n > 0 && n < c->steps - 1)
        for (int i = 0; i < c->g.images; i++) {
            const double y = step_rel_sample(out, c->o_prev, c->g.rows, c->g.images, i, count / (size_t)c->g.rows);
            /* A NaN (zero reference) says nothing about the relation: left out of the fit. */
            if (isfinite(c->x_now[i]) && isfinite(y) && !add_point(c, c->x_now[i], y)) c->failed = 1;
        }
    memcpy(c->o_prev, out, count * sizeof *out);
}

static void obs_end(void *st)
{
    stepcalib *c = st;
    free_generation(c);
    c->samples += c->g.images;
    c->gens++;
}

static void obs_destroy(void *st) { (void)st; }

const cache_policy_ops cache_stepcalib = {
    .name = "stepcalib",
    .options = "",
    .begin = obs_begin,
    .stores = obs_stores,
    .boundary = obs_boundary,
    .output = obs_output,
    .end = obs_end,
    .destroy = obs_destroy,
};

static sc_status check_observed(const stepcalib *c)
{
    if (c->failed) return err_fail(SC_ERR_NOMEM, "out of memory during calibration");
    if (!c->gens) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    return SC_OK;
}

static json_t *number_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

sc_status stepcalib_save(const stepcalib *c, const char *path, const json_t *meta, int force)
{
    sc_status s = check_observed(c);
    double coef[TEA_DEGREE + 1];
    if (!s && c->kind == STEPCALIB_TEACACHE) s = polyfit(c->x, c->y, (int)c->n_pts, TEA_DEGREE, coef);
    if (s) return s;
    json_t *root = json_object(), *m = meta ? json_deep_copy(meta) : json_object();
    json_object_set_new(m, "sampler", json_string(c->sampler));
    json_object_set_new(m, "steps", json_integer(c->steps));
    json_object_set_new(m, "samples", json_integer(c->samples));
    json_object_set_new(m, "blocks", json_integer(c->depth));
    if (c->kind == STEPCALIB_TEACACHE) {
        json_object_set_new(m, "policy", json_string("teacache"));
        json_object_set_new(m, "x", json_string("relL1(m_n, m_n-1) of block 0's modulated input, per sample"));
        json_object_set_new(m, "y", json_string("relL1(o_n, o_n-1) of the model output, per sample"));
        json_object_set_new(m, "coef", json_string("least squares, degree 4, x^4 first (x scaled to [-1, 1], QR)"));
        json_object_set_new(root, "_meta", m);
        json_object_set_new(root, "coef", number_array(coef, TEA_DEGREE + 1));
        json_object_set_new(root, "x", number_array(c->x, c->n_pts));
        json_object_set_new(root, "y", number_array(c->y, c->n_pts));
    } else {
        json_object_set_new(m, "policy", json_string("magcache"));
        json_object_set_new(m, "ratios", json_string("mean over tokens of ||R_n|| / ||R_n-1||, R = hL - h0; "
                                                     "mean over generations"));
        json_object_set_new(root, "_meta", m);
        double *r = malloc(sizeof(double) * (size_t)c->steps);
        if (!r) {
            json_decref(root);
            return err_fail(SC_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < c->steps; i++) r[i] = c->ratio_sum[i] / c->gens;
        json_object_set_new(root, "ratios", number_array(r, (size_t)c->steps));
        free(r);
    }
    /* 17 digits: the file round-trips the doubles exactly. */
    s = json_save(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(17), force);
    json_decref(root);
    return s;
}

#define FIT_POINTS 200

static void x_range(const stepcalib *c, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < c->n_pts; i++) {
        *lo = fmin(*lo, c->x[i]);
        *hi = fmax(*hi, c->x[i]);
    }
}

int stepcalib_fit_negative(const stepcalib *c, double *x_at)
{
    double coef[TEA_DEGREE + 1], lo, hi;
    if (c->kind != STEPCALIB_TEACACHE || check_observed(c) ||
        polyfit(c->x, c->y, (int)c->n_pts, TEA_DEGREE, coef))
        return 0;
    x_range(c, &lo, &hi);
    for (int i = 0; i < FIT_POINTS; i++) {
        const double x = lo + (hi - lo) * i / (FIT_POINTS - 1);
        if (polyval(coef, TEA_DEGREE, x) < 0) {
            *x_at = x;
            return 1;
        }
    }
    return 0;
}

static sc_status plot_teacache(const stepcalib *c, const char *path, int force)
{
    double coef[TEA_DEGREE + 1];
    sc_status s = polyfit(c->x, c->y, (int)c->n_pts, TEA_DEGREE, coef);
    if (s) return s;
    /* The points as a scatter: a NaN between two points breaks the line, leaving the markers. */
    const size_t n = c->n_pts, ns = 2 * n - 1;
    double *sx = malloc(sizeof(double) * 2 * (ns + FIT_POINTS));
    if (!sx) return err_fail(SC_ERR_NOMEM, "out of memory");
    double *sy = sx + ns, *fx = sy + ns, *fy = fx + FIT_POINTS;
    double lo, hi;
    for (size_t i = 0; i < ns; i++) {
        sx[i] = i % 2 ? NAN : c->x[i / 2];
        sy[i] = i % 2 ? NAN : c->y[i / 2];
    }
    x_range(c, &lo, &hi);
    for (int i = 0; i < FIT_POINTS; i++) {
        fx[i] = lo + (hi - lo) * i / (FIT_POINTS - 1);
        fy[i] = polyval(coef, TEA_DEGREE, fx[i]);
    }
    plot_spec p = {.title = "TeaCache calibration: output vs input change",
                   .x_label = "relL1 of block 0's modulated input", .y_label = "relL1 of the model output",
                   .n_series = 2,
                   .series = {{.name = "evaluations", .x = sx, .y = sy, .n = (int)ns, .markers = 1},
                              {.name = "degree-4 fit", .x = fx, .y = fy, .n = FIT_POINTS}}};
    s = plot_lines_png(path, &p, force);
    free(sx);
    return s;
}

static sc_status plot_magcache(const stepcalib *c, const char *path, int force)
{
    double *x = malloc(sizeof(double) * 2 * (size_t)c->steps);
    if (!x) return err_fail(SC_ERR_NOMEM, "out of memory");
    double *y = x + c->steps;
    for (int i = 0; i < c->steps; i++) {
        x[i] = i;
        y[i] = c->ratio_sum[i] / c->gens;
    }
    plot_spec p = {.title = "MagCache calibration: residual magnitude ratio",
                   .x_label = "evaluation n (0 = noisiest)", .y_label = "mean ||R_n|| / ||R_n-1||",
                   .n_series = 1, .series = {{.name = "gamma", .x = x, .y = y, .n = c->steps, .markers = 1}}};
    sc_status s = plot_lines_png(path, &p, force);
    free(x);
    return s;
}

sc_status stepcalib_plot(const stepcalib *c, const char *path, int force)
{
    sc_status s = check_observed(c);
    if (s) return s;
    return c->kind == STEPCALIB_TEACACHE ? plot_teacache(c, path, force) : plot_magcache(c, path, force);
}
