/* teacache (Liu et al., arXiv 2411.19108, CVPR 2025; docs/CACHING.md, "TeaCache"): skip the whole block stack
 * when the accumulated, rescaled change of block 0's timestep-modulated input stays small.
 *
 *   m_n = LN(h0)(1 + scale_msa) + shift_msa     block 0's input, rebuilt at boundary 0
 *   d_n = relL1(m_n, m_{n-1}) = sum|m_n - m_{n-1}| / sum|m_{n-1}|   (m_{n-1} kept every evaluation)
 *   A  += P(d_n), P(x) = c0 x^4 + c1 x^3 + c2 x^2 + c3 x + c4
 *   A < thresh: reuse the stack residual R = hL - h0; else compute, refresh R, A = 0
 *
 * As TeaCache4FLUX: the first and last evaluations compute (the engine rule, may_skip_last 0)
 * and reset A; m is updated on every evaluation, skipped or not. One decision for the whole
 * batch: d_n pools every row, guidance rows included, so a CFG pair shares A and R (the
 * reference implementations keep one state per branch when CFG runs as two calls). A zero or
 * non-finite d_n (no usable reference) computes and resets A.
 *
 * P comes from `coef=` (highest degree first, as the papers print it) or from the JSON that
 * `smoothcache calibrate --for teacache` writes (teacache_calibrate.c); without either, P(x) = x
 * (raw relL1, uncalibrated). The model gives m_n (its block 0's modulated input); a model without
 * modulation cannot run this policy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibfile.h"
#include "cache/calibrator.h"
#include "cache/kernels.h"
#include "cache/policy.h"
#include "cache/polyfit.h"
#include "core/error.h"

extern const cache_calibrator cache_calibrator_teacache;

#define TEA_COEFS 5

extern const cache_policy_ops cache_teacache;

typedef struct {
    double coef[TEA_COEFS]; /* x^4 .. x^0 */
    double thresh;
    char path[1024];    /* the coefficient file, "" when coef= or the default */
    char sampler[32];   /* its _meta.sampler and steps ("", 0 when it does not say) */
    int file_steps;
    /* Per generation. */
    cache_gen g;
    float *m_prev, *m_cur; /* [rows * tokens, hidden] */
    int have_prev, have_res;
    double acc;
} tea_state;

static void tea_free_buffers(tea_state *t)
{
    if (t->g.be) {
        cache_free(&t->g, t->m_prev);
        cache_free(&t->g, t->m_cur);
    }
    t->m_prev = t->m_cur = NULL;
}

static void tea_destroy(void *st)
{
    if (!st) return;
    tea_free_buffers(st);
    free(st);
}

static sc_status parse_coefs(const char *text, double *coef)
{
    const char *p = text;
    for (int i = 0; i < TEA_COEFS; i++) {
        const char *slash = strchr(p, '/');
        const size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (!spec_number(p, len, &coef[i]) || (i < TEA_COEFS - 1) != (slash != NULL))
            return err_fail(SC_ERR_ARG, "cache policy teacache: coef=%s is not 5 finite numbers c0/c1/c2/c3/c4 (x^4 first)",
                           text);
        p = slash ? slash + 1 : p;
    }
    return SC_OK;
}

static sc_status load_coef_file(tea_state *t, const char *path)
{
    double *v;
    size_t n;
    sc_status s = calibfile_numbers(path, "coef", "an array of 5 numbers (x^4 first)", TEA_COEFS, TEA_COEFS, -INFINITY,
                                    INFINITY, &v, &n, t->sampler, sizeof t->sampler, &t->file_steps);
    if (s) return s;
    snprintf(t->path, sizeof t->path, "%s", path);
    memcpy(t->coef, v, TEA_COEFS * sizeof *t->coef);
    free(v);
    return SC_OK;
}

