/* SmoothCache calibration as an observer policy: it computes everything and, each time a block's
 * attention or MLP output y_n is produced, accumulates relL1(y_{n-j}, y_n) = sum|y_{n-j} - y_n| /
 * sum|y_n| for the lags j = 1..k it has kept (CACHING.md 1.3), per block, per sample (a sample
 * is an image's conditional and unconditional rows together). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrate.h"
#include "cache/stepcache.h"
#include "core/error.h"
#include "core/mem.h"

struct sc_calibration {
    int k;
    sc_calib_avg avg;
    int steps, depth, samples;
    char sampler[16];
    /* Accumulators per [depth][COMP_N][k][steps]: mean mode sums per-sample relL1 in `num` and
     * counts in `cnt`; pooled mode sums numerators in `num` and denominators in `den`. */
    double *num, *den;
    long *cnt;
    /* Per generation: the last k outputs of every (block, comp), [rows * tokens * hidden] each. */
    float **ring;
    int rows, images;
    size_t row_elems;
};

static size_t acc_index(const sc_calibration *c, int l, int comp, int j, int i)
{
    return (((size_t)l * COMP_N + comp) * c->k + (size_t)(j - 1)) * c->steps + (size_t)i;
}

sc_status sc_calibration_new(int k, sc_calib_avg avg, sc_calibration **out)
{
    *out = NULL;
    if (k < 1 || k > 16) return err_fail(SC_ERR_ARG, "calibration lag depth k must be in 1..16 (got %d)", k);
    if (avg != SC_CALIB_MEAN && avg != SC_CALIB_POOLED) return err_fail(SC_ERR_ARG, "unknown averaging mode");
    sc_calibration *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    c->k = k;
    c->avg = avg;
    *out = c;
    return SC_OK;
}

static void free_ring(sc_calibration *c)
{
    if (c->ring)
        for (int i = 0; i < c->depth * COMP_N * c->k; i++) mem_free(c->ring[i]);
    free(c->ring);
    c->ring = NULL;
}

void sc_calibration_free(sc_calibration *c)
{
    if (!c) return;
    free_ring(c);
    free(c->num);
    free(c->den);
    free(c->cnt);
    free(c);
}

int sc_calibration_samples(const sc_calibration *c) { return c->samples; }

static sc_status calib_begin(void *st, const cache_gen *g)
{
    sc_calibration *c = st;
    if (c->num) {
        if (g->steps != c->steps || g->depth != c->depth || strcmp(g->sampler, c->sampler))
            return err_fail(SC_ERR_ARG, "calibration runs must share sampler and steps (%s, %d steps so far; now %s, %d)",
                           c->sampler, c->steps, g->sampler, g->steps);
    } else {
        if (g->steps < 2) return err_fail(SC_ERR_ARG, "calibration needs at least 2 steps");
        if (c->k >= g->steps) return err_fail(SC_ERR_ARG, "calibration lag k=%d needs more than %d steps", c->k, g->steps);
        c->steps = g->steps;
        c->depth = g->depth;
        snprintf(c->sampler, sizeof c->sampler, "%s", g->sampler);
        size_t n = (size_t)c->depth * COMP_N * c->k * c->steps;
        c->num = calloc(n, sizeof *c->num);
        c->den = calloc(n, sizeof *c->den);
        c->cnt = calloc(n, sizeof *c->cnt);
        if (!c->num || !c->den || !c->cnt) return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    }
    c->rows = g->rows;
    c->images = g->images;
    c->row_elems = (size_t)g->tokens * g->hidden;
    c->ring = calloc((size_t)c->depth * COMP_N * c->k, sizeof *c->ring);
    if (!c->ring) return err_fail(SC_ERR_NOMEM, "out of memory for calibration");
    for (int i = 0; i < c->depth * COMP_N * c->k; i++)
        if (!(c->ring[i] = mem_alloc_array((size_t)c->rows * c->row_elems, sizeof(float), "calibration history"))) {
            free_ring(c);
            return SC_ERR_NOMEM;
        }
    return SC_OK;
}

