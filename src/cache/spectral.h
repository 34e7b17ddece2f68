/* FasterCache's frequency split of the unconditional branch (CFG-Cache), over the model's output
 * planes [H][W], with the transforms of the generation's backend: at a full evaluation the
 * difference uncond - cond is kept as its low and high frequencies; at a conditional-only one the
 * unconditional output is rebuilt as Re iDFT(DFT(cond) + low + high) with both parts scaled
 * (the factors compound, as in diffusers). */
#ifndef SC_CACHE_SPECTRAL_H
#define SC_CACHE_SPECTRAL_H

#include "cache/policy.h"

typedef struct {
    const cache_gen *g;
    int planes, H, W;
    double *dlow, *dhigh;    /* [planes][H][W][2] spectra of uncond - cond */
    double *spec, *work;     /* two planes' spectra [2][H][W][2], transform scratch */
    unsigned char *mask;     /* [H][W] 1 = low frequency: the disc of radius min(H, W) / 5 (W / 5 when
                              * H = 1, a sequence) around
                              * the zero frequency once centred (fftshift) */
} cache_spectral;

sc_status spectral_init(cache_spectral *s, const cache_gen *g, int planes, int H, int W);
void spectral_free(cache_spectral *s);
/* cond, uncond: [planes][H][W] each. */
void spectral_delta(cache_spectral *s, const float *cond, const float *uncond);
/* uncond [planes][H][W] = Re iDFT(DFT(cond) + low * wl + high * wh), the stored parts scaled in place. */
void spectral_rebuild(cache_spectral *s, const float *cond, float *uncond, double wl, double wh);

#endif
