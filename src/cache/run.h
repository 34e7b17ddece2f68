/* One request's caching state as the engine sees it: the policy, the stored sub-layer outputs
 * (one buffer per cached block and component, allocated at generation start), the decisions of
 * the current evaluation, and the accounting of computed and skipped work. */
#ifndef SC_CACHE_RUN_H
#define SC_CACHE_RUN_H

#include "cache/policy.h"
#include "smoothcache.h"

typedef struct cache_run cache_run;

/* From a --cache specification ("none", "fora:n=2", "smooth:schedule=FILE", ...). */
sc_status cache_run_create(const char *spec, cache_run **out);
/* A run driven by an existing policy state (calibration observers); the run does not own it. */
sc_status cache_run_create_with(const cache_policy_ops *ops, void *state, cache_run **out);
void cache_run_free(cache_run *r);
const char *cache_run_name(const cache_run *r);

/* Generation start: macs_comp[c] is one block's component c's multiply-accumulates per sample,
 * macs_forward one whole forward per sample. The run keeps its own copy of g. */
sc_status cache_run_begin(cache_run *r, const cache_gen *g, uint64_t macs_forward, const uint64_t *macs_comp);
/* How the policy's views reach the model for signals (cache_view.modulated_input), for this
 * generation. */
void cache_run_set_signals(cache_run *r, sc_status (*modulated_input)(const cache_view *v, float *out), void *ctx);
void cache_run_step(cache_run *r, int n);
/* 1 if the policy runs only the conditional rows at the current evaluation (guided generations,
 * never the first or last evaluation); the engine then forwards N rows and calls
 * cache_run_rebuild_uncond. */
int cache_run_uncond_skip(cache_run *r);
void cache_run_rebuild_uncond(cache_run *r, const float *cond_out, float *uncond_out, size_t count);
/* For block l and component c at the current evaluation: returns 1 to compute, 0 to reuse.
 * *buf is where the raw output is to be written (compute) or read (reuse); NULL means "compute
 * into your own scratch", which happens only for components that are never reused. */
int cache_run_decide(cache_run *r, int l, int c, float **buf);
/* Shows a freshly computed raw output to the policy. */
void cache_run_observe(cache_run *r, int l, int c, const float *out);
/* At block boundary l = 0..depth of the current evaluation (h: the stream entering block l, after
 * block l's modulation was computed): returns l to run block l, or the block to continue from
 * after a skipped segment, whose stored residual has then been added to h. */
int cache_run_boundary(cache_run *r, int l, float *h);
/* The model output of the current evaluation (count floats). */
void cache_run_output(cache_run *r, const float *out, size_t count);
/* Generation end: frees the buffers, fills the accounting (stats may be NULL). */
void cache_run_end(cache_run *r, sc_cache_stats *stats);

#endif
