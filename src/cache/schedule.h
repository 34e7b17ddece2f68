/* Static compute/reuse schedules (SmoothCache, FORA-as-file, L2C): the official JSON format,
 * the greedy generator from calibrated error curves, and their MAC accounting. */
#ifndef SC_CACHE_SCHEDULE_H
#define SC_CACHE_SCHEDULE_H

#include <jansson.h>
#include <stdint.h>

#include "cache/errors.h"
#include "cache/policy.h"

typedef struct {
    int depth, steps;
    cache_comps comps;  /* the components scheduled (names and aliases: the keys of the file) */
    unsigned char *s;   /* [depth][comps.n][steps]: 1 = compute and refresh, 0 = reuse */
} cache_schedule;

/* All 1; comps is copied (its strings must outlive the schedule). */
sc_status schedule_alloc(cache_schedule *s, int depth, int steps, const cache_comps *comps);
void schedule_free(cache_schedule *s);

static inline unsigned char *schedule_row(const cache_schedule *s, int l, int c)
{
    return s->s + ((size_t)l * (size_t)s->comps.n + (size_t)c) * (size_t)s->steps;
}

/* Resolves a schedule JSON object (component -> T integers 0/1) for a model of `depth` blocks
 * and a generation of `steps` evaluations (docs/CACHING.md): key "<comp>-<block>" first, then
 * "<comp>"; a component's aliases are keys too (attn1 for attn, ff for mlp, attn2 for cross);
 * keys starting with '_' ignored; keys of components this model lacks (cross-attention on DiT)
 * ignored; neither key -> always compute. `what` names the file, `context` the generation
 * ("ddim, 50 steps") in errors. */
sc_status schedule_from_json(const json_t *j, const char *what, const char *context, cache_schedule *out);
sc_status schedule_load(const char *path, const char *context, cache_schedule *out);
/* Reads a schedule (or calibration) file's JSON object. */
sc_status schedule_read(const char *path, json_t **out);
/* Warns when a file's "_meta" says it was made for another sampler or step count than g's. */
void schedule_check_meta(const json_t *meta, const char *path, const cache_gen *g);

/* The official format: {"attn":[...],"mlp":[...]} when every block shares its component's
 * schedule, else per-block keys "attn-0".."mlp-<depth-1>"; plus "_meta" if given. keys[c] is the
 * name component c is written under (diffusers' "attn1", "ff"), or NULL for the component names. */
sc_status schedule_save(const char *path, const cache_schedule *s, const char *const *keys, const json_t *meta,
                        int force);

/* SmoothCache's greedy scan (docs/CACHING.md) over one component's curves:
 * err(j, i) = error of reusing evaluation i at i + j, j = 1..k. Longest lag first, error
 * <= alpha, first and last evaluation forced to compute, runs of reuse at most k long. */
void schedule_greedy(const cache_errors *e, int curve, double alpha, unsigned char *out);

/* Fills every block from the per-component curves (per_block = 0) or each block from its own
 * curves; a component is matched to the file's curves by name or alias (none: always compute). */
sc_status schedule_from_errors(const cache_errors *e, double alpha, int per_block, cache_schedule *out);

/* The most elementary steps a schedule search (compute budget, DP) may take; a file that would
 * need more is refused with the estimate, before any search. */
#define SCHEDULE_SEARCH_LIMIT 2e9

/* The smallest alpha whose schedule executes at most `target` of the uncached MACs. Cost: one
 * greedy scan per curve in use (per component, or per block and component) per distinct value of
 * those curves; refused past SCHEDULE_SEARCH_LIMIT. */
sc_status schedule_for_budget(const cache_errors *e, double target, int per_block, uint64_t macs_forward,
                              const uint64_t *macs_comp, cache_schedule *out, double *alpha);

/* The optimal static schedule (CacheQuant's dynamic programme, docs/CACHING.md) for one curve:
 * exactly `computed` evaluations compute (the first and the last among them), runs of reuse are
 * at most k long, and the summed calibrated error of the reused evaluations, sum_i err(i - c(i),
 * c(i)) with c(i) the last computation before i, is minimal. SC_ERR_ARG when infeasible. */
sc_status schedule_dp(const cache_errors *e, int curve, int computed, unsigned char *out, double *cost);

/* The most computations (the same count for every block and component) whose DP schedules
 * execute at most `target` of the uncached MACs, and those schedules. Cost: two DP tables of
 * O(T^2 (k + 1)) per curve in use; refused past SCHEDULE_SEARCH_LIMIT. */
sc_status schedule_dp_for_budget(const cache_errors *e, double target, int per_block, uint64_t macs_forward,
                                 const uint64_t *macs_comp, cache_schedule *out, int *computed);

/* Executed / uncached MACs of a schedule (first and last evaluation always computed);
 * macs_comp[c]: one block's component c, per sample. */
double schedule_mac_ratio(const cache_schedule *s, uint64_t macs_forward, const uint64_t *macs_comp);
/* Number of computed entries of (block, comp), first and last forced. */
int schedule_computed(const cache_schedule *s, int l, int c);

#endif
