/* The calibration file: {"_meta": {...}, "attn": [[lag 1: T-1 values], [lag 2: T-2], ...],
 * "mlp": [...], "per_block": {"attn-0": [[...], ...], ...}}. */
#include "cache/errors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "metrics/plot.h"

#define ERRORS_FILE_CAP (64u << 20)

sc_status errors_alloc(cache_errors *e, int steps, int k, int depth)
{
    memset(e, 0, sizeof *e);
    if (steps < 2 || steps > 1000 || k < 1 || k >= steps || depth < 1 || depth > 1024)
        return err_fail(SC_ERR_ARG, "calibration needs 2..1000 steps, 1 <= k < steps (got steps %d, k %d)", steps, k);
    size_t n = (size_t)(COMP_N + (size_t)depth * COMP_N) * (size_t)k * (size_t)steps;
    e->v = malloc(n * sizeof *e->v);
    if (!e->v) return err_fail(SC_ERR_NOMEM, "out of memory for error curves");
    for (size_t i = 0; i < n; i++) e->v[i] = NAN;
    e->steps = steps;
    e->k = k;
    e->depth = depth;
    return SC_OK;
}

void errors_free(cache_errors *e)
{
    free(e->v);
    if (e->meta) json_decref(e->meta);
    memset(e, 0, sizeof *e);
}

static json_t *curves_json(const cache_errors *e, int curve)
{
    json_t *lags = json_array();
    for (int j = 1; j <= e->k; j++) {
        json_t *a = json_array();
        for (int i = 0; i < e->steps - j; i++) {
            double v = *errors_at(e, curve, j, i);
            json_array_append_new(a, isfinite(v) ? json_real(v) : json_null());
        }
        json_array_append_new(lags, a);
    }
    return lags;
}

sc_status errors_save(const char *path, const cache_errors *e, int force)
{
    json_t *root = json_object();
    if (e->meta) json_object_set(root, "_meta", e->meta);
    for (int c = 0; c < COMP_N; c++) json_object_set_new(root, cache_comp_names[c], curves_json(e, c));
    if (e->has_blocks) {
        json_t *pb = json_object();
        for (int l = 0; l < e->depth; l++)
            for (int c = 0; c < COMP_N; c++) {
                char key[48];
                snprintf(key, sizeof key, "%s-%d", cache_comp_names[c], l);
                json_object_set_new(pb, key, curves_json(e, errors_block_curve(l, c)));
            }
        json_object_set_new(root, "per_block", pb);
    }
    sc_status s = json_save(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(9), force);
    json_decref(root);
    return s;
}

/* [[lag 1 values], ..., [lag k values]] into `curve`; every lag must have steps - j entries. */
static sc_status read_curves(cache_errors *e, int curve, const json_t *a, const char *path, const char *key)
{
    if (!json_is_array(a) || (int)json_array_size(a) != e->k)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be an array of %d lag curves", path, key, e->k);
    for (int j = 1; j <= e->k; j++) {
        const json_t *row = json_array_get(a, (size_t)j - 1);
        if (!json_is_array(row) || (int)json_array_size(row) != e->steps - j)
            return err_fail(SC_ERR_FORMAT, "%s: \"%s\" lag %d must have %d values", path, key, j, e->steps - j);
        for (int i = 0; i < e->steps - j; i++) {
            const json_t *v = json_array_get(row, (size_t)i);
            if (json_is_null(v)) continue; /* a curve no sample reached stays undefined */
            double x = json_number_value(v);
            if (!json_is_number(v) || !(x >= 0.0 && x <= 1e6))
                return err_fail(SC_ERR_FORMAT, "%s: \"%s\" lag %d value %d is not a non-negative number", path, key, j, i);
            *errors_at(e, curve, j, i) = x;
        }
    }
    return SC_OK;
}

sc_status errors_load(const char *path, cache_errors *e)
{
    json_t *j;
    memset(e, 0, sizeof *e);
    sc_status s = json_load_object_file(path, ERRORS_FILE_CAP, &j);
    if (s) return s;
    s = errors_from_object(j, path, e);
    json_decref(j);
    return s;
}