static int calib_stores(void *st, int l, cache_comp comp) { (void)st; (void)l; (void)comp; return 0; }
static int calib_decide(void *st, int n, int l, cache_comp comp) { (void)st; (void)n; (void)l; (void)comp; return 1; }

static void calib_observe(void *st, int n, int l, cache_comp comp, const float *out)
{
    sc_calibration *c = st;
    const int guided = c->rows == 2 * c->images;
    for (int j = 1; j <= c->k && j <= n; j++) {
        const float *prev = c->ring[((size_t)l * COMP_N + comp) * c->k + (size_t)((n - j) % c->k)];
        const size_t idx = acc_index(c, l, comp, j, n - j);
        for (int i = 0; i < c->images; i++) {
            double d = 0, r = 0, d2, r2;
            for (int h = 0; h <= guided; h++) {
                size_t off = (size_t)(i + h * c->images) * c->row_elems;
                step_l1(prev + off, out + off, c->row_elems, &d2, &r2);
                d += d2;
                r += r2;
            }
            if (c->avg == SC_CALIB_MEAN) {
                c->num[idx] += r > 0 ? d / r : 0.0;
                c->cnt[idx]++;
            } else {
                c->num[idx] += d;
                c->den[idx] += r;
            }
        }
    }
    memcpy(c->ring[((size_t)l * COMP_N + comp) * c->k + (size_t)(n % c->k)], out,
           (size_t)c->rows * c->row_elems * sizeof(float));
}

static void calib_end(void *st)
{
    sc_calibration *c = st;
    free_ring(c);
    c->samples += c->images;
}

static void calib_destroy(void *st) { (void)st; }

const cache_policy_ops cache_calibrate = {
    .name = "calibrate",
    .options = "k=K",
    .begin = calib_begin,
    .stores = calib_stores,
    .decide = calib_decide,
    .observe = calib_observe,
    .end = calib_end,
    .destroy = calib_destroy,
};

/* Per-block curves from the accumulators; per-type curves = unweighted mean over blocks. */
static sc_status calib_curves(const sc_calibration *c, cache_errors *e)
{
    sc_status s = errors_alloc(e, c->steps, c->k, c->depth);
    if (s) return s;
    e->has_blocks = 1;
    for (int comp = 0; comp < COMP_N; comp++)
        for (int j = 1; j <= c->k; j++)
            for (int i = 0; i < c->steps - j; i++) {
                double sum = 0;
                int blocks = 0;
                for (int l = 0; l < c->depth; l++) {
                    size_t idx = acc_index(c, l, comp, j, i);
                    double v = c->avg == SC_CALIB_MEAN ? (c->cnt[idx] ? c->num[idx] / c->cnt[idx] : NAN)
                                                       : (c->den[idx] > 0 ? c->num[idx] / c->den[idx] : NAN);
                    *errors_at(e, errors_block_curve(l, comp), j, i) = v;
                    if (isfinite(v)) {
                        sum += v;
                        blocks++;
                    }
                }
                *errors_at(e, comp, j, i) = blocks ? sum / blocks : NAN;
            }
    return SC_OK;
}

sc_status calibration_curves(const sc_calibration *c, cache_errors *e, json_t *meta)
{
    if (!c->num || c->samples == 0) return err_fail(SC_ERR_ARG, "the calibration has observed no generation");
    sc_status s = calib_curves(c, e);
    if (s) return s;
    e->meta = meta ? json_incref(meta) : json_object();
    json_object_set_new(e->meta, "sampler", json_string(c->sampler));
    json_object_set_new(e->meta, "steps", json_integer(c->steps));
    json_object_set_new(e->meta, "k", json_integer(c->k));
    json_object_set_new(e->meta, "samples", json_integer(c->samples));
    json_object_set_new(e->meta, "averaging", json_string(c->avg == SC_CALIB_MEAN ? "mean" : "pooled"));
    json_object_set_new(e->meta, "blocks", json_integer(c->depth));
    return SC_OK;
}

sc_status sc_calibration_save(const sc_calibration *c, const char *path, int force)
{
    cache_errors e;
    sc_status s = calibration_curves(c, &e, NULL);
    if (s) return s;
    s = errors_save(path, &e, force);
    errors_free(&e);
    return s;
}
