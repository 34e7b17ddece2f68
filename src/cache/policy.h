/* The caching-policy interface. A policy answers, per model evaluation, block and component,
 * "compute or reuse?"; the engine owns the buffers and the arithmetic (docs/ARCHITECTURE.md).
 * The cache layer sees the model only through views: the components it names, the residual
 * stream at a block boundary, and the signals it can ask for (block l's modulated input).
 *
 * Adding a policy: one file with a `const cache_policy_ops cache_<name>` and one line in
 * registry.c; a policy that needs measured data adds a calibrator (calibrator.h) and points to it.
 * Lifetime: create() once per request (parses and validates the options, may load files),
 * begin() at the start of every generation, end() after it (nothing may survive into the next
 * generation except what create() made), destroy() once. Everything is indexed by the evaluation
 * index n within one generation, never by a global call counter. */
#ifndef SC_CACHE_POLICY_H
#define SC_CACHE_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <stdint.h>

#include "cache/spec.h"
#include "smoothcache.h"

#define CACHE_MAX_COMP SC_MAX_COMPONENTS

/* What a component computes, for policies that treat one kind apart. */
typedef enum { CACHE_ROLE_SELF_ATTENTION, CACHE_ROLE_CROSS_ATTENTION, CACHE_ROLE_MLP } cache_role;

struct backend; /* the kernels a generation runs on (cache/kernels.h reaches them) */

/* The components of the model's blocks, as the cache layer knows them. */
typedef struct {
    int n;
    const char *name[CACHE_MAX_COMP];    /* "attn", "mlp", "cross" */
    const char *aliases[CACHE_MAX_COMP]; /* other names of each, space-separated ("attn1"), or NULL */
    cache_role role[CACHE_MAX_COMP];
} cache_comps;

/* What a policy learns about the generation at begin(). */
typedef struct {
    int steps;             /* model evaluations T (one per sampler step) */
    int depth;             /* blocks */
    int rows;              /* batch rows, guidance halves included ([cond N; uncond N]) */
    int images;            /* N */
    int tokens, hidden;    /* the residual stream: [rows * tokens, hidden] */
    const int *timesteps;  /* [steps], model timesteps in call order */
    const char *sampler;   /* "ddim", ... (for messages) */
    float cfg;             /* the guidance scale (for checks against calibration files) */
    uint64_t macs_forward; /* the model's MACs per forward of one sample (the same) */
    cache_comps comp;      /* the model's components, in block order */
    int has_modulated_input; /* the model can give block l's modulated input (cache_view) */
    sc_shape out;          /* one row's model output: [out_channels, ...spatial] */
    const struct backend *be;
} cache_gen;

/* Decisions for a sub-layer. */
enum { CACHE_REUSE = 0, CACHE_COMPUTE = 1, CACHE_PREDICT = 2 };

/* What a step-level policy sees at a block boundary: the residual stream entering block l
 * (l = depth: leaving the last block), and a way to ask the model for a signal. */
typedef struct cache_view {
    const float *h;        /* [rows * tokens, hidden] */
    int rows, tokens, hidden;
    int l;
    /* Block l's modulated input (what its first component sees) into out [rows * tokens,
     * hidden]; only for l < depth and cache_gen.has_modulated_input. */
    sc_status (*modulated_input)(const struct cache_view *v, float *out);
    void *ctx;             /* the engine's, for modulated_input */
} cache_view;

/* A run of blocks [first, last) whose combined residual (h_last - h_first) a step-level policy
 * may add instead of running them. */
typedef struct {
    int first, last;
} cache_segment;

#define CACHE_MAX_SEGMENTS 4

struct cache_calibrator;

/* Options every policy's spec takes, read by the engine (cache/run.c): store=bf16 keeps the
 * stored sub-layer outputs in bf16 (half the cache memory; widened to float when reused). */
#define CACHE_ENGINE_OPTIONS "store=f32|bf16"

