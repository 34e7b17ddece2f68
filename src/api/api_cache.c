/* The public API's caching entry points: the registered policies, calibrations for the policies
 * that need one, their figures, and SmoothCache schedules made from calibrated curves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/errors.h"
#include "cache/schedule.h"
#include "cache/spec.h"
#include "core/error.h"
#include "metrics/plot.h"
#include "pipeline/pipeline.h"

int sc_policy_at(int i, sc_policy_desc *out)
{
    const cache_policy_ops *p = cache_policy_at(i);
    if (!p) return 0;
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->about = p->about;
    out->options = p->options;
    if (p->calibrator) {
        out->calibration = p->calibrator->what;
        out->calibration_options = p->calibrator->options;
        out->calibration_samples = p->calibrator->default_samples;
    }
    return 1;
}

/* ---------------------------------------------------------------- calibrations */

sc_status sc_calibration_new(const char *text, sc_calibration **out)
{
    *out = NULL;
    cache_spec spec;
    sc_status s = spec_parse(text, &spec);
    if (s) return s;
    const cache_policy_ops *p = cache_policy_find(spec.name);
    if (!p) return err_fail(SC_ERR_ARG, "calibration: unknown policy '%s' (known: %s)", spec.name, cache_policy_names());
    if (!p->calibrator) {
        char which[256] = "";
        size_t n = 0;
        for (int i = 0; cache_policy_at(i); i++)
            if (cache_policy_at(i)->calibrator)
                n += (size_t)snprintf(which + n, sizeof which - n, "%s%s", n ? ", " : "", cache_policy_at(i)->name);
        return err_fail(SC_ERR_ARG, "calibration: %s needs none (the policies that calibrate: %s)", spec.name, which);
    }
    sc_calibration *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    c->cal = p->calibrator;
    snprintf(c->policy, sizeof c->policy, "%s", spec.name);
    if ((s = c->cal->create(&spec, &c->state))) {
        free(c);
        return s;
    }
    if ((s = spec_check_unused(&spec, c->cal->options))) {
        sc_calibration_free(c);
        return s;
    }
    *out = c;
    return SC_OK;
}

void sc_calibration_free(sc_calibration *c)
{
    if (!c) return;
    c->cal->destroy(c->state);
    if (c->meta) json_decref(c->meta);
    free(c);
}

int sc_calibration_samples(const sc_calibration *c) { return c->cal->samples(c->state); }

/* [n, the n classes observed (as _meta records them), the calibrator's own export]. */
sc_status sc_calibration_export(const sc_calibration *c, double *out, size_t cap, size_t *n)
{
    if (!c->cal->export_state) return err_fail(SC_ERR_UNSUPPORTED, "this calibration cannot be split over processes");
    const json_t *cls = c->meta ? json_object_get(c->meta, "classes") : NULL;
    const size_t nc = cls ? json_array_size(cls) : 0;
    *n = 1 + nc + c->cal->export_state(c->state, NULL);
    if (out && cap < *n) return err_fail(SC_ERR_ARG, "sc_calibration_export: room for %zu values, %zu needed", cap, *n);
    if (out) {
        out[0] = (double)nc;
        for (size_t i = 0; i < nc; i++) out[1 + i] = (double)json_integer_value(json_array_get(cls, i));
        c->cal->export_state(c->state, out + 1 + nc);
    }
    return SC_OK;
}

sc_status sc_calibration_absorb(sc_calibration *c, const double *in, size_t n)
{
    if (!c->cal->absorb) return err_fail(SC_ERR_UNSUPPORTED, "this calibration cannot be split over processes");
    const size_t nc = n ? (size_t)in[0] : 0;
    if (!n || nc > n - 1 || in[0] != (double)nc)
        return err_fail(SC_ERR_ARG, "sc_calibration_absorb: not a calibration export");
    if (nc && !c->meta) return err_fail(SC_ERR_ARG, "sc_calibration_absorb: this calibration has observed nothing yet");
    sc_status s = c->cal->absorb(c->state, in + 1 + nc, n - 1 - nc);
    if (!s && nc) {
        json_t *cls = json_object_get(c->meta, "classes");
        for (size_t i = 0; i < nc; i++) json_array_append_new(cls, json_integer((json_int_t)in[1 + i]));
    }
    return s;
}

/* A float as the shortest decimal that reads back as the same float (2.048f: 2.048, not
 * 2.0480000972747803). */
static double float_decimal(float v)
{
    char buf[32];
    for (int prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        const double d = strtod(buf, NULL);
        if ((float)d == v) return d;
    }
    return (double)v;
}

/* The per-sample numbers the generations were conditioned on (a clip's seconds_start and
 * seconds_total): meta[name] = the value when every observed sample had the same one, else
 * {"min": a, "max": b}. */
