/* taylorseer (Liu et al., arXiv 2503.06923): compute every sub-layer during `warmup`
 * evaluations and then once every `interval`, and in between predict each one's raw output with
 * a Taylor expansion from divided differences of its past computations (CACHING.md 2.6). The
 * schedule and arithmetic follow diffusers' TaylorSeer hook: compute when n < warmup or
 * (n - warmup - 1) % interval == 0; the last evaluation may be predicted like any other. */
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "cache/predict.h"
#include "core/error.h"

typedef struct {
    long interval, warmup, order;
    int comp_on[COMP_N];
    predictor pred;
    int depth;
} taylorseer_state;

static sc_status parse_comps(cache_spec *spec, int *on)
{
    const char *c;
    sc_status s = spec_str(spec, "comps", 0, &c);
    if (s) return s;
    if (!c || !strcmp(c, "both")) on[COMP_ATTN] = on[COMP_MLP] = 1;
    else if (!strcmp(c, "attn")) on[COMP_ATTN] = 1;
    else if (!strcmp(c, "mlp")) on[COMP_MLP] = 1;
    else return err_fail(SC_ERR_ARG, "--cache %s: comps=%s is not attn, mlp or both", spec->name, c);
    return SC_OK;
}

static sc_status ts_create(cache_spec *spec, void **state)
{
    taylorseer_state *t = calloc(1, sizeof *t);
    if (!t) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = spec_int(spec, "interval", 0, 1, 1000, 4, &t->interval);
    if (!s) s = spec_int(spec, "warmup", 0, 1, 1000, 3, &t->warmup);
    if (!s) s = spec_int(spec, "order", 0, 1, 4, 1, &t->order);
    if (!s) s = parse_comps(spec, t->comp_on);
    if (s) {
        free(t);
        return s;
    }
    *state = t;
    return SC_OK;
}

static sc_status ts_begin(void *st, const cache_gen *g)
{
    taylorseer_state *t = st;
    t->depth = g->depth;
    return predict_init(&t->pred, PREDICT_TAYLOR, (int)t->order, g->depth * COMP_N,
                        (size_t)g->rows * g->tokens * g->hidden);
}

static int ts_stores(void *st, int l, cache_comp c) { (void)l; return ((taylorseer_state *)st)->comp_on[c]; }

static int ts_decide(void *st, int n, int l, cache_comp c)
{
    const taylorseer_state *t = st;
    (void)l;
    if (!t->comp_on[c] || n < t->warmup || (n - t->warmup - 1) % t->interval == 0) return CACHE_COMPUTE;
    return CACHE_PREDICT;
}

static void ts_observe(void *st, int n, int l, cache_comp c, const float *out)
{
    taylorseer_state *t = st;
    if (t->comp_on[c]) predict_update(&t->pred, l * COMP_N + c, n, out);
}

static void ts_predict(void *st, int n, int l, cache_comp c, float *out)
{
    taylorseer_state *t = st;
    predict_eval(&t->pred, l * COMP_N + c, n, out);
}

static void ts_end(void *st) { predict_free(&((taylorseer_state *)st)->pred); }

const cache_policy_ops cache_taylorseer = {
    .name = "taylorseer",
    .about = "TaylorSeer: predict sub-layer outputs with a Taylor expansion between computed steps",
    .options = "interval=N (default 4), warmup=W (default 3), order=M (1..4, default 1), comps=attn|mlp|both",
    .may_skip_last = 1,
    .create = ts_create,
    .begin = ts_begin,
    .stores = ts_stores,
    .decide = ts_decide,
    .observe = ts_observe,
    .predict = ts_predict,
    .end = ts_end,
    .destroy = free,
};
