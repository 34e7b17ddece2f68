/* fora (Selvaraju et al., arXiv 2407.01425): compute every sub-layer at evaluations n with
 * n % N == 0, reuse the stored pre-gate attention and MLP outputs of every block in between
 * (docs/CACHING.md, "FORA"). The last evaluation always computes (engine rule). */
#include <stdlib.h>

#include "cache/policy.h"
#include "core/error.h"

typedef struct {
    long n;
} fora_state;

static sc_status fora_create(cache_spec *spec, void **state)
{
    fora_state *f = calloc(1, sizeof *f);
    if (!f) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = spec_int(spec, "n", 0, 1, 1000, 3, &f->n);
    if (s) {
        free(f);
        return s;
    }
    *state = f;
    return SC_OK;
}

static sc_status fora_begin(void *st, const cache_gen *g) { (void)st; (void)g; return SC_OK; }
static int fora_stores(void *st, int l, int c) { (void)l; (void)c; return ((fora_state *)st)->n > 1; }
static int fora_decide(void *st, int n, int l, int c) { (void)l; (void)c; return n % ((fora_state *)st)->n == 0; }
static void fora_end(void *st) { (void)st; }

const cache_policy_ops cache_fora = {
    .name = "fora",
    .about = "FORA: compute every N-th evaluation, reuse attention and MLP outputs in between",
    .options = "n=N (compute every N-th evaluation, default 3)",
    .create = fora_create,
    .begin = fora_begin,
    .stores = fora_stores,
    .decide = fora_decide,
    .end = fora_end,
    .destroy = free,
};
