/* The calibration file of SmoothCache: error curves per component and lag (errors.h). */
#include "cache/errors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrator.h"
#include "core/error.h"
#include "io/json.h"

#define ERRORS_FILE_CAP (64u << 20)

sc_status errors_alloc(cache_errors *e, int steps, int k, int depth, int n_comp, const char *const *names)
{
    return errors_alloc_curves(e, steps, k, depth, 1, n_comp, names);
}

sc_status errors_alloc_curves(cache_errors *e, int steps, int k, int depth, int with_blocks, int n_comp,
                              const char *const *names)
{
    memset(e, 0, sizeof *e);
    if (steps < 2 || steps > 1000 || k < 1 || k >= steps || k > ERRORS_MAX_K || depth < 1 || depth > 1024)
        return err_fail(SC_ERR_ARG, "calibration needs 2..1000 steps, 1 <= k < steps, k <= %d (got steps %d, k %d)",
                        ERRORS_MAX_K, steps, k);
    if (n_comp < 1 || n_comp > CACHE_MAX_COMP)
        return err_fail(SC_ERR_ARG, "calibration curves for %d components (1..%d)", n_comp, CACHE_MAX_COMP);
    size_t n = (size_t)(n_comp + (with_blocks ? (size_t)depth * n_comp : 0)) * (size_t)k * (size_t)steps;
    e->v = malloc(n * sizeof *e->v);
    if (!e->v) return err_fail(SC_ERR_NOMEM, "out of memory for error curves");
    for (size_t i = 0; i < n; i++) e->v[i] = NAN;
    e->steps = steps;
    e->k = k;
    e->depth = depth;
    e->n_comp = n_comp;
    for (int c = 0; c < n_comp; c++) snprintf(e->comp[c], sizeof e->comp[c], "%s", names[c]);
    return SC_OK;
}

void errors_free(cache_errors *e)
{
    free(e->v);
    if (e->meta) json_decref(e->meta);
    memset(e, 0, sizeof *e);
}

int errors_comp(const cache_errors *e, const char *name)
{
    for (int c = 0; c < e->n_comp; c++)
        if (!strcmp(e->comp[c], name)) return c;
    return -1;
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
    for (int c = 0; c < e->n_comp; c++) json_object_set_new(root, e->comp[c], curves_json(e, c));
    if (e->has_blocks) {
        json_t *pb = json_object();
        for (int l = 0; l < e->depth; l++)
            for (int c = 0; c < e->n_comp; c++) {
                char key[48];
                snprintf(key, sizeof key, "%s-%d", e->comp[c], l);
                json_object_set_new(pb, key, curves_json(e, errors_block_curve(e, l, c)));
            }
        json_object_set_new(root, "per_block", pb);
    }
    sc_status s = json_save(path, root, JSON_INDENT(1) | JSON_REAL_PRECISION(9), force);
    json_decref(root);
    return s;
}

/* The shape of [[lag 1 values], ..., [lag k values]]: k lags, lag j with steps - j entries. Checked
 * for every curve before anything is allocated, so that memory follows what the file holds. */
