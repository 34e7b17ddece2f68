/* magcache (Ma et al., arXiv 2506.09045, NeurIPS 2025; docs/CACHING.md, "MagCache"): skip the whole block
 * stack while the accumulated drift of the calibrated residual magnitude ratios stays small.
 *
 *   gamma_n = mean_tokens ||R_n||_2 / ||R_{n-1}||_2 of the stack residual R = hL - h0, measured
 *   once on an uncached run (`smoothcache calibrate --for magcache --samples 1`, magcache_calibrate.c)
 *   n <  floor(retention T + 0.5): compute
 *   else G *= gamma_n, cnt += 1, E += |1 - G|;
 *        E <= thresh and cnt <= k and R exists: reuse R unscaled;
 *        else compute, refresh R, (G, cnt, E) = (1, 0, 0)
 *
 * This follows diffusers' MagCache hook (hooks/mag_cache.py), which tests/test_peers_a.c
 * compares against: the ratios are float32 and G, E and the comparison are float32 arithmetic
 * as there; a file made for T steps is resampled to T' with diffusers' nearest_interp (index
 * round_half_even(f32(i) * f32((T-1)/(T'-1))), the last entry when T' = 1); the last evaluation
 * is decided like any other (may_skip_last). One decision for the whole batch: a CFG pair counts
 * once and shares R, as in the hook run on DiT's batched guidance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/calibfile.h"
#include "cache/calibrator.h"
#include "cache/policy.h"
#include "core/error.h"

extern const cache_calibrator cache_calibrator_magcache;

extern const cache_policy_ops cache_magcache;

typedef struct {
    float *file_ratios; /* as calibrated, [file_steps] */
    int file_steps;
    char path[1024];
    char sampler[32];   /* from the file's _meta, "" if absent */
    double thresh, retention;
    long k;
    /* Per generation. */
    int steps, depth;
    float *ratios;      /* [steps] */
    long retain;        /* evaluations n < retain always compute */
    float G, E;
    long cnt;
    int have_res;
} mag_state;

static void mag_destroy(void *st)
{
    mag_state *m = st;
    if (!m) return;
    free(m->file_ratios);
    free(m->ratios);
    free(m);
}

static sc_status load_ratios(mag_state *m, const char *path)
{
    double *v;
    size_t n;
    sc_status s = calibfile_numbers(path, "ratios", "a non-empty array of numbers (one per evaluation)", 1, 100000, 0.0,
                                    1e30, &v, &n, m->sampler, sizeof m->sampler, NULL);
    if (s) return s;
    snprintf(m->path, sizeof m->path, "%s", path);
    if (!(m->file_ratios = malloc(n * sizeof *m->file_ratios))) {
        free(v);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) m->file_ratios[i] = (float)v[i];
    m->file_steps = (int)n;
    free(v);
    return SC_OK;
}

static sc_status mag_create(cache_spec *spec, void **state)
{
    mag_state *m = calloc(1, sizeof *m);
    if (!m) return err_fail(SC_ERR_NOMEM, "out of memory");
    const char *file = NULL;
    sc_status s = spec_str(spec, "ratios", 1, &file);
    if (!s) s = spec_num(spec, "thresh", 0, 0.0, 1e6, 0.06, &m->thresh);
    if (!s) s = spec_int(spec, "k", 0, 0, 100000, 3, &m->k);
    if (!s) s = spec_num(spec, "retention", 0, 0.0, 1.0, 0.2, &m->retention);
    if (!s) s = load_ratios(m, file);
    if (s) {
        mag_destroy(m);
        return s;
    }
    *state = m;
    return SC_OK;
}

static sc_status mag_begin(void *st, const cache_gen *g)
{
    mag_state *m = st;
    m->steps = g->steps;
    m->depth = g->depth;
    free(m->ratios);
    if (!(m->ratios = malloc((size_t)g->steps * sizeof *m->ratios))) return err_fail(SC_ERR_NOMEM, "out of memory");
    if (m->sampler[0] && strcmp(m->sampler, g->sampler))
        err_warn("%s was calibrated with the %s sampler; this generation uses %s", m->path, m->sampler, g->sampler);
    if (m->file_steps != g->steps)
        err_warn("%s was calibrated for %d evaluations; its ratios are resampled to this generation's %d (as "
                 "diffusers' MagCache does), which is less accurate than calibrating for %d",
                 m->path, m->file_steps, g->steps, g->steps);
    if (g->steps == 1) {
        m->ratios[0] = m->file_ratios[m->file_steps - 1];
    } else {
        const float scale = (float)((double)(m->file_steps - 1) / (g->steps - 1));
        for (int i = 0; i < g->steps; i++) {
            const long idx = lrintf((float)i * scale); /* round half to even, like torch.round */
            m->ratios[i] = m->file_ratios[idx < m->file_steps ? idx : m->file_steps - 1];
        }
    }
    m->retain = (long)(m->retention * g->steps + 0.5);
    m->G = 1.0f;
    m->E = 0.0f;
    m->cnt = 0;
    m->have_res = 0;
    return SC_OK;
}

static int mag_stores(void *st, int l, int c) { (void)st; (void)l; (void)c; return 0; }

static int mag_segments(void *st, cache_segment *out)
{
    out[0] = (cache_segment){0, ((mag_state *)st)->depth};
    return 1;
}

static int mag_boundary(void *st, int n, int l, const cache_view *v)
{
    mag_state *m = st;
    (void)v;
    if (l != 0) return l;
    int skip = 0;
    if (n >= m->retain) {
        m->G *= m->ratios[n];
        m->cnt++;
        m->E += fabsf(1.0f - m->G);
        skip = m->E <= (float)m->thresh && m->cnt <= m->k && m->have_res &&
               !cache_engine_computes(&cache_magcache, n, m->steps);
        if (!skip) {
            m->G = 1.0f;
            m->E = 0.0f;
            m->cnt = 0;
        }
    }
    if (skip) return m->depth;
    m->have_res = 1;
    return l;
}

static void mag_end(void *st)
{
    mag_state *m = st;
    free(m->ratios);
    m->ratios = NULL;
}

const cache_policy_ops cache_magcache = {
    .name = "magcache",
    .about = "MagCache: skip all blocks while the calibrated residual magnitude error stays small",
    .options = "ratios=FILE (calibrate --for magcache; required), thresh=T (default 0.06), "
               "k=K (most consecutive skips, default 3), retention=R (default 0.2)",
    .may_skip_last = 1,
    .calibrator = &cache_calibrator_magcache,
    .create = mag_create,
    .begin = mag_begin,
    .stores = mag_stores,
    .segments = mag_segments,
    .boundary = mag_boundary,
    .end = mag_end,
    .destroy = mag_destroy,
};
