/* smooth: SmoothCache (Liu et al., arXiv 2411.10510). A static 0/1 schedule per block and
 * component, from a schedule file or generated at generation start from calibrated error curves
 * and a threshold alpha; a 0 reuses the raw output stored at the last 1 (CACHING.md 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/errors.h"
#include "cache/policy.h"
#include "cache/predict.h"
#include "cache/schedule.h"
#include "core/error.h"
#include "io/json.h"

typedef struct {
    json_t *file;          /* schedule=FILE, parsed once */
    char path[1024];
    cache_errors errors;   /* errors=FILE, alpha=A */
    double alpha;
    long per_block;
    cache_schedule sched;  /* resolved for the current generation */
    int predicting;        /* predict=taylorN|abK: extrapolate instead of reusing on a 0 */
    predict_kind pkind;
    int porder;
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
        st = err_fail(SC_ERR_ARG, "--cache smooth: give either schedule=FILE or errors=FILE,alpha=A");
    if (!st && file && (spec_has(spec, "alpha") || spec_has(spec, "per_block")))
        st = err_fail(SC_ERR_ARG, "--cache smooth: alpha and per_block go with errors=FILE, not with schedule=FILE");
    if (!st && file) {
        snprintf(s->path, sizeof s->path, "%s", file);
        st = json_load_object_file(file, SC_JSON_FILE_CAP, &s->file);
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

/* Warns when the file's _meta says it was made for another sampler or step count. */
static void check_meta(const smooth_state *s, const json_t *meta, const cache_gen *g)
{
    if (!json_is_object(meta)) return;
    const json_t *sampler = json_object_get(meta, "sampler"), *steps = json_object_get(meta, "steps");
    if (json_is_string(sampler) && strcmp(json_string_value(sampler), g->sampler))
        err_warn("%s was made for the %s sampler; this generation uses %s", s->path, json_string_value(sampler), g->sampler);
    if (json_is_integer(steps) && json_integer_value(steps) != g->steps)
        err_warn("%s was made for %lld steps; this generation makes %d", s->path, (long long)json_integer_value(steps), g->steps);
}

static sc_status smooth_begin(void *st, const cache_gen *g)
{
    smooth_state *s = st;
    char context[96];
    snprintf(context, sizeof context, "%s, %d steps", g->sampler, g->steps);
    schedule_free(&s->sched);
    sc_status r = schedule_alloc(&s->sched, g->depth, g->steps);
    if (!r && s->predicting)
        r = predict_init(&s->pred, s->pkind, s->porder, g->depth * COMP_N, (size_t)g->rows * g->tokens * g->hidden);
    if (r) return r;
    if (s->file) {
        check_meta(s, json_object_get(s->file, "_meta"), g);
        return schedule_from_json(s->file, s->path, context, &s->sched);
    }
    check_meta(s, s->errors.meta, g);
    r = schedule_from_errors(&s->errors, s->alpha, (int)s->per_block, &s->sched);
    if (r) err_prefix(s->path);
    return r;
}

static int smooth_stores(void *st, int l, cache_comp c)
{
    smooth_state *s = st;
    const unsigned char *r = schedule_row(&s->sched, l, c);
    for (int i = 1; i < s->sched.steps - 1; i++)
        if (!r[i]) return 1;
    return 0;
}

static int smooth_decide(void *st, int n, int l, cache_comp c)
{
    smooth_state *s = st;
    if (schedule_row(&s->sched, l, c)[n]) return CACHE_COMPUTE;
    return s->predicting ? CACHE_PREDICT : CACHE_REUSE;
}

static void smooth_observe(void *st, int n, int l, cache_comp c, const float *out)
{
    smooth_state *s = st;
    if (s->predicting) predict_update(&s->pred, l * COMP_N + c, n, out);
}

static void smooth_predict(void *st, int n, int l, cache_comp c, float *out)
{
    smooth_state *s = st;
    predict_eval(&s->pred, l * COMP_N + c, n, out);
}

static void smooth_end(void *st)
{
    smooth_state *s = st;
    schedule_free(&s->sched);
    predict_free(&s->pred);
}

const cache_policy_ops cache_smooth = {
    .name = "smooth",
    .about = "SmoothCache: a calibrated static schedule per sub-layer type (or block)",
    .options = "schedule=FILE | errors=FILE,alpha=A[,per_block=1]; predict=reuse|taylor1..4|ab2..4",
    .create = smooth_create,
    .begin = smooth_begin,
    .stores = smooth_stores,
    .decide = smooth_decide,
    .observe = smooth_observe,
    .predict = smooth_predict,
    .end = smooth_end,
    .destroy = smooth_destroy,
};