static sc_status tea_create(cache_spec *spec, void **state)
{
    tea_state *t = calloc(1, sizeof *t);
    if (!t) return err_fail(SC_ERR_NOMEM, "out of memory");
    const double identity[TEA_COEFS] = {0, 0, 0, 1, 0};
    memcpy(t->coef, identity, sizeof identity);
    const char *coef = NULL, *file = NULL;
    sc_status s = spec_num(spec, "thresh", 0, 0.0, 1e6, 0.1, &t->thresh);
    if (!s) s = spec_str(spec, "coef", 0, &coef);
    if (!s) s = spec_str(spec, "coef_file", 0, &file);
    if (!s && coef && file) s = err_fail(SC_ERR_ARG, "cache policy teacache: give coef= or coef_file=, not both");
    if (!s && coef) s = parse_coefs(coef, t->coef);
    if (!s && file) s = load_coef_file(t, file);
    if (s) {
        free(t);
        return s;
    }
    *state = t;
    return SC_OK;
}

static sc_status tea_begin(void *st, const cache_gen *g)
{
    tea_state *t = st;
    const size_t n = (size_t)g->rows * g->tokens * g->hidden;
    if (!g->has_modulated_input)
        return err_fail(SC_ERR_ARG, "cache policy teacache: its signal is block 0's modulated input, which this model's "
                                    "blocks do not have");
    if (t->path[0] && t->sampler[0] && strcmp(t->sampler, g->sampler))
        err_warn("%s was calibrated with the %s sampler; this generation uses %s", t->path, t->sampler, g->sampler);
    if (t->path[0] && t->file_steps && t->file_steps != g->steps)
        err_warn("%s was calibrated for %d steps; this generation makes %d (the polynomial was fitted to the "
                 "input changes of the calibrated steps)", t->path, t->file_steps, g->steps);
    tea_free_buffers(t);
    t->g = *g;
    t->have_prev = t->have_res = 0;
    t->acc = 0;
    if (!(t->m_prev = cache_alloc(g, n, "TeaCache modulated input")) ||
        !(t->m_cur = cache_alloc(g, n, "TeaCache modulated input"))) {
        tea_free_buffers(t);
        return SC_ERR_NOMEM;
    }
    return SC_OK;
}

static int tea_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 0; }

static int tea_segments(void *st, cache_segment *out)
{
    out[0] = (cache_segment){0, ((tea_state *)st)->g.depth};
    return 1;
}

static int tea_boundary(void *st, int n, int l, const cache_view *v)
{
    tea_state *t = st;
    if (l != 0) return l;
    /* m_n [rows * tokens, D]: block 0's modulated input, from the model. */
    if (v->modulated_input(v, t->m_cur)) return l; /* cannot fail for a model that has it (begin checked) */
    int skip = 0;
    if (!cache_engine_computes(&cache_teacache, n, t->g.steps) && t->have_prev && t->have_res) {
        double diff, ref;
        cache_l1(&t->g, t->m_cur, t->m_prev, (size_t)v->rows * v->tokens * v->hidden, &diff, &ref);
        const double d = cache_rel(diff, ref);
        if (isfinite(d)) {
            t->acc += polyval(t->coef, TEA_COEFS - 1, d); /* Horner, as numpy.poly1d */
            skip = t->acc < t->thresh;
        }
    }
    float *swap = t->m_prev;
    t->m_prev = t->m_cur;
    t->m_cur = swap;
    t->have_prev = 1;
    if (skip) return t->g.depth;
    t->acc = 0;
    t->have_res = 1;
    return l;
}

static void tea_end(void *st) { tea_free_buffers(st); }

const cache_policy_ops cache_teacache = {
    .name = "teacache",
    .about = "TeaCache: skip all blocks while the rescaled input change accumulates below a threshold",
    .options = "thresh=T (default 0.1), coef=C0/C1/C2/C3/C4 (x^4 first; default 0/0/0/1/0, P(x) = x) | "
               "coef_file=FILE (calibrate --for teacache)",
    .calibrator = &cache_calibrator_teacache,
    .create = tea_create,
    .begin = tea_begin,
    .stores = tea_stores,
    .segments = tea_segments,
    .boundary = tea_boundary,
    .end = tea_end,
    .destroy = tea_destroy,
};
