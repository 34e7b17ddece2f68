/* abcache (AB-Cache, arXiv 2504.10540): compute every sub-layer during `warmup` evaluations and
 * every `interval`-th one after, and in between extrapolate each raw output through its last k
 * computed outputs (k = 2: 2F1 - F2, k = 3: 3F1 - 3F2 + F3 at unit spacing; Lagrange weights
 * for any spacing). docs/CACHING.md ("TaylorSeer and AB-Cache") marks the paper's formula as reconstructed: this is the
 * multi-step extrapolation it describes, applied per module like TaylorSeer. */
#include <stdlib.h>

#include "cache/policy.h"
#include "cache/predict.h"
#include "core/error.h"

typedef struct {
    long interval, warmup, k;
    int n_comp;
    predictor pred;
} abcache_state;

static sc_status ab_create(cache_spec *spec, void **state)
{
    abcache_state *a = calloc(1, sizeof *a);
    if (!a) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = spec_int(spec, "interval", 0, 1, 1000, 2, &a->interval);
    if (!s) s = spec_int(spec, "warmup", 0, 1, 1000, 3, &a->warmup);
    if (!s) s = spec_int(spec, "k", 0, 2, 4, 2, &a->k);
    if (!s && a->warmup < a->k)
        s = err_fail(SC_ERR_ARG, "cache policy abcache: warmup=%ld must be at least k=%ld (the points to extrapolate from)",
                    a->warmup, a->k);
    if (s) {
        free(a);
        return s;
    }
    *state = a;
    return SC_OK;
}

static sc_status ab_begin(void *st, const cache_gen *g)
{
    abcache_state *a = st;
    a->n_comp = g->comp.n;
    return predict_init(&a->pred, g, PREDICT_LAGRANGE, (int)a->k - 1, g->depth * g->comp.n,
                        (size_t)g->rows * g->tokens * g->hidden);
}

static int ab_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 1; }

static int ab_decide(void *st, int n, int l, int c)
{
    const abcache_state *a = st;
    (void)l;
    (void)c;
    return n < a->warmup || (n - a->warmup) % a->interval == 0 ? CACHE_COMPUTE : CACHE_PREDICT;
}

static void ab_observe(void *st, int n, int l, int c, const float *out)
{
    abcache_state *a = st;
    predict_update(&a->pred, l * a->n_comp + c, n, out);
}

static void ab_predict(void *st, int n, int l, int c, float *out)
{
    abcache_state *a = st;
    predict_eval(&a->pred, l * a->n_comp + c, n, out);
}

static void ab_end(void *st) { predict_free(&((abcache_state *)st)->pred); }

const cache_policy_ops cache_abcache = {
    .name = "abcache",
    .about = "AB-Cache: predict sub-layer outputs by Adams-Bashforth extrapolation",
    .options = "interval=N (default 2), warmup=W (default 3), k=2..4 points (default 2)",
    .create = ab_create,
    .begin = ab_begin,
    .stores = ab_stores,
    .decide = ab_decide,
    .observe = ab_observe,
    .predict = ab_predict,
    .end = ab_end,
    .destroy = free,
};