sc_status errors_from_object(const json_t *j, const char *path, cache_errors *e)
{
    sc_status s;
    memset(e, 0, sizeof *e);
    const json_t *attn = json_object_get(j, "attn"), *pb = json_object_get(j, "per_block");
    const json_t *meta = json_object_get(j, "_meta");
    if (!json_is_array(attn) || json_array_size(attn) < 1 || !json_is_array(json_array_get(attn, 0)))
        return err_fail(SC_ERR_FORMAT, "%s: not a calibration file (no \"attn\" curves; make one with smoothcache calibrate)", path);
    int k = (int)json_array_size(attn);
    int steps = (int)json_array_size(json_array_get(attn, 0)) + 1;
    int depth = 1;
    const json_t *blocks = json_object_get(meta, "blocks");
    if (json_is_integer(blocks) && json_integer_value(blocks) >= 1 && json_integer_value(blocks) <= 1024)
        depth = (int)json_integer_value(blocks);
    if (pb) {
        if (!json_is_object(pb) || json_object_size(pb) % COMP_N || json_object_size(pb) == 0)
            return err_fail(SC_ERR_FORMAT, "%s: \"per_block\" must hold attn-<b> and mlp-<b> curves for every block", path);
        if ((int)(json_object_size(pb) / COMP_N) != depth && json_is_integer(blocks))
            return err_fail(SC_ERR_FORMAT, "%s: \"per_block\" has curves for %zu blocks but _meta says %d", path,
                           json_object_size(pb) / COMP_N, depth);
        depth = (int)(json_object_size(pb) / COMP_N);
    }
    if ((s = errors_alloc(e, steps, k, depth))) goto done;
    for (int c = 0; c < COMP_N && !s; c++)
        s = read_curves(e, c, json_object_get(j, cache_comp_names[c]), path, cache_comp_names[c]);
    if (!s && pb) {
        e->has_blocks = 1;
        for (int l = 0; l < depth && !s; l++)
            for (int c = 0; c < COMP_N && !s; c++) {
                char key[48];
                snprintf(key, sizeof key, "%s-%d", cache_comp_names[c], l);
                const json_t *a = json_object_get(pb, key);
                if (!a) s = err_fail(SC_ERR_FORMAT, "%s: per_block lacks \"%s\"", path, key);
                else s = read_curves(e, errors_block_curve(l, c), a, path, key);
            }
    }
    if (!s && json_is_object(meta)) e->meta = json_incref((json_t *)meta);
done:
    if (s) errors_free(e);
    return s;
}

sc_status errors_plot(const char *path, const cache_errors *e, int force)
{
    const int lags = e->k < PLOT_MAX_SERIES / COMP_N ? e->k : PLOT_MAX_SERIES / COMP_N;
    plot_spec p = {.title = "SmoothCache calibration: change from i to i+lag",
                   .x_label = "evaluation i (0 = noisiest)", .y_label = "relative L1 error"};
    double *x = malloc(sizeof(double) * (size_t)e->steps);
    double *y = malloc(sizeof(double) * (size_t)(COMP_N * lags * e->steps));
    char names[PLOT_MAX_SERIES][32];
    if (!x || !y) {
        free(x);
        free(y);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < e->steps; i++) x[i] = i;
    for (int c = 0; c < COMP_N; c++)
        for (int j = 1; j <= lags; j++) {
            plot_series *s = &p.series[p.n_series];
            double *yy = y + (size_t)p.n_series * e->steps;
            for (int i = 0; i < e->steps - j; i++) yy[i] = *errors_at(e, c, j, i);
            snprintf(names[p.n_series], sizeof names[0], "%s, lag %d", cache_comp_names[c], j);
            s->name = names[p.n_series];
            s->x = x;
            s->y = yy;
            s->n = e->steps - j;
            s->palette = j;
            s->dashed = c == COMP_MLP;
            p.n_series++;
        }
    sc_status st = plot_lines_png(path, &p, force);
    free(x);
    free(y);
    return st;
}