static sc_status check_shape(const json_t *a, int k, int steps, const char *path, const char *key)
{
    if (!json_is_array(a) || (int)json_array_size(a) != k)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be an array of %d lag curves", path, key, k);
    for (int j = 1; j <= k; j++) {
        const json_t *row = json_array_get(a, (size_t)j - 1);
        if (!json_is_array(row) || (int)json_array_size(row) != steps - j)
            return err_fail(SC_ERR_FORMAT, "%s: \"%s\" lag %d must have %d values", path, key, j, steps - j);
    }
    return SC_OK;
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

/* A component's curves: an array whose first entry is an array (lag 1). */
static int is_curves(const char *key, const json_t *v)
{
    return key[0] != '_' && strcmp(key, "per_block") && json_is_array(v) && json_array_size(v) >= 1 &&
           json_is_array(json_array_get(v, 0));
}

sc_status errors_from_object(const json_t *j, const char *path, cache_errors *e)
{
    sc_status s;
    memset(e, 0, sizeof *e);
    const json_t *pb = json_object_get(j, "per_block"), *meta = json_object_get(j, "_meta");
    const char *names[CACHE_MAX_COMP], *key;
    const json_t *first = NULL;
    json_t *val;
    int n_comp = 0;
    json_object_foreach((json_t *)j, key, val) {
        if (!is_curves(key, val)) continue;
        if (n_comp == CACHE_MAX_COMP)
            return err_fail(SC_ERR_FORMAT, "%s: curves for more than %d components", path, CACHE_MAX_COMP);
        if (strlen(key) >= sizeof e->comp[0] || strchr(key, '-'))
            return err_fail(SC_ERR_FORMAT, "%s: \"%.40s\" is not a component name", path, key);
        if (!first) first = val;
        names[n_comp++] = key;
    }
    const json_t *policy = json_object_get(meta, "policy");
    if (!n_comp && json_is_string(policy))
        return err_fail(SC_ERR_FORMAT, "%s: a calibration for %s, not SmoothCache's error curves (it is the cache policy %s's; "
                                       "SmoothCache's come from sc_calibration_new(\"smooth\"))", path,
                        json_string_value(policy), json_string_value(policy));
    if (!n_comp)
        return err_fail(SC_ERR_FORMAT, "%s: not a calibration file (no component curves such as \"attn\"; make one "
                                       "with smoothcache calibrate)", path);
    const size_t k_file = json_array_size(first), steps_file = json_array_size(json_array_get(first, 0)) + 1;
    if (k_file > ERRORS_MAX_K || steps_file > 1000 || steps_file < 2 || k_file >= steps_file)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" has %zu lags over %zu evaluations; a calibration has 1..%d lags, "
                                       "fewer than its 2..1000 evaluations", path, names[0], k_file, steps_file, ERRORS_MAX_K);
    const int k = (int)k_file, steps = (int)steps_file;
    for (int c = 0; c < n_comp; c++)
        if ((s = check_shape(json_object_get(j, names[c]), k, steps, path, names[c]))) return s;
    int depth = 1;
    const json_t *blocks = json_object_get(meta, "blocks");
    if (json_is_integer(blocks) && json_integer_value(blocks) >= 1 && json_integer_value(blocks) <= 1024)
        depth = (int)json_integer_value(blocks);
    const size_t per = (size_t)n_comp;
    if (pb) {
        if (!json_is_object(pb) || json_object_size(pb) % per || json_object_size(pb) == 0)
            return err_fail(SC_ERR_FORMAT, "%s: \"per_block\" must hold <component>-<block> curves of every component "
                                           "for every block", path);
        if ((int)(json_object_size(pb) / per) != depth && json_is_integer(blocks))
            return err_fail(SC_ERR_FORMAT, "%s: \"per_block\" has curves for %zu blocks but _meta says %d", path,
                            json_object_size(pb) / per, depth);
        depth = (int)(json_object_size(pb) / per);
        if (depth > 1024) return err_fail(SC_ERR_FORMAT, "%s: \"per_block\" has curves for %d blocks (at most 1024)", path, depth);
        for (int l = 0; l < depth; l++)
            for (int c = 0; c < n_comp; c++) {
                char bkey[48];
                snprintf(bkey, sizeof bkey, "%s-%d", names[c], l);
                const json_t *a = json_object_get(pb, bkey);
                if (!a) return err_fail(SC_ERR_FORMAT, "%s: per_block lacks \"%s\"", path, bkey);
                if ((s = check_shape(a, k, steps, path, bkey))) return s;
            }
    }
    if ((s = errors_alloc_curves(e, steps, k, depth, pb != NULL, n_comp, names))) goto done;
    for (int c = 0; c < n_comp && !s; c++) s = read_curves(e, c, json_object_get(j, e->comp[c]), path, e->comp[c]);
    if (!s && pb) {
        e->has_blocks = 1;
        for (int l = 0; l < depth && !s; l++)
            for (int c = 0; c < n_comp && !s; c++) {
                char bkey[48];
                snprintf(bkey, sizeof bkey, "%s-%d", e->comp[c], l);
                const json_t *a = json_object_get(pb, bkey);
                if (!a) s = err_fail(SC_ERR_FORMAT, "%s: per_block lacks \"%s\"", path, bkey);
                else s = read_curves(e, errors_block_curve(e, l, c), a, path, bkey);
            }
    }
    if (!s && json_is_object(meta)) e->meta = json_incref((json_t *)meta);
done:
    if (s) errors_free(e);
    return s;
}

sc_status errors_figure(const cache_errors *e, sc_figure *out)
{
    int lags = e->k;
    while (lags > 1 && e->n_comp * lags > SC_FIGURE_MAX_SERIES) lags--;
    const int comps = e->n_comp < SC_FIGURE_MAX_SERIES ? e->n_comp : SC_FIGURE_MAX_SERIES;
    sc_status s = figure_alloc(out, comps * lags, (size_t)e->steps);
    if (s) return s;
    out->title = "SmoothCache calibration: change from i to i+lag";
    out->x_label = "evaluation i (0 = noisiest)";
    out->y_label = "relative L1 error";
    for (int c = 0; c < comps; c++)
        for (int j = 1; j <= lags; j++) {
            const int i_s = c * lags + j - 1;
            double *x, *y;
            char *name;
            figure_series(out, i_s, &x, &y, &name);
            for (int i = 0; i < e->steps - j; i++) {
                x[i] = i;
                y[i] = *errors_at(e, c, j, i);
            }
            snprintf(name, 64, "%s, lag %d", e->comp[c], j);
            sc_series *se = &out->series[i_s];
            se->n = e->steps - j;
            se->palette = j;
            se->dashed = c > 0;
        }
    return SC_OK;
}
