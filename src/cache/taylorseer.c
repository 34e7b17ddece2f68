/* taylorseer (Liu et al., arXiv 2503.06923): compute every sub-layer during `warmup`
 * evaluations and then once every `interval`, and in between predict each one's raw output with
 * a Taylor expansion from divided differences of its past computations (docs/CACHING.md, "TaylorSeer and AB-Cache"). The
 * schedule and arithmetic follow diffusers' TaylorSeer hook: compute when n < warmup or
 * (n - warmup - 1) % interval == 0; the last evaluation may be predicted like any other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "cache/predict.h"
#include "core/error.h"

typedef struct {
    long interval, warmup, order;
    char comps[256];             /* comps=: "all" or component names joined by '/' */
    int comp_on[CACHE_MAX_COMP]; /* resolved against the model at begin() */
    int n_comp;
    predictor pred;
} taylorseer_state;

static sc_status ts_create(cache_spec *spec, void **state)
{
    taylorseer_state *t = calloc(1, sizeof *t);
    if (!t) return err_fail(SC_ERR_NOMEM, "out of memory");
    const char *comps = NULL;
    sc_status s = spec_int(spec, "interval", 0, 1, 1000, 4, &t->interval);
    if (!s) s = spec_int(spec, "warmup", 0, 1, 1000, 3, &t->warmup);
    if (!s) s = spec_int(spec, "order", 0, 1, 4, 1, &t->order);
    if (!s) s = spec_str(spec, "comps", 0, &comps);
    if (!s && comps && strlen(comps) >= sizeof t->comps)
        s = err_fail(SC_ERR_ARG, "cache policy taylorseer: comps=%.40s... is too long", comps);
    if (s) {
        free(t);
        return s;
    }
    snprintf(t->comps, sizeof t->comps, "%s", comps ? comps : "all");
    *state = t;
    return SC_OK;
}

/* comps=all (or "both", the name this option had for DiT's two components), or names of the
 * model's components joined by '/': "attn", "mlp", "attn/mlp". */
static sc_status resolve_comps(taylorseer_state *t, const cache_gen *g)
{
    memset(t->comp_on, 0, sizeof t->comp_on);
    if (!strcmp(t->comps, "all") || !strcmp(t->comps, "both")) {
        for (int c = 0; c < g->comp.n; c++) t->comp_on[c] = 1;
        return SC_OK;
    }
    for (const char *p = t->comps; *p;) {
        const size_t len = strcspn(p, "/");
        const int c = cache_comp_find(&g->comp, p, len);
        if (c < 0)
            return err_fail(SC_ERR_ARG, "cache policy taylorseer: comps=%s: \"%.*s\" is not a component of this model "
                                        "(all, or names among its components joined by '/')",
                            t->comps, (int)len, p);
        t->comp_on[c] = 1;
        p += len;
        if (*p == '/') p++;
    }
    return SC_OK;
}

static sc_status ts_begin(void *st, const cache_gen *g)
{
    taylorseer_state *t = st;
    t->n_comp = g->comp.n;
    sc_status s = resolve_comps(t, g);
    if (s) return s;
    return predict_init(&t->pred, g, PREDICT_TAYLOR, (int)t->order, g->depth * g->comp.n,
                        (size_t)g->rows * g->tokens * g->hidden);
}

static int ts_stores(void *st, int l, int c) { (void)l; return ((taylorseer_state *)st)->comp_on[c]; }

static int ts_decide(void *st, int n, int l, int c)
{
    const taylorseer_state *t = st;
    (void)l;
    if (!t->comp_on[c] || n < t->warmup || (n - t->warmup - 1) % t->interval == 0) return CACHE_COMPUTE;
    return CACHE_PREDICT;
}

static void ts_observe(void *st, int n, int l, int c, const float *out)
{
    taylorseer_state *t = st;
    if (t->comp_on[c]) predict_update(&t->pred, l * t->n_comp + c, n, out);
}

static void ts_predict(void *st, int n, int l, int c, float *out)
{
    taylorseer_state *t = st;
    predict_eval(&t->pred, l * t->n_comp + c, n, out);
}

static void ts_end(void *st) { predict_free(&((taylorseer_state *)st)->pred); }

const cache_policy_ops cache_taylorseer = {
    .name = "taylorseer",
    .about = "TaylorSeer: predict sub-layer outputs with a Taylor expansion between computed steps",
    .options = "interval=N (default 4), warmup=W (default 3), order=M (1..4, default 1), comps=all|NAME[/NAME...] "
               "(components to predict, default all)",
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
