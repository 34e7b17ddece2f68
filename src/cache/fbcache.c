/* fbcache (First-Block-Cache, ParaAttention; docs/CACHING.md, "First-Block-Cache and DBCache"): block 0 always runs; when its
 * residual r1 = h1 - h0 is within relL1 `thresh` of r1 from the last computed evaluation,
 * blocks 1..depth-1 are replaced by their stored residual. dbcache with fn = 1, bn = 0 and no
 * caps (dbcache.c has the rule and its guards).
 *
 * Checked against diffusers' hook (hooks/first_block_cache.py, tests/test_peers_a.c): the same
 * signal (absmean ratio over the whole batch, guidance rows included), the same reference (the
 * head residual of the last computed evaluation) and the same reused residual (the output of
 * the last block minus the output of block 0), the last evaluation decided like any other.
 * Differences, both outside finite, untied signals: diffusers computes when diff > thresh,
 * hence hits on an exact tie, and hits on a NaN diff; here a hit needs diff < thresh (ParaAttention,
 * cache-dit), so thresh=0 disables caching outright, and NaN computes. diffusers has no warm-up. */
#include "cache/dbcache.h"

extern const cache_policy_ops cache_fbcache;

static sc_status fb_create(cache_spec *spec, void **state)
{
    dbc_options o = {.fn = 1, .bn = 0, .max_cached = -1, .max_consecutive = -1};
    sc_status s = spec_num(spec, "thresh", 0, 0.0, 1e6, 0.05, &o.thresh);
    if (!s) s = spec_int(spec, "warmup", 0, 0, 100000, 0, &o.warmup);
    return s ? s : dbc_create(&o, &cache_fbcache, state);
}

const cache_policy_ops cache_fbcache = {
    .name = "fbcache",
    .about = "First-Block-Cache: skip blocks 1.. while block 0's residual barely changes",
    .options = "thresh=T (default 0.05, as diffusers; 0 never skips), warmup=W (evaluations that always compute, "
               "default 0)",
    .may_skip_last = 1,
    .create = fb_create,
    .begin = dbc_begin,
    .stores = dbc_stores,
    .segments = dbc_segments,
    .boundary = dbc_boundary,
    .end = dbc_end,
    .destroy = dbc_destroy,
};
