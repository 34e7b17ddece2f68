/* fastercache (Lv et al., arXiv 2410.19355, as diffusers' FasterCache hooks implement it;
 * docs/CACHING.md), two parts:
 *   CFG-Cache: at evaluations n > 0 with t inside `uncond_range` and n % uncond_every != 0, only
 *     the conditional rows run; the unconditional output is rebuilt as
 *     Re(iDFT(DFT(cond) + dL + dH)), where dL / dH are the low / high frequency parts (a disc of
 *     radius min(H, W) / 5 around the centred zero frequency, and the rest) of DFT(uncond) -
 *     DFT(cond) at the last full evaluation, multiplied at every rebuild by alpha_low (t inside
 *     (99, 901)) and alpha_high (t inside (-1, 301)): the factors compound, as in diffusers;
 *   attention: at those conditional-only evaluations with t inside `attn_range` and
 *     n % attn_every != 0, each block's self-attention output is extrapolated from its last
 *     two, A1 + w (A1 - A2), instead of computed; the history holds the outputs used (computed or
 *     extrapolated) of the conditional rows.
 * The last evaluation is decided like any other (diffusers does not force it). The frequency
 * split needs picture-shaped outputs [C, H, W]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/kernels.h"
#include "cache/policy.h"
#include "cache/spectral.h"
#include "core/error.h"

typedef struct {
    long uncond_every, attn_every;
    double uncond_lo, uncond_hi, attn_lo, attn_hi, weight, alpha_low, alpha_high;
    /* per generation */
    cache_gen g;
    int depth, images, steps, rows;
    int attn;                /* the self-attention component */
    const int *timesteps;
    size_t elems;            /* floats of one row's sub-layer output [T, D] */
    float *hist;             /* [depth][2][images * elems]: the last two attention outputs (a ring) */
    int *hist_n;             /* [depth]: outputs recorded */
    unsigned char *newest;   /* [depth]: which of the two slots holds the last output */
    cache_spectral spec;     /* the guidance delta's frequencies (guided generations) */
    int have_delta;
    int cond_only;           /* the current evaluation runs the conditional rows only */
} faster_state;

static sc_status fc_create(cache_spec *spec, void **state)
{
    faster_state *f = calloc(1, sizeof *f);
    if (!f) return err_fail(SC_ERR_NOMEM, "out of memory");
    double uhi, ahi;
    sc_status s = spec_int(spec, "uncond_every", 0, 1, 1000, 5, &f->uncond_every);
    if (!s) s = spec_num(spec, "uncond_until", 0, -1, 1e6, 641, &uhi);
    if (!s) s = spec_int(spec, "attn_every", 0, 1, 1000, 2, &f->attn_every);
    if (!s) s = spec_num(spec, "attn_until", 0, -1, 1e6, 681, &ahi);
    if (!s) s = spec_num(spec, "weight", 0, -10, 10, 0.5, &f->weight);
    if (!s) s = spec_num(spec, "alpha_low", 0, 0, 10, 1.1, &f->alpha_low);
    if (!s) s = spec_num(spec, "alpha_high", 0, 0, 10, 1.1, &f->alpha_high);
    if (s) {
        free(f);
        return s;
    }
    /* diffusers' ranges are open intervals (lo, hi) of timesteps with lo = -1. */
    f->uncond_lo = -1, f->uncond_hi = uhi, f->attn_lo = -1, f->attn_hi = ahi;
    *state = f;
    return SC_OK;
}

static void fc_end(void *st)
{
    faster_state *f = st;
    if (f->g.be) cache_free(&f->g, f->hist);
    free(f->hist_n);
    free(f->newest);
    spectral_free(&f->spec);
    f->hist = NULL, f->hist_n = NULL, f->newest = NULL;
}

static sc_status fc_begin(void *st, const cache_gen *g)
{
    faster_state *f = st;
    f->attn = -1;
    for (int c = 0; c < g->comp.n && f->attn < 0; c++)
        if (g->comp.role[c] == CACHE_ROLE_SELF_ATTENTION) f->attn = c;
    if (f->attn < 0) return err_fail(SC_ERR_ARG, "cache policy fastercache: this model's blocks have no self-attention");
    const int guided = g->rows == 2 * g->images;
    if (guided && g->out.rank != 3 && g->out.rank != 2)
        return err_fail(SC_ERR_ARG, "cache policy fastercache: its frequency split needs picture outputs [C, H, W] "
                                    "or sequences [C, L] (this model's have rank %d)", g->out.rank);
    f->g = *g;
    f->depth = g->depth;
    f->images = g->images;
    f->steps = g->steps;
    f->rows = g->rows;
    f->timesteps = g->timesteps;
    f->elems = (size_t)g->tokens * g->hidden;
    f->have_delta = 0;
    f->cond_only = 0;
    size_t floats;
    if (__builtin_mul_overflow((size_t)g->depth * 2 * (size_t)g->images, f->elems, &floats))
        return err_fail(SC_ERR_NOMEM, "out of memory for FasterCache");
    f->hist = cache_alloc(g, floats, "attention history");
    f->hist_n = calloc((size_t)g->depth, sizeof *f->hist_n);
    f->newest = calloc((size_t)g->depth, sizeof *f->newest);
    sc_status s = f->hist && f->hist_n && f->newest ? SC_OK : err_fail(SC_ERR_NOMEM, "out of memory for FasterCache");
    /* Output planes [Co * images][H][W] of the conditional (and unconditional) rows; a sequence
     * [Co, L] is planes of one row (H = 1). */
    if (!s && guided)
        s = g->out.rank == 3 ? spectral_init(&f->spec, &f->g, g->out.dims[0] * g->images, g->out.dims[1], g->out.dims[2])
                             : spectral_init(&f->spec, &f->g, g->out.dims[0] * g->images, 1, g->out.dims[1]);
    if (s) fc_end(f);
    return s;
}

