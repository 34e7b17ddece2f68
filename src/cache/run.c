#include "cache/run.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "core/ckmath.h"
#include "core/error.h"

struct cache_run {
    const cache_policy_ops *ops;
    void *state;
    int owns_state;
    int begun;
    cache_gen g;
    int n;                 /* current evaluation */
    int nc;                /* components per block */
    float **buf;           /* [depth * nc], NULL where the policy never reuses */
    float *buf_mem;        /* one block holding every non-NULL buf[i] */
    /* store=bf16: buf[i] points to bf16 slots (uint16_t, buf_elems each) in buf_mem; sub-layers
     * compute into, and reused outputs are widened into, the float `scratch` [rows * T, D]. */
    int store_bf16;
    float *scratch;
    unsigned char *valid;  /* [depth * nc] */
    size_t buf_elems;
    long computed[CACHE_MAX_COMP], skipped[CACHE_MAX_COMP];
    long skipped_full[CACHE_MAX_COMP]; /* of skipped: those at evaluations that ran every row */
    uint64_t macs_forward, macs_sub[CACHE_MAX_COMP];
    /* The model's signals for the policy's views. */
    sc_status (*modulated_input)(const cache_view *v, float *out);
    void *signal_ctx;
    /* Step-level skipping: declared segments, the stream entering each (when it runs this
     * evaluation) and its last residual h_last - h_first. */
    cache_segment seg[CACHE_MAX_SEGMENTS];
    int n_seg;
    float *seg_start[CACHE_MAX_SEGMENTS], *seg_res[CACHE_MAX_SEGMENTS];
    int seg_valid[CACHE_MAX_SEGMENTS], seg_running[CACHE_MAX_SEGMENTS];
    double policy_seconds;     /* time spent inside the policy's per-step hooks */
    double setup_seconds;      /* time spent in begin(): the policy's and the engine's buffers */
    int active_rows;           /* rows of the current evaluation: g.rows, or N when uncond is skipped */
    long uncond_skipped;       /* evaluations that ran the conditional rows only */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cache_comp_find(const cache_comps *c, const char *name, size_t len)
{
    for (int i = 0; i < c->n; i++)
        if (strlen(c->name[i]) == len && !strncmp(c->name[i], name, len)) return i;
    for (int i = 0; i < c->n; i++)
        for (const char *a = c->aliases[i]; a && *a;) {
            const size_t n = strcspn(a, " ");
            if (n == len && !strncmp(a, name, len)) return i;
            a += n;
            a += strspn(a, " ");
        }
    return -1;
}

sc_status cache_run_create_with(const cache_policy_ops *ops, void *state, cache_run **out)
{
    cache_run *r = calloc(1, sizeof *r);
    if (!r) return err_fail(SC_ERR_NOMEM, "out of memory");
    r->ops = ops;
    r->state = state;
    *out = r;
    return SC_OK;
}

/* Does a policy's option text ("n=N (...), thresh=T ...") name `key` as an option ("key=")? */
static int names_option(const char *options, const char *key)
{
    const size_t kl = strlen(key);
    for (const char *p = options; (p = strstr(p, key)); p += kl) {
        const int starts = p == options || !(islower((unsigned char)p[-1]) || p[-1] == '_' || isdigit((unsigned char)p[-1]));
        if (starts && p[kl] == '=') return 1;
    }
    return 0;
}

/* Every key of the spec must be one of this policy's options; a key another policy has is named
 * as that policy's, so that the message does not only list this policy's options. Checked before
 * the policy reads its options, so that an unknown key is what the message is about. */
static sc_status check_keys(const cache_spec *spec, const cache_policy_ops *ops)
{
    for (int i = 0; i < spec->n; i++) {
        const char *key = spec->kv[i].key;
        if (names_option(ops->options, key) || names_option(CACHE_ENGINE_OPTIONS, key)) continue;
        char owners[160] = "";
        size_t n = 0;
        for (int k = 0; cache_policy_at(k); k++) {
            const cache_policy_ops *o = cache_policy_at(k);
            if (o != ops && names_option(o->options, key) && n < sizeof owners)
                n += (size_t)snprintf(owners + n, sizeof owners - n, "%s%s", n ? ", " : "", o->name);
        }
        if (n)
            return err_fail(SC_ERR_ARG, "cache policy %s has no option '%s' (that is an option of %s); %s's options: %s; "
                            "every policy's: %s", spec->name, key, owners, spec->name, ops->options, CACHE_ENGINE_OPTIONS);
        return err_fail(SC_ERR_ARG, "cache policy %s: unknown option '%s' (known: %s; every policy's: %s)", spec->name,
                        key, ops->options, CACHE_ENGINE_OPTIONS);
    }
    return SC_OK;
}

sc_status cache_run_create(const char *text, cache_run **out)
{
    cache_spec spec;
    *out = NULL;
    sc_status s = spec_parse(text, &spec);
    if (s) return s;
    const cache_policy_ops *ops = cache_policy_find(spec.name);
    if (!ops) return err_fail(SC_ERR_ARG, "cache spec: unknown policy '%s' (known: %s)", spec.name, cache_policy_names());
    void *state = NULL;
    const char *store = NULL;
    if ((s = check_keys(&spec, ops)) || (s = spec_str(&spec, "store", 0, &store))) return s;
    if (store && strcmp(store, "bf16") && strcmp(store, "f32"))
        return err_fail(SC_ERR_ARG, "cache spec: store='%s' is not f32 or bf16", store);
    if ((s = ops->create(&spec, &state))) return s;
    if ((s = spec_check_unused(&spec, ops->options)) || (s = cache_run_create_with(ops, state, out))) {
        ops->destroy(state);
        return s;
    }
    (*out)->owns_state = 1;
    (*out)->store_bf16 = store && !strcmp(store, "bf16");
    return SC_OK;
}

const char *cache_run_name(const cache_run *r) { return r->ops->name; }

static void release_buffers(cache_run *r)
{
    const backend *be = r->g.be;
    if (be) be->release(r->buf_mem);
    if (be) be->release(r->scratch);
    r->buf_mem = NULL;
    r->scratch = NULL;
    free(r->buf);
    free(r->valid);
    r->buf = NULL;
    r->valid = NULL;
    for (int i = 0; i < r->n_seg; i++) {
        if (be) be->release(r->seg_start[i]);
        if (be) be->release(r->seg_res[i]);
        r->seg_start[i] = r->seg_res[i] = NULL;
    }
    r->n_seg = 0;
}

void cache_run_set_signals(cache_run *r, sc_status (*modulated_input)(const cache_view *v, float *out), void *ctx)
{
    r->modulated_input = modulated_input;
    r->signal_ctx = ctx;
}

sc_status cache_run_begin(cache_run *r, const cache_gen *g, uint64_t macs_forward, const uint64_t *macs_comp)
{
    SC_ASSERT(!r->begun && g->comp.n >= 1 && g->comp.n <= CACHE_MAX_COMP);
    r->g = *g;
    r->nc = g->comp.n;
    r->n = -1;
    memset(r->computed, 0, sizeof r->computed);
    memset(r->skipped, 0, sizeof r->skipped);
    memset(r->skipped_full, 0, sizeof r->skipped_full);
    r->uncond_skipped = 0;
    r->policy_seconds = 0;
    r->setup_seconds = 0;
    const double t0 = now();
    r->macs_forward = macs_forward;
    for (int c = 0; c < r->nc; c++) r->macs_sub[c] = macs_comp[c];
    sc_status s = r->ops->begin(r->state, &r->g);
    if (s) return s;
    r->begun = 1;
    if (r->ops->segments) {
        r->n_seg = r->ops->segments(r->state, r->seg);
        SC_ASSERT(r->n_seg >= 0 && r->n_seg <= CACHE_MAX_SEGMENTS);
        for (int i = 0; i < r->n_seg; i++) {
            SC_ASSERT(r->seg[i].first >= 0 && r->seg[i].first < r->seg[i].last && r->seg[i].last <= g->depth);
            r->seg_valid[i] = r->seg_running[i] = 0;
            const size_t n = (size_t)g->rows * g->tokens * g->hidden; /* [rows * T, D] */
            if (!(r->seg_start[i] = g->be->alloc(n, "segment input")) || !(r->seg_res[i] = g->be->alloc(n, "segment residual"))) {
                cache_run_end(r, NULL);
                return SC_ERR_NOMEM;
            }
        }
    }
    const int slots = g->depth * r->nc;
    r->buf = calloc((size_t)slots, sizeof *r->buf);
    r->valid = calloc((size_t)slots, 1);
    r->buf_elems = (size_t)g->rows * g->tokens * g->hidden;
    if (!r->buf || !r->valid) {
        cache_run_end(r, NULL);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    int stored = 0;
    for (int l = 0; l < g->depth; l++)
        for (int c = 0; c < r->nc; c++) stored += r->ops->stores(r->state, l, c) != 0;
    if (stored) {
        /* [stored][rows * T, D]: the raw sub-layer output of every row, CFG halves included,
         * in one block (one allocation, faulted in by every thread). */
        uint64_t elems;
        /* bf16 slots take half a float each (buf_elems rounded up to whole floats). */
        const size_t slot = r->store_bf16 ? (r->buf_elems + 1) / 2 : r->buf_elems;
        if (ck_mul((uint64_t)stored, slot, &elems) && elems <= SIZE_MAX)
            r->buf_mem = g->be->alloc((size_t)elems, "cache buffers");
        else
            err_fail(SC_ERR_NOMEM, "out of memory allocating cache buffers");
        if (r->buf_mem && r->store_bf16) r->scratch = g->be->alloc(r->buf_elems, "cache scratch");
        if (!r->buf_mem || (r->store_bf16 && !r->scratch)) {
            cache_run_end(r, NULL);
            return SC_ERR_NOMEM;
        }
        int i = 0;
        for (int l = 0; l < g->depth; l++)
            for (int c = 0; c < r->nc; c++)
                if (r->ops->stores(r->state, l, c)) r->buf[l * r->nc + c] = r->buf_mem + (size_t)i++ * slot;
    }
    r->setup_seconds += now() - t0;
    return SC_OK;
}

static int forced(const cache_run *r)
{
    return r->n == 0 || (r->n == r->g.steps - 1 && !r->ops->may_skip_last);
}

void cache_run_step(cache_run *r, int n)
{
    SC_ASSERT(r->begun && n == r->n + 1 && n < r->g.steps);
    r->n = n;
    r->active_rows = r->g.rows;
}

int cache_run_uncond_skip(cache_run *r)
{
    if (!r->ops->uncond_skip || r->g.rows != 2 * r->g.images || forced(r)) return 0;
    const double t0 = now();
    int skip = r->ops->uncond_skip(r->state, r->n);
    r->policy_seconds += now() - t0;
    if (skip) {
        r->active_rows = r->g.images;
        r->uncond_skipped++;
    }
    return skip;
}

void cache_run_rebuild_uncond(cache_run *r, const float *cond_out, float *uncond_out, size_t count)
{
    const double t0 = now();
    r->ops->rebuild_uncond(r->state, r->n, cond_out, uncond_out, count);
    r->policy_seconds += now() - t0;
}

/* store=bf16: the first `rows` rows of the float scratch into slot's bf16 copy, or all of the
 * slot back into the scratch. */
static void pack_slot(cache_run *r, int slot, int rows)
{
    r->g.be->to_bf16((uint16_t *)(void *)r->buf[slot], r->scratch, (size_t)rows * r->g.tokens * r->g.hidden);
}

static void unpack_slot(cache_run *r, int slot)
{
    r->g.be->from_bf16(r->scratch, (const uint16_t *)(const void *)r->buf[slot], r->buf_elems);
}

int cache_run_decide(cache_run *r, int l, int c, float **buf)
{
    const int slot = l * r->nc + c;
    *buf = r->store_bf16 && r->buf[slot] ? r->scratch : r->buf[slot];
    int d = CACHE_COMPUTE;
    if (!forced(r) && r->valid[slot] && r->ops->decide) {
        const double t0 = now();
        d = r->ops->decide(r->state, r->n, l, c);
        r->policy_seconds += now() - t0;
    }
    /* A policy may only reuse or predict what it declared it stores. */
    SC_ASSERT(d == CACHE_COMPUTE || *buf);
    if (d == CACHE_COMPUTE) {
        r->computed[c]++;
        if (*buf) r->valid[slot] = 1;
        return 1;
    }
    r->skipped[c]++;
    if (r->active_rows == r->g.rows) r->skipped_full[c]++;
    if (r->store_bf16) unpack_slot(r, slot); /* the stored output, widened */
    if (d == CACHE_PREDICT) {
        const double t0 = now();
        r->ops->predict(r->state, r->n, l, c, *buf);
        r->policy_seconds += now() - t0;
        /* As with float slots, the prediction becomes the stored output. */
        if (r->store_bf16) pack_slot(r, slot, r->active_rows);
    }
    return 0;
}

void cache_run_observe(cache_run *r, int l, int c, const float *out)
{
    const int slot = l * r->nc + c;
    if (r->store_bf16 && r->buf[slot]) pack_slot(r, slot, r->active_rows); /* out is the scratch */
    if (!r->ops->observe) return;
    const double t0 = now();
    r->ops->observe(r->state, r->n, l, c, out);
    r->policy_seconds += now() - t0;
}

int cache_run_boundary(cache_run *r, int l, float *h)
{
    if (!r->ops->boundary) return l;
    const backend *be = r->g.be;
    const size_t n = (size_t)r->active_rows * r->g.tokens * r->g.hidden;
    const double t0 = now();
    /* Segments that ran up to here: their residual is h_l - h_first. */
    for (int i = 0; i < r->n_seg; i++)
        if (r->seg_running[i] && r->seg[i].last == l) {
            be->sub(r->seg_res[i], h, r->seg_start[i], n);
            r->seg_valid[i] = 1;
            r->seg_running[i] = 0;
        }
    const cache_view v = {.h = h, .rows = r->active_rows, .tokens = r->g.tokens, .hidden = r->g.hidden, .l = l,
                          .modulated_input = r->modulated_input, .ctx = r->signal_ctx};
    int next = r->ops->boundary(r->state, r->n, l, &v);
    if (next > l && !forced(r)) {
        for (int i = 0; i < r->n_seg; i++)
            if (r->seg[i].first == l && r->seg[i].last == next && r->seg_valid[i]) {
                be->add(h, r->seg_res[i], n);
                for (int c = 0; c < r->nc; c++) {
                    r->skipped[c] += next - l;
                    if (r->active_rows == r->g.rows) r->skipped_full[c] += next - l;
                }
                r->policy_seconds += now() - t0;
                return next;
            }
    }
    /* Running on: snapshot the stream entering every segment that starts here. */
    for (int i = 0; i < r->n_seg; i++)
        if (r->seg[i].first == l) {
            be->copy(r->seg_start[i], h, n);
            r->seg_running[i] = 1;
        }
    r->policy_seconds += now() - t0;
    return l;
}

void cache_run_output(cache_run *r, const float *out, size_t count)
{
    if (!r->ops->output) return;
    const double t0 = now();
    r->ops->output(r->state, r->n, out, count);
    r->policy_seconds += now() - t0;
}

void cache_run_end(cache_run *r, sc_cache_stats *stats)
{
    if (stats) {
        memset(stats, 0, sizeof *stats);
        const double rows = r->g.rows;
        stats->macs_uncached = rows * (double)r->macs_forward * r->g.steps;
        /* Evaluations that ran the conditional half only did half the work. */
        stats->macs = stats->macs_uncached - (double)r->g.images * (double)r->macs_forward * (double)r->uncond_skipped;
        stats->n_components = r->nc;
        for (int c = 0; c < r->nc; c++) {
            stats->components[c] = r->g.comp.name[c];
            stats->computed[c] = r->computed[c];
            stats->skipped[c] = r->skipped[c];
            stats->macs -= rows * (double)r->macs_sub[c] * (double)r->skipped_full[c] +
                           (double)r->g.images * (double)r->macs_sub[c] * (double)(r->skipped[c] - r->skipped_full[c]);
        }
        stats->policy_seconds = r->policy_seconds;
        stats->setup_seconds = r->setup_seconds;
    }
    release_buffers(r);
    if (r->begun) r->ops->end(r->state);
    r->begun = 0;
}

void cache_run_free(cache_run *r)
{
    if (!r) return;
    if (r->begun) cache_run_end(r, NULL);
    if (r->owns_state) r->ops->destroy(r->state);
    free(r);
}
