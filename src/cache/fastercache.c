/* fastercache (Lv et al., arXiv 2410.19355, as diffusers' FasterCache hooks implement it; CACHING.md
 * 2.4), two parts:
 *   CFG-Cache: at evaluations n > 0 with t inside `uncond_range` and n % uncond_every != 0, only
 *     the conditional rows run; the unconditional output is rebuilt as
 *     Re(iDFT(DFT(cond) + dL + dH)), where dL / dH are the low / high frequency parts (a disc of
 *     radius min(H, W) / 5 around the centred zero frequency, and the rest) of DFT(uncond) -
 *     DFT(cond) at the last full evaluation, multiplied at every rebuild by alpha_low (t inside
 *     (99, 901)) and alpha_high (t inside (-1, 301)): the factors compound, as in diffusers;
 *   attention: at those conditional-only evaluations with t inside `attn_range` and
 *     n % attn_every != 0, each block's attention output is extrapolated from its last two,
 *     A1 + w (A1 - A2), instead of computed; the history holds the outputs used (computed or
 *     extrapolated) of the conditional rows.
 * The last evaluation is decided like any other (diffusers does not force it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cache/policy.h"
#include "core/dft.h"
#include "core/error.h"
#include "core/mem.h"

typedef struct {
    long uncond_every, attn_every;
    double uncond_lo, uncond_hi, attn_lo, attn_hi, weight, alpha_low, alpha_high;
    /* per generation */
    int depth, images, steps, rows;
    const int *timesteps;
    size_t elems;            /* floats of one row's sub-layer output [T, D] */
    float *hist;             /* [depth][2][images * elems]: the last two attention outputs (a ring) */
    int *hist_n;             /* [depth]: outputs recorded */
    unsigned char *newest;   /* [depth]: which of the two slots holds the last output */
    int planes, H, W;        /* out channels x images of model output planes, side */
    double *dlow, *dhigh;    /* [planes][H][W][2] spectra of uncond - cond */
    double *spec, *work;     /* two planes' spectra [2][H][W][2], DFT scratch */
    unsigned char *mask;     /* [H][W] 1 = low frequency */
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
    mem_free(f->hist);
    free(f->hist_n);
    free(f->newest);
    mem_free(f->dlow);
    mem_free(f->dhigh);
    mem_free(f->spec);
    mem_free(f->work);
    free(f->mask);
    f->hist = NULL, f->hist_n = NULL, f->newest = NULL, f->dlow = f->dhigh = f->spec = f->work = NULL, f->mask = NULL;
}

/* Spectra of the model output planes: a row's output is [Co, S, S]. */
static sc_status fc_alloc_planes(faster_state *f)
{
    const int S = f->H;
    const size_t spec = 2 * (size_t)S * S;
    f->dlow = mem_alloc_array((size_t)f->planes, spec * sizeof(double), "CFG deltas");
    f->dhigh = mem_alloc_array((size_t)f->planes, spec * sizeof(double), "CFG deltas");
    f->spec = mem_alloc_array(2 * spec, sizeof(double), "spectra");
    f->work = mem_alloc_array(dft_work_doubles(S, S), sizeof(double), "DFT scratch");
    f->mask = malloc((size_t)S * S);
    if (!f->dlow || !f->dhigh || !f->spec || !f->work || !f->mask) return SC_ERR_NOMEM;
    /* Low frequencies: the disc of radius min(H, W) / 5 around the zero frequency once it is
     * centred by fftshift (index k moves to (k + n / 2) % n). */
    const int r = S / 5;
    for (int u = 0; u < S; u++)
        for (int v = 0; v < S; v++) {
            int dy = (u + S / 2) % S - S / 2, dx = (v + S / 2) % S - S / 2;
            f->mask[u * S + v] = dx * dx + dy * dy <= r * r;
        }
    return SC_OK;
}

static sc_status fc_begin(void *st, const cache_gen *g)
{
    faster_state *f = st;
    f->depth = g->depth;
    f->images = g->images;
    f->steps = g->steps;
    f->rows = g->rows;
    f->timesteps = g->timesteps;
    f->elems = (size_t)g->tokens * g->hidden;
    f->have_delta = 0;
    f->H = f->W = g->side;
    f->planes = g->out_channels * g->images;
    f->hist = mem_alloc_array((size_t)g->depth * 2 * (size_t)g->images, f->elems * sizeof(float), "attention history");
    f->hist_n = calloc((size_t)g->depth, sizeof *f->hist_n);
    f->newest = calloc((size_t)g->depth, sizeof *f->newest);
    if (!f->hist || !f->hist_n || !f->newest || (g->rows == 2 * g->images && fc_alloc_planes(f))) {
        fc_end(f);
        return err_fail(SC_ERR_NOMEM, "out of memory for FasterCache");
    }
    return SC_OK;
}

static int in_range(double t, double lo, double hi) { return lo < t && t < hi; }

static int fc_uncond_skip(void *st, int n)
{
    faster_state *f = st;
    const int t = f->timesteps[n];
    f->cond_only = n > 0 && f->have_delta && in_range(t, f->uncond_lo, f->uncond_hi) && n % f->uncond_every != 0;
    return f->cond_only;
}

/* Full evaluation: the deltas of uncond - cond per plane, split into low and high frequencies
 * (one complex transform gives both spectra of a plane). */
