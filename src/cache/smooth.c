/* smooth: SmoothCache (Liu et al., arXiv 2411.10510). A static 0/1 schedule per block and
 * component, from a schedule file or generated at generation start from calibrated error curves
 * and a threshold alpha; a 0 reuses the raw output stored at the last 1 (docs/CACHING.md). Its
 * calibrator (smooth_calibrate.c) measures the error curves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibrator.h"
#include "cache/errors.h"
#include "cache/policy.h"
#include "cache/predict.h"
#include "cache/schedule.h"
#include "core/error.h"

extern const cache_calibrator cache_calibrator_smooth;

typedef struct {
    json_t *file;          /* schedule=FILE, parsed once (schedule_read) */
    char path[1024];
    cache_errors errors;   /* errors=FILE, alpha=A */
    double alpha;
    long per_block;
    cache_schedule sched;  /* resolved for the current generation */
    int predicting;        /* predict=taylorN|abK: extrapolate instead of reusing on a 0 */
    predict_kind pkind;
    int porder;
    int n_comp;
    predictor pred;
} smooth_state;

static void smooth_destroy(void *st)
{
    smooth_state *s = st;
    if (!s) return;
    if (s->file) json_decref(s->file);
    errors_free(&s->errors);
    schedule_free(&s->sched);
    predict_free(&s->pred);
    free(s);
}

static sc_status smooth_create(cache_spec *spec, void **state)
{
    smooth_state *s = calloc(1, sizeof *s);
    if (!s) return err_fail(SC_ERR_NOMEM, "out of memory");
    const char *file = NULL, *errors = NULL;
    sc_status st = spec_str(spec, "schedule", 0, &file);
    if (!st) st = spec_str(spec, "errors", 0, &errors);
    if (!st) st = spec_num(spec, "alpha", errors != NULL, 0.0, 1e6, 0.0, &s->alpha);
    if (!st) st = spec_int(spec, "per_block", 0, 0, 1, 0, &s->per_block);
    const char *pred = NULL;
    if (!st) st = spec_str(spec, "predict", 0, &pred);
    if (!st && pred && strcmp(pred, "reuse")) {
        s->predicting = 1;
        st = predict_parse(pred, &s->pkind, &s->porder);
    }
    if (!st && !file == !errors)
        st = err_fail(SC_ERR_ARG, "cache policy smooth: give either schedule=FILE or errors=FILE,alpha=A");
    if (!st && file && (spec_has(spec, "alpha") || spec_has(spec, "per_block")))
        st = err_fail(SC_ERR_ARG, "cache policy smooth: alpha and per_block go with errors=FILE, not with schedule=FILE");
    if (!st && file) {
        snprintf(s->path, sizeof s->path, "%s", file);
        st = schedule_read(file, &s->file);
    }
    if (!st && errors) {
        snprintf(s->path, sizeof s->path, "%s", errors);
        st = errors_load(errors, &s->errors);
    }
    if (st) {
        smooth_destroy(s);
        return st;
    }
    *state = s;
    return SC_OK;
}

static sc_status smooth_begin(void *st, const cache_gen *g)
{
    smooth_state *s = st;
    char context[96];
    snprintf(context, sizeof context, "%s, %d steps", g->sampler, g->steps);
    schedule_free(&s->sched);
    s->n_comp = g->comp.n;
    sc_status r = schedule_alloc(&s->sched, g->depth, g->steps, &g->comp);
    if (!r && s->predicting)
        r = predict_init(&s->pred, g, s->pkind, s->porder, g->depth * g->comp.n, (size_t)g->rows * g->tokens * g->hidden);
    if (r) return r;
    if (s->file) {
        schedule_check_meta(json_object_get(s->file, "_meta"), s->path, g);
        return schedule_from_json(s->file, s->path, context, &s->sched);
    }
    schedule_check_meta(s->errors.meta, s->path, g);
    r = schedule_from_errors(&s->errors, s->alpha, (int)s->per_block, &s->sched);
    if (r) err_prefix(s->path);
    return r;
}

static int smooth_stores(void *st, int l, int c)
{
    smooth_state *s = st;
    const unsigned char *r = schedule_row(&s->sched, l, c);
    for (int i = 1; i < s->sched.steps - 1; i++)
        if (!r[i]) return 1;
    return 0;
}

static int smooth_decide(void *st, int n, int l, int c)
{
    smooth_state *s = st;
    if (schedule_row(&s->sched, l, c)[n]) return CACHE_COMPUTE;
    return s->predicting ? CACHE_PREDICT : CACHE_REUSE;
}

static void smooth_observe(void *st, int n, int l, int c, const float *out)
{
    smooth_state *s = st;
    if (s->predicting) predict_update(&s->pred, l * s->n_comp + c, n, out);
}

static void smooth_predict(void *st, int n, int l, int c, float *out)
{
    smooth_state *s = st;
    predict_eval(&s->pred, l * s->n_comp + c, n, out);
}

static void smooth_end(void *st)
{
    smooth_state *s = st;
    schedule_free(&s->sched);
    predict_free(&s->pred);
}

const cache_policy_ops cache_smooth = {
    .name = "smooth",
    .about = "SmoothCache: a calibrated static schedule per component (or block)",
    .options = "schedule=FILE | errors=FILE,alpha=A[,per_block=1]; predict=reuse|taylor1..4|ab2..4",
    .calibrator = &cache_calibrator_smooth,
    .create = smooth_create,
    .begin = smooth_begin,
    .stores = smooth_stores,
    .decide = smooth_decide,
    .observe = smooth_observe,
    .predict = smooth_predict,
    .end = smooth_end,
    .destroy = smooth_destroy,
};
