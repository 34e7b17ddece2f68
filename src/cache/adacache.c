/* adacache (Kahatapitiya et al., arXiv 2411.02397, as docs/CACHING.md, "AdaCache", describes it for DiT): a
 * per-generation, content-driven schedule. Whenever the model computes, the change of the probe
 * block's residual since the previous computation, c = |R_prev - R_now|_1 / |R_prev|_1 divided
 * by the previous rate, is looked up in a codebook of (threshold, rate) pairs; the next
 * computation is `rate` evaluations later and every evaluation in between adds the stored
 * residual of the whole block stack (attention and MLP skipped together). The first two and the
 * last two evaluations always compute. Decisions are batch-wide. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/kernels.h"
#include "cache/policy.h"
#include "core/error.h"

#define ADA_MAX_CODES 16

typedef struct {
    double thresh[ADA_MAX_CODES];
    int rate[ADA_MAX_CODES];
    int n_codes, custom;
    long probe_opt;      /* -1 = depth / 2 */
    int probe, depth, steps;
    cache_gen g;
    size_t elems;
    float *start, *prev; /* probe block input and last residual, [rows * T, D] */
    int have_prev, next, prev_rate;
} ada_state;

/* "0.08:6/0.16:5/1.0:1": ascending thresholds, rates >= 1. */
static sc_status parse_codebook(ada_state *a, const char *text)
{
    /* Each pair through the strict number syntax of every option (spec_number, spec_integer). */
    const char *p = text;
    a->n_codes = 0;
    for (;;) {
        const size_t len = strcspn(p, "/");
        const char *colon = memchr(p, ':', len);
        double t;
        long r;
        if (a->n_codes == ADA_MAX_CODES || !colon || !spec_number(p, (size_t)(colon - p), &t) ||
            !spec_integer(colon + 1, len - (size_t)(colon + 1 - p), &r) || t < 0 || r < 1 || r > 1000 ||
            (a->n_codes && !(t > a->thresh[a->n_codes - 1])))
            return err_fail(SC_ERR_ARG, "cache policy adacache: codebook '%s' must be ascending threshold:rate pairs "
                                        "joined by '/' (thresholds >= 0, rates 1..1000, at most %d pairs)", text,
                            ADA_MAX_CODES);
        a->thresh[a->n_codes] = t;
        a->rate[a->n_codes++] = (int)r;
        if (!p[len]) break;
        p += len + 1;
    }
    if (!a->n_codes) return err_fail(SC_ERR_ARG, "cache policy adacache: empty codebook");
    return SC_OK;
}

static sc_status ada_create(cache_spec *spec, void **state)
{
    ada_state *a = calloc(1, sizeof *a);
    if (!a) return err_fail(SC_ERR_NOMEM, "out of memory");
    const char *cb = NULL;
    sc_status s = spec_str(spec, "codebook", 0, &cb);
    if (!s) s = spec_int(spec, "probe", 0, 0, 1023, -1, &a->probe_opt);
    if (!s && cb) {
        a->custom = 1;
        s = parse_codebook(a, cb);
    }
    if (s) {
        free(a);
        return s;
    }
    *state = a;
    return SC_OK;
}

static void ada_end(void *st);

static sc_status ada_begin(void *st, const cache_gen *g)
{
    ada_state *a = st;
    if (!a->custom)
        /* The paper's codebooks: "fast" for 30-step samplers, the 100-step one for long runs. */
        parse_codebook(a, g->steps <= 50 ? "0.08:6/0.16:5/0.24:4/0.32:3/0.40:2/1.0:1"
                                         : "0.03:12/0.05:10/0.07:8/0.09:6/0.11:4/1.0:3");
    a->depth = g->depth;
    a->steps = g->steps;
    a->probe = a->probe_opt < 0 ? g->depth / 2 : (int)a->probe_opt;
    if (a->probe >= g->depth)
        return err_fail(SC_ERR_ARG, "cache policy adacache: probe=%d but the model has blocks 0..%d", a->probe, g->depth - 1);
    a->g = *g;
    a->elems = (size_t)g->rows * g->tokens * g->hidden;
    a->start = cache_alloc(g, a->elems, "probe input");
    a->prev = cache_alloc(g, a->elems, "probe residual");
    a->have_prev = 0;
    a->next = 0;
    a->prev_rate = 1;
    if (!a->start || !a->prev) {
        ada_end(a);
        return SC_ERR_NOMEM;
    }
    return SC_OK;
}

static int ada_segments(void *st, cache_segment *out)
{
    out[0] = (cache_segment){0, ((ada_state *)st)->depth};
    return 1;
}

static int ada_rate(const ada_state *a, double c)
{
    for (int i = 0; i < a->n_codes; i++)
        if (c <= a->thresh[i]) return a->rate[i];
    return 1;
}

static int ada_boundary(void *st, int n, int l, const cache_view *v)
{
    ada_state *a = st;
    if (l == 0 && !(n < 2 || n >= a->steps - 2 || n >= a->next)) return a->depth;
    if (l == a->probe) {
        cache_copy(&a->g, a->start, v->h, a->elems);
    } else if (l == a->probe + 1) {
        /* R_now = h_after - h_before of the probe block; compare with the last one. */
        double diff, ref;
        float *now = a->start; /* reused in place: start becomes the residual */
        cache_sub(&a->g, now, v->h, now, a->elems);
        cache_l1(&a->g, now, a->prev, a->elems, &diff, &ref);
        int rate = 1;
        if (a->have_prev && ref > 0) rate = ada_rate(a, diff / ref / a->prev_rate);
        a->next = n + rate;
        a->prev_rate = rate;
        cache_copy(&a->g, a->prev, now, a->elems);
        a->have_prev = 1;
    }
    return l;
}

static int ada_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 0; }

static void ada_end(void *st)
{
    ada_state *a = st;
    cache_free(&a->g, a->start);
    cache_free(&a->g, a->prev);
    a->start = a->prev = NULL;
}

const cache_policy_ops cache_adacache = {
    .name = "adacache",
    .about = "AdaCache: a skip rate per generation from the measured feature change",
    .options = "codebook=T:R/T:R/... (default: the paper's, by step count), probe=BLOCK (default depth/2)",
    .create = ada_create,
    .begin = ada_begin,
    .stores = ada_stores,
    .segments = ada_segments,
    .boundary = ada_boundary,
    .end = ada_end,
    .destroy = free,
};