typedef struct cache_policy_ops {
    const char *name;
    const char *about;     /* one line: what it does (smoothcache policies) */
    const char *options;   /* one line for --help, e.g. "n=N (compute every N-th evaluation)" */
    /* 0 (default): the engine computes the last evaluation whatever the policy says (SmoothCache,
     * FORA, TeaCache); 1: the policy decides it too (as the diffusers hooks it reproduces do). */
    int may_skip_last;
    /* What `calibrate --for NAME` measures for this policy (calibrator.h), or NULL. */
    const struct cache_calibrator *calibrator;
    /* Reads and validates the options it knows from `spec` (unknown keys are reported by the
     * caller afterwards). */
    sc_status (*create)(cache_spec *spec, void **state);
    sc_status (*begin)(void *state, const cache_gen *g);
    /* 1 if the output of (block, component) may be reused in this generation (the engine keeps a
     * buffer for it), 0 if it is always computed. Called after begin(). */
    int (*stores)(void *state, int block, int comp);
    /* At evaluation n: CACHE_COMPUTE (refreshing the stored output), CACHE_REUSE (the stored
     * one), or CACHE_PREDICT (predict() writes an estimate into the buffer). The engine computes
     * anyway at the first and last evaluation and when nothing is stored. NULL = compute. */
    int (*decide)(void *state, int n, int block, int comp);
    /* After a computation, the fresh raw sub-layer output [rows * tokens, hidden] (before gate
     * and residual). Optional (NULL). */
    void (*observe)(void *state, int n, int block, int comp, const float *out);
    /* Fills out [rows * tokens, hidden] with a predicted raw output (CACHE_PREDICT). */
    void (*predict)(void *state, int n, int block, int comp, float *out);

    /* Step-level policies (all optional). segments(): the block runs whose residual may be
     * reused, at most CACHE_MAX_SEGMENTS, called after begin(). boundary(): called at every
     * block boundary l = 0..depth of evaluation n; returns l to go on, or the end of a declared
     * segment starting at l to skip that segment by adding its stored residual. The residual of
     * a segment is refreshed whenever the segment runs. Decisions cover the whole batch. */
    int (*segments)(void *state, cache_segment *out);
    int (*boundary)(void *state, int n, int l, const cache_view *v);
    /* The model output [rows, out] of evaluation n (before guidance). */
    void (*output)(void *state, int n, const float *out, size_t count);

    /* Guidance-branch caching (FasterCache's CFG-Cache; optional). uncond_skip(): 1 to run only
     * the N conditional rows at evaluation n (the sub-layer hooks then see `rows` = N, the
     * conditional rows first in every buffer, as always); the engine then calls
     * rebuild_uncond() with the conditional output [N, out] to fill the unconditional one. Only
     * asked when the generation is guided. */
    int (*uncond_skip)(void *state, int n);
    void (*rebuild_uncond)(void *state, int n, const float *cond_out, float *uncond_out, size_t count);
    void (*end)(void *state);
    void (*destroy)(void *state);
} cache_policy_ops;

/* 1 where the engine (cache/run.c) computes evaluation n of `steps` whatever `ops` answers.
 * Step-level policies whose state depends on what really ran apply the same rule themselves:
 * the boundary hook is not told when the engine overrides it. */
static inline int cache_engine_computes(const cache_policy_ops *ops, int n, int steps)
{
    return n == 0 || (n == steps - 1 && !ops->may_skip_last);
}

/* The component named name[0..len) or having it as an alias, -1 when none. */
int cache_comp_find(const cache_comps *c, const char *name, size_t len);

/* The registered policies (registry.c); NULL if unknown. */
const cache_policy_ops *cache_policy_find(const char *name);
/* "none, fora, smooth" for messages. */
const char *cache_policy_names(void);
/* The i-th registered policy, NULL past the end (for --help listings). */
const cache_policy_ops *cache_policy_at(int i);

#endif
