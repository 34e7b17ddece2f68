/* The front-block residual cache shared by dbcache (cache-dit's DBCache) and fbcache
 * (First-Block-Cache, its Fn = 1, Bn = 0 case without caps): see dbcache.c. */
#ifndef SC_CACHE_DBCACHE_H
#define SC_CACHE_DBCACHE_H

#include "cache/policy.h"

typedef struct {
    long fn, bn;          /* front blocks (their residual is the signal) and back blocks: always run;
                           * fn = 0: the default for the model's depth (dbcache.c, dbc_begin) */
    double thresh;        /* hit when relL1(r, r_ref) < thresh; 0 never hits */
    long warmup;          /* evaluations n < warmup compute */
    long max_cached;      /* skips per generation, -1 = no limit */
    long max_consecutive; /* skips in a row, -1 = no limit */
} dbc_options;

/* A state for `opts`; `ops` is the policy that drives it (its name goes into messages, its
 * may_skip_last into the engine rule the state mirrors). */
sc_status dbc_create(const dbc_options *opts, const cache_policy_ops *ops, void **state);
sc_status dbc_begin(void *state, const cache_gen *g);
int dbc_stores(void *state, int block, int c);
int dbc_segments(void *state, cache_segment *out);
int dbc_boundary(void *state, int n, int l, const cache_view *v);
void dbc_end(void *state);
void dbc_destroy(void *state);

#endif
