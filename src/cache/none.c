/* none: every sub-layer computed at every evaluation (the uncached baseline). */
#include "cache/policy.h"

static sc_status none_create(cache_spec *spec, void **state)
{
    (void)spec;
    *state = NULL;
    return SC_OK;
}

static sc_status none_begin(void *st, const cache_gen *g) { (void)st; (void)g; return SC_OK; }
static int none_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 0; }
static int none_decide(void *st, int n, int l, int c) { (void)st; (void)n; (void)l; (void)c; return 1; }
static void none_end(void *st) { (void)st; }
static void none_destroy(void *st) { (void)st; }

const cache_policy_ops cache_none = {
    .name = "none",
    .about = "compute everything (the uncached baseline)",
    .options = "no options",
    .create = none_create,
    .begin = none_begin,
    .stores = none_stores,
    .decide = none_decide,
    .end = none_end,
    .destroy = none_destroy,
};
