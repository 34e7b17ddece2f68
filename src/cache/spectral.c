#include "cache/spectral.h"

#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"
#include "core/mem.h"

sc_status spectral_init(cache_spectral *s, const cache_gen *g, int planes, int H, int W)
{
    memset(s, 0, sizeof *s);
    s->g = g;
    s->planes = planes;
    s->H = H;
    s->W = W;
    const size_t spec = 2 * (size_t)H * W;
    s->dlow = mem_alloc_array((size_t)planes, spec * sizeof(double), "CFG deltas");
    s->dhigh = mem_alloc_array((size_t)planes, spec * sizeof(double), "CFG deltas");
    s->spec = mem_alloc_array(2 * spec, sizeof(double), "spectra");
    s->work = mem_alloc_array(g->be->dft_work(H, W), sizeof(double), "DFT scratch");
    s->mask = malloc((size_t)H * W);
    if (!s->dlow || !s->dhigh || !s->spec || !s->work || !s->mask) {
        spectral_free(s);
        return err_fail(SC_ERR_NOMEM, "out of memory for FasterCache's spectra");
    }
    /* The low band: within a fifth of the smaller side of the centre (of the length, for a
     * sequence: H = 1). */
    const int r = (H == 1 ? W : H < W ? H : W) / 5;
    for (int u = 0; u < H; u++)
        for (int v = 0; v < W; v++) {
            int dy = (u + H / 2) % H - H / 2, dx = (v + W / 2) % W - W / 2;
            s->mask[u * W + v] = dx * dx + dy * dy <= r * r;
        }
    return SC_OK;
}

void spectral_free(cache_spectral *s)
{
    mem_free(s->dlow);
    mem_free(s->dhigh);
    mem_free(s->spec);
    mem_free(s->work);
    free(s->mask);
    memset(s, 0, sizeof *s);
}

void spectral_delta(cache_spectral *s, const float *cond, const float *uncond)
{
    const backend *be = s->g->be;
    const size_t plane = (size_t)s->H * s->W, spec = 2 * plane;
    for (int p = 0; p < s->planes; p++) {
        double *dl = s->dlow + (size_t)p * spec, *dh = s->dhigh + (size_t)p * spec;
        /* dl = DFT(uncond), spec = DFT(cond) (one complex transform gives both), then split. */
        be->dft2_pair(uncond + (size_t)p * plane, cond + (size_t)p * plane, s->H, s->W, dl, s->spec, s->work);
        be->spectrum_split(dl, dh, dl, s->spec, s->mask, plane);
    }
}

void spectral_rebuild(cache_spectral *s, const float *cond, float *uncond, double wl, double wh)
{
    const backend *be = s->g->be;
    const size_t plane = (size_t)s->H * s->W, spec = 2 * plane;
    double *s0 = s->spec, *s1 = s->spec + spec;
    int p = 0;
    for (; p + 1 < s->planes; p += 2) {
        be->dft2_pair(cond + (size_t)p * plane, cond + (size_t)(p + 1) * plane, s->H, s->W, s0, s1, s->work);
        be->spectrum_blend(s0, s->dlow + (size_t)p * spec, s->dhigh + (size_t)p * spec, wl, wh, plane);
        be->spectrum_blend(s1, s->dlow + (size_t)(p + 1) * spec, s->dhigh + (size_t)(p + 1) * spec, wl, wh, plane);
        be->idft2_pair(s0, s1, s->H, s->W, uncond + (size_t)p * plane, uncond + (size_t)(p + 1) * plane, s->work);
    }
    if (p < s->planes) {
        be->dft2(cond + (size_t)p * plane, s->H, s->W, s0, s->work);
        be->spectrum_blend(s0, s->dlow + (size_t)p * spec, s->dhigh + (size_t)p * spec, wl, wh, plane);
        be->idft2(s0, s->H, s->W, uncond + (size_t)p * plane, s->work);
    }
}