static void record_scalars(json_t *meta, const sc_cond *cond)
{
    for (int k = 0; k < cond->n_scalars; k++) {
        const sc_scalar *sc = &cond->scalars[k];
        if (!sc->name || !sc->values || cond->n < 1) continue;
        double lo = float_decimal(sc->values[0]), hi = lo;
        for (int i = 1; i < cond->n; i++) {
            const double v = float_decimal(sc->values[i]);
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        const json_t *was = json_object_get(meta, sc->name);
        if (json_is_number(was)) {
            const double v = json_number_value(was);
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        } else if (json_is_object(was)) {
            const double a = json_number_value(json_object_get(was, "min")), b = json_number_value(json_object_get(was, "max"));
            lo = a < lo ? a : lo, hi = b > hi ? b : hi;
        }
        if (lo == hi) {
            json_object_set_new(meta, sc->name, json_real(lo));
        } else {
            json_t *range = json_object();
            json_object_set_new(range, "min", json_real(lo));
            json_object_set_new(range, "max", json_real(hi));
            json_object_set_new(meta, sc->name, range);
        }
    }
}

sc_status calibration_record(sc_calibration *c, const sc_model *p, const sc_gen_params *gp)
{
    const model *m = p->net;
    if (!c->meta) {
        c->meta = json_object();
        json_object_set_new(c->meta, "model", json_string(p->path));
        json_object_set_new(c->meta, "dtype", json_string(sc_dtype_name(p->net->be->dtype)));
        json_object_set_new(c->meta, "cfg", json_real(gp->cfg));
        json_object_set_new(c->meta, "seed", json_integer((json_int_t)gp->seed));
        json_object_set_new(c->meta, "classes", json_array());
        json_t *macs = json_object();
        json_object_set_new(macs, "forward", json_integer((json_int_t)m->macs_forward));
        for (int k = 0; k < m->n_comp; k++) json_object_set_new(macs, m->comp[k].name, json_integer((json_int_t)m->macs_comp[k]));
        json_object_set_new(c->meta, "macs_per_sample", macs);
        json_object_set_new(c->meta, "layout", json_string(m->layout));
        /* A diffusers-layout model's schedules are written with diffusers' module names (the first
         * alias of each component: attn1, ff), so that the official diffusers helper finds them. */
        if (!strcmp(m->layout, "diffusers")) {
            json_t *keys = json_object();
            for (int k = 0; k < m->n_comp; k++) {
                const char *a = m->comp[k].aliases;
                if (!a || !*a) continue;
                const size_t len = strcspn(a, " ");
                json_object_set_new(keys, m->comp[k].name, json_stringn(a, len));
            }
            json_object_set_new(c->meta, "schedule_keys", keys);
        }
    }
    json_t *classes = json_object_get(c->meta, "classes");
    for (int i = 0; gp->cond->classes && i < gp->cond->n; i++)
        json_array_append_new(classes, json_integer(gp->cond->classes[i]));
    record_scalars(c->meta, gp->cond);
    return SC_OK;
}

sc_status sc_calibration_save(const sc_calibration *c, const char *path, int force)
{
    return c->cal->save(c->state, path, c->meta, force);
}

const char *sc_calibration_warning(const sc_calibration *c)
{
    return c->cal->warning ? c->cal->warning(c->state) : NULL;
}

sc_status sc_calibration_figure(const sc_calibration *c, sc_figure *out) { return c->cal->figure(c->state, out); }

/* ---------------------------------------------------------------- figures */

void sc_figure_free(sc_figure *f)
{
    free(f->storage);
    memset(f, 0, sizeof *f);
}

sc_status sc_figure_write_png(const sc_figure *f, const char *path, int force)
{
    if (f->n_series < 0 || f->n_series > PLOT_MAX_SERIES) return err_fail(SC_ERR_ARG, "a figure has 0..%d series", PLOT_MAX_SERIES);
    plot_spec p = {.title = f->title, .x_label = f->x_label, .y_label = f->y_label, .n_series = f->n_series};
    for (int i = 0; i < f->n_series; i++) {
        const sc_series *s = &f->series[i];
        p.series[i] = (plot_series){.name = s->name, .x = s->x, .y = s->y, .n = s->n, .palette = s->palette,
                                    .dashed = s->dashed, .markers = s->markers, .labels = s->labels};
    }
    return plot_lines_png(path, &p, force);
}

/* ---------------------------------------------------------------- schedules */

/* The key each curve's component is written under: the calibration's _meta.schedule_keys names
 * them for diffusers-layout models ({"attn": "attn1", "mlp": "ff"}), else the curve's own name. */
static void schedule_keys(const cache_errors *e, const char **keys)
{
    const json_t *map = e->meta ? json_object_get(e->meta, "schedule_keys") : NULL;
    for (int c = 0; c < e->n_comp; c++) {
        const json_t *k = json_object_get(map, e->comp[c]);
        const char *v = json_string_value(k);
        keys[c] = v && *v && strlen(v) < 32 && !strchr(v, '-') && v[0] != '_' ? v : e->comp[c];
    }
}

/* MACs per sample from the calibration's _meta: "forward" and one entry per component. */
static int meta_macs(const cache_errors *e, uint64_t *fwd, uint64_t *comp)
{
    const json_t *m = e->meta ? json_object_get(e->meta, "macs_per_sample") : NULL;
    const json_t *f = json_object_get(m, "forward");
    if (!json_is_integer(f) || json_integer_value(f) <= 0) return 0;
    double per_block = 0;
    for (int c = 0; c < e->n_comp; c++) {
        const json_t *v = json_object_get(m, e->comp[c]);
        if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
        comp[c] = (uint64_t)json_integer_value(v);
        per_block += (double)comp[c];
    }
    if (e->depth * per_block > (double)json_integer_value(f)) return 0;
    *fwd = (uint64_t)json_integer_value(f);
    return 1;
}

sc_status sc_schedule_make(const char *errors_path, const sc_schedule_opts *o, const char *out_path, int force,
                           sc_schedule_summary *summary)
{
    if (isnan(o->alpha) == isnan(o->target_macs))
        return err_fail(SC_ERR_ARG, "a schedule needs exactly one of a threshold alpha and a MAC target");
    if (o->solver == SC_SOLVER_DP && isnan(o->target_macs))
        return err_fail(SC_ERR_ARG, "the DP solver optimises for a MAC target: give one");
    cache_errors e;
    cache_schedule s = {0};
    sc_status st = errors_load(errors_path, &e);
    if (st) return st;
    cache_comps comps = {.n = e.n_comp};
    for (int c = 0; c < e.n_comp; c++) comps.name[c] = e.comp[c];
    uint64_t fwd = 0, macs[CACHE_MAX_COMP] = {0};
    const int have_macs = meta_macs(&e, &fwd, macs);
    double alpha = o->alpha;
    int computed = 0;
    st = schedule_alloc(&s, e.depth, e.steps, &comps);
    if (!st && !isnan(o->target_macs) && !have_macs)
        st = err_fail(SC_ERR_FORMAT, "%s: no MAC counts in _meta: a MAC target needs a file from smoothcache calibrate",
                      errors_path);
    if (!st && o->solver == SC_SOLVER_DP) st = schedule_dp_for_budget(&e, o->target_macs, o->per_block, fwd, macs, &s, &computed);
    else if (!st && !isnan(o->target_macs)) st = schedule_for_budget(&e, o->target_macs, o->per_block, fwd, macs, &s, &alpha);
    else if (!st) st = schedule_from_errors(&e, alpha, o->per_block, &s);
    if (!st) {
        json_t *meta = json_object();
        if (e.meta) json_object_update(meta, e.meta);
        json_object_del(meta, "classes");
        if (o->solver == SC_SOLVER_DP) {
            json_object_set_new(meta, "solver", json_string("dp"));
            json_object_set_new(meta, "computed", json_integer(computed));
        } else {
            json_object_set_new(meta, "solver", json_string("greedy"));
            json_object_set_new(meta, "alpha", json_real(alpha));
        }
        json_object_set_new(meta, "per_block", json_boolean(o->per_block));
        if (have_macs) json_object_set_new(meta, "mac_ratio", json_real(schedule_mac_ratio(&s, fwd, macs)));
        const char *keys[CACHE_MAX_COMP];
        schedule_keys(&e, keys);
        st = schedule_save(out_path, &s, keys, meta, force);
        json_decref(meta);
    }
    if (!st && summary) {
        memset(summary, 0, sizeof *summary);
        summary->alpha = alpha;
        summary->computed = computed;
        summary->mac_ratio = have_macs ? schedule_mac_ratio(&s, fwd, macs) : NAN;
        summary->depth = s.depth;
        summary->steps = s.steps;
        summary->n_components = e.n_comp;
        for (int c = 0; c < e.n_comp; c++) {
            snprintf(summary->components[c], sizeof summary->components[c], "%s", e.comp[c]);
            for (int l = 0; l < s.depth; l++) summary->computes[c] += schedule_computed(&s, l, c);
        }
    }
    schedule_free(&s);
    errors_free(&e);
    return st;
}

sc_status sc_cache_spec_check(const char *spec)
{
    if (!spec || !*spec) return err_fail(SC_ERR_ARG, "empty cache policy spec");
    cache_run *r;
    sc_status s = cache_run_create(spec, &r);
    if (!s) cache_run_free(r);
    return s;
}