static void fc_output(void *st, int n, const float *out, size_t count)
{
    faster_state *f = st;
    (void)n;
    if (f->cond_only || f->rows != 2 * f->images) return;
    const size_t per_row = count / (size_t)f->rows;
    const size_t plane = (size_t)f->H * f->W, spec = 2 * plane;
    for (int p = 0; p < f->planes; p++) {
        const float *c = out + (size_t)p * plane, *u = out + (size_t)f->images * per_row + (size_t)p * plane;
        double *dl = f->dlow + (size_t)p * spec, *dh = f->dhigh + (size_t)p * spec;
        dft2_real_pair(u, c, f->H, f->W, dl, f->spec, f->work); /* dl = DFT(uncond), spec = DFT(cond) */
        for (size_t i = 0; i < plane; i++) {
            double dre = dl[2 * i] - f->spec[2 * i], dim = dl[2 * i + 1] - f->spec[2 * i + 1];
            int low = f->mask[i];
            dl[2 * i] = low ? dre : 0, dl[2 * i + 1] = low ? dim : 0;
            dh[2 * i] = low ? 0 : dre, dh[2 * i + 1] = low ? 0 : dim;
        }
    }
    f->have_delta = 1;
}

/* Adds the (compounding) deltas of plane p to its spectrum sp. */
static void add_deltas(faster_state *f, int p, double wl, double wh, double *sp)
{
    const size_t spec = 2 * (size_t)f->H * f->W;
    double *dl = f->dlow + (size_t)p * spec, *dh = f->dhigh + (size_t)p * spec;
    for (size_t i = 0; i < spec; i++) {
        dl[i] *= wl; /* the stored deltas themselves are scaled: the factors compound */
        dh[i] *= wh;
        sp[i] += dl[i] + dh[i];
    }
}

/* uncond = Re iDFT(DFT(cond) + dL + dH) per plane, two planes per complex transform. */
static void fc_rebuild(void *st, int n, const float *cond, float *uncond, size_t count)
{
    faster_state *f = st;
    const int t = f->timesteps[n];
    const double wl = in_range(t, 99, 901) ? f->alpha_low : 1.0, wh = in_range(t, -1, 301) ? f->alpha_high : 1.0;
    const size_t plane = (size_t)f->H * f->W, spec = 2 * plane;
    double *s0 = f->spec, *s1 = f->spec + spec;
    (void)count;
    int p = 0;
    for (; p + 1 < f->planes; p += 2) {
        dft2_real_pair(cond + (size_t)p * plane, cond + (size_t)(p + 1) * plane, f->H, f->W, s0, s1, f->work);
        add_deltas(f, p, wl, wh, s0);
        add_deltas(f, p + 1, wl, wh, s1);
        idft2_real_pair(s0, s1, f->H, f->W, uncond + (size_t)p * plane, uncond + (size_t)(p + 1) * plane, f->work);
    }
    if (p < f->planes) {
        dft2_real(cond + (size_t)p * plane, f->H, f->W, s0, f->work);
        add_deltas(f, p, wl, wh, s0);
        idft2_real(s0, f->H, f->W, uncond + (size_t)p * plane, f->work);
    }
}

static int fc_stores(void *st, int l, cache_comp c) { (void)st; (void)l; return c == COMP_ATTN; }

static int fc_decide(void *st, int n, int l, cache_comp c)
{
    faster_state *f = st;
    if (c != COMP_ATTN || !f->cond_only || f->hist_n[l] < 1) return CACHE_COMPUTE;
    const int t = f->timesteps[n];
    if (!in_range(t, f->attn_lo, f->attn_hi)) return CACHE_COMPUTE;
    return n > 0 && n % f->attn_every == 0 ? CACHE_COMPUTE : CACHE_PREDICT;
}

/* The conditional rows (first images * elems floats) of an attention output enter the history:
 * they replace the older of the two slots, which then becomes the newest. */
static void fc_observe(void *st, int n, int l, cache_comp c, const float *out)
{
    faster_state *f = st;
    (void)n;
    if (c != COMP_ATTN) return;
    const size_t k = (size_t)f->images * f->elems;
    float *h = f->hist + (size_t)l * 2 * k;
    const int older = !f->newest[l];
    memcpy(h + (size_t)older * k, out, k * sizeof *out);
    if (f->hist_n[l] == 0) memcpy(h + (size_t)f->newest[l] * k, out, k * sizeof *out); /* A2 = A1 at first */
    f->newest[l] = (unsigned char)older;
    f->hist_n[l]++;
}

/* A1 + w (A1 - A2), written to out and, in the same pass, over A2 (it becomes the newest). */
static void fc_predict(void *st, int n, int l, cache_comp c, float *out)
{
    faster_state *f = st;
    (void)n;
    (void)c;
    const size_t k = (size_t)f->images * f->elems;
    float *h = f->hist + (size_t)l * 2 * k;
    const int older = !f->newest[l];
    const float *a1 = h + (size_t)f->newest[l] * k;
    float *a2 = h + (size_t)older * k;
    const float w = (float)f->weight;
    for (size_t i = 0; i < k; i++) {
        const float e = a1[i] + (a1[i] - a2[i]) * w;
        out[i] = e;
        a2[i] = e;
    }
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
