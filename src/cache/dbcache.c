/* dbcache (cache-dit's DBCache, docs/CACHING.md, "First-Block-Cache and DBCache"): the first `fn` blocks always run and their
 * residual r = h_fn - h0 is the signal; when r is close to r_ref, the residual of the LAST
 * COMPUTED evaluation (not refreshed on hits), the middle blocks [fn, depth - bn) are replaced
 * by their stored residual; the last `bn` blocks always run.
 *
 *   gates, in cache-dit's order: n >= warmup; skips so far < max_cached; skips in a row
 *   < max_consecutive (-1: no limit); thresh > 0; relL1(r, r_ref) = sum|r - r_ref| / sum|r_ref|
 *   < thresh (the absmean ratio of diffusers and cache-dit)
 *
 * cache-dit's step mask, accumulated-diff gate and predictors (TaylorSeer, FoCa) are not
 * implemented. The engine rule: the first evaluation computes; the last is decided like any
 * other, as in cache-dit and diffusers (may_skip_last). One decision for the whole batch: the
 * signal pools every row, guidance rows included, so a CFG pair shares r_ref and the stored
 * residual (cache-dit keeps separate contexts when CFG runs as two calls; DiT batches it). A
 * zero reference (sum|r_ref| = 0) or a non-finite signal computes: diffusers' `diff > thresh`
 * test would read NaN as a hit (docs/CACHING.md, "Signals and zero references").
 *
 * fbcache.c is this with fn = 1, bn = 0 and no caps. */
#include "cache/dbcache.h"

#include <stdlib.h>

#include "cache/kernels.h"
#include "core/error.h"

typedef struct {
    dbc_options o;
    const cache_policy_ops *ops;
    /* Per generation. */
    cache_gen g;
    int steps, depth;
    size_t elems;       /* rows * tokens * hidden */
    float *h0;          /* [rows * tokens, hidden]: the stream entering block 0, this evaluation */
    float *r_ref;       /* [rows * tokens, hidden]: h_fn - h0 of the last computed evaluation */
    int have_ref;
    long cached, consecutive;
    int fn_default;     /* fn was not given: chosen from the depth at each begin() */
} dbc_state;

sc_status dbc_create(const dbc_options *opts, const cache_policy_ops *ops, void **state)
{
    dbc_state *d = calloc(1, sizeof *d);
    if (!d) return err_fail(SC_ERR_NOMEM, "out of memory");
    d->o = *opts;
    d->fn_default = opts->fn == 0;
    d->ops = ops;
    *state = d;
    return SC_OK;
}

static void free_buffers(dbc_state *d)
{
    if (d->g.be) {
        cache_free(&d->g, d->h0);
        cache_free(&d->g, d->r_ref);
    }
    d->h0 = d->r_ref = NULL;
}

sc_status dbc_begin(void *st, const cache_gen *g)
{
    dbc_state *d = st;
    /* cache-dit's default Fn = 8 is for models of dozens of blocks; a model of 16 blocks or fewer
     * (the shipped 6-block demo) gets a quarter of its blocks, at least 1. */
    if (d->fn_default) d->o.fn = g->depth > 16 ? 8 : (g->depth / 4 > 1 ? g->depth / 4 : 1);
    if (d->o.fn + d->o.bn >= g->depth)
        return err_fail(SC_ERR_ARG, "cache policy %s: fn=%ld + bn=%ld leaves no middle block to skip in this %d-block model "
                       "(need fn + bn < %d)", d->ops->name, d->o.fn, d->o.bn, g->depth, g->depth);
    free_buffers(d);
    d->g = *g;
    d->steps = g->steps;
    d->depth = g->depth;
    d->elems = (size_t)g->rows * g->tokens * g->hidden;
    d->have_ref = 0;
    d->cached = d->consecutive = 0;
    if (!(d->h0 = cache_alloc(g, d->elems, "front-block input")) ||
        !(d->r_ref = cache_alloc(g, d->elems, "front-block residual"))) {
        free_buffers(d);
        return SC_ERR_NOMEM;
    }
    return SC_OK;
}

int dbc_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 0; }

int dbc_segments(void *st, cache_segment *out)
{
    const dbc_state *d = st;
    out[0] = (cache_segment){(int)d->o.fn, d->depth - (int)d->o.bn};
    return 1;
}

/* Whether every gate lets evaluation n reuse the middle residual; the threshold test last, so the
 * signal is only read where it can matter. */
static int hit(const dbc_state *d, int n, const float *h)
{
    const dbc_options *o = &d->o;
    if (cache_engine_computes(d->ops, n, d->steps) || !d->have_ref || n < o->warmup) return 0;
    if (o->max_cached >= 0 && d->cached >= o->max_cached) return 0;
    if (o->max_consecutive >= 0 && d->consecutive >= o->max_consecutive) return 0;
    if (!(o->thresh > 0)) return 0;
    double diff, ref;
    cache_l1_residual(&d->g, h, d->h0, d->r_ref, d->elems, &diff, &ref);
    return cache_rel(diff, ref) < o->thresh; /* NaN: compute */
}

int dbc_boundary(void *st, int n, int l, const cache_view *v)
{
    dbc_state *d = st;
    if (l == 0) {
        /* Snapshot: the engine updates h in place, and r needs the stream before block 0. */
        cache_copy(&d->g, d->h0, v->h, d->elems);
        return 0;
    }
    if (l != d->o.fn) return l;
    if (hit(d, n, v->h)) {
        d->cached++;
        d->consecutive++;
        return d->depth - (int)d->o.bn;
    }
    /* Computing: this r becomes the reference; the middle residual is refreshed by the engine
     * (the middle segment exists from now on, so have_ref also means "residual stored"). */
    cache_sub(&d->g, d->r_ref, v->h, d->h0, d->elems);
    d->have_ref = 1;
    d->consecutive = 0;
    return l;
}

void dbc_end(void *st) { free_buffers(st); }

void dbc_destroy(void *st)
{
    if (!st) return;
    free_buffers(st);
    free(st);
}

extern const cache_policy_ops cache_dbcache;

static sc_status db_create(cache_spec *spec, void **state)
{
    dbc_options o;
    sc_status s = spec_int(spec, "fn", 0, 1, 100000, 0, &o.fn);
    if (!s) s = spec_int(spec, "bn", 0, 0, 100000, 0, &o.bn);
    if (!s) s = spec_num(spec, "thresh", 0, 0.0, 1e6, 0.08, &o.thresh);
    if (!s) s = spec_int(spec, "warmup", 0, 0, 100000, 8, &o.warmup);
    if (!s) s = spec_int(spec, "max_cached", 0, -1, 100000, -1, &o.max_cached);
    if (!s) s = spec_int(spec, "max_consecutive", 0, -1, 100000, -1, &o.max_consecutive);
    return s ? s : dbc_create(&o, &cache_dbcache, state);
}

const cache_policy_ops cache_dbcache = {
    .name = "dbcache",
    .about = "DBCache: the same with Fn front and Bn back blocks always computed",
    .options = "fn=F (front blocks, >= 1; default 8, or depth/4 on models of at most 16 blocks), bn=B (back blocks, default 0; fn + bn < depth), "
               "thresh=T (default 0.08; 0 never skips), warmup=W (default 8), max_cached=M (-1 = no limit, "
               "default), max_consecutive=C (-1 = no limit, default)",
    .may_skip_last = 1,
    .create = db_create,
    .begin = dbc_begin,
    .stores = dbc_stores,
    .segments = dbc_segments,
    .boundary = dbc_boundary,
    .end = dbc_end,
    .destroy = dbc_destroy,
};