static int in_range(double t, double lo, double hi) { return lo < t && t < hi; }

static int fc_uncond_skip(void *st, int n)
{
    faster_state *f = st;
    const int t = f->timesteps[n];
    f->cond_only = n > 0 && f->have_delta && in_range(t, f->uncond_lo, f->uncond_hi) && n % f->uncond_every != 0;
    return f->cond_only;
}

/* Full evaluation: the deltas of uncond - cond per plane, split into low and high frequencies. */
static void fc_output(void *st, int n, const float *out, size_t count)
{
    faster_state *f = st;
    (void)n;
    if (f->cond_only || f->rows != 2 * f->images) return;
    spectral_delta(&f->spec, out, out + count / 2);
    f->have_delta = 1;
}

/* uncond = Re iDFT(DFT(cond) + dL + dH) per plane, with the deltas' factors compounding. */
static void fc_rebuild(void *st, int n, const float *cond, float *uncond, size_t count)
{
    faster_state *f = st;
    const int t = f->timesteps[n];
    const double wl = in_range(t, 99, 901) ? f->alpha_low : 1.0, wh = in_range(t, -1, 301) ? f->alpha_high : 1.0;
    (void)count;
    spectral_rebuild(&f->spec, cond, uncond, wl, wh);
}

static int fc_stores(void *st, int l, int c) { (void)l; return c == ((faster_state *)st)->attn; }

static int fc_decide(void *st, int n, int l, int c)
{
    faster_state *f = st;
    if (c != f->attn || !f->cond_only || f->hist_n[l] < 1) return CACHE_COMPUTE;
    const int t = f->timesteps[n];
    if (!in_range(t, f->attn_lo, f->attn_hi)) return CACHE_COMPUTE;
    return n > 0 && n % f->attn_every == 0 ? CACHE_COMPUTE : CACHE_PREDICT;
}

/* The conditional rows (first images * elems floats) of an attention output enter the history:
 * they replace the older of the two slots, which then becomes the newest. */
static void fc_observe(void *st, int n, int l, int c, const float *out)
{
    faster_state *f = st;
    (void)n;
    if (c != f->attn) return;
    const size_t k = (size_t)f->images * f->elems;
    float *h = f->hist + (size_t)l * 2 * k;
    const int older = !f->newest[l];
    cache_copy(&f->g, h + (size_t)older * k, out, k);
    if (f->hist_n[l] == 0) cache_copy(&f->g, h + (size_t)f->newest[l] * k, out, k); /* A2 = A1 at first */
    f->newest[l] = (unsigned char)older;
    f->hist_n[l]++;
}

/* A1 + w (A1 - A2), written to out and, in the same pass, over A2 (it becomes the newest). */
static void fc_predict(void *st, int n, int l, int c, float *out)
{
    faster_state *f = st;
    (void)n;
    (void)c;
    const size_t k = (size_t)f->images * f->elems;
    float *h = f->hist + (size_t)l * 2 * k;
    const int older = !f->newest[l];
    const float *a1 = h + (size_t)f->newest[l] * k;
    float *a2 = h + (size_t)older * k;
    cache_extrapolate(&f->g, out, a1, a2, (float)f->weight, k);
    f->newest[l] = (unsigned char)older;
    f->hist_n[l]++;
}

const cache_policy_ops cache_fastercache = {
    .name = "fastercache",
    .about = "FasterCache: CFG-Cache for the unconditional branch plus extrapolated attention",
    .options = "uncond_every=N (5), uncond_until=T (641), attn_every=N (2), attn_until=T (681), weight=W (0.5), "
               "alpha_low=A (1.1), alpha_high=A (1.1)",
    .may_skip_last = 1,
    .create = fc_create,
    .begin = fc_begin,
    .stores = fc_stores,
    .decide = fc_decide,
    .observe = fc_observe,
    .predict = fc_predict,
    .output = fc_output,
    .uncond_skip = fc_uncond_skip,
    .rebuild_uncond = fc_rebuild,
    .end = fc_end,
    .destroy = free,
};
