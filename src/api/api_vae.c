/* The public API's decoders and pictures: latents to 8-bit pictures through a decoder for
 * latent-space models, directly for pixel-space ones (a model whose latent is an RGB image, like
 * the shipped demo model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/image.h"
#include "pipeline/pipeline.h"

struct sc_vae {
    decoder *d;
};

sc_status sc_vae_load(const char *path, sc_vae **out) { return sc_vae_load_opts(path, NULL, out); }

sc_status sc_vae_load_opts(const char *path, const sc_load_opts *opts, sc_vae **out)
{
    *out = NULL;
    if (opts && sc_dtype_name(opts->dtype) == NULL)
        return err_fail(SC_ERR_ARG, "sc_load_opts.dtype %d is not a precision", (int)opts->dtype);
    sc_vae *v = calloc(1, sizeof *v);
    if (!v) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = pipeline_decoder_load(path, opts, &v->d);
    if (s) {
        free(v);
        return s;
    }
    *out = v;
    return SC_OK;
}

void sc_vae_free(sc_vae *v)
{
    if (!v) return;
    if (v->d) v->d->family->free(v->d);
    free(v);
}

void sc_vae_get_info(const sc_vae *v, sc_vae_info *info) { v->d->family->describe(v->d, info); }

/* Picture models: latents [C, S, S]. */
static int square_latent(const model *m) { return m->latent.rank == 3 && m->latent.dims[1] == m->latent.dims[2]; }

int sc_image_side(const sc_model *p, const sc_vae *vae)
{
    const model *m = p->net;
    if (!square_latent(m)) return 0;
    const int C = m->latent.dims[0], S = m->latent.dims[1];
    if (!vae) return C == 3 ? S : 0;
    if (vae->d->latent_channels != C || vae->d->out_channels != 3) return 0;
    return S * vae->d->upscale;
}

sc_status sc_decode_images(const sc_model *p, sc_vae *vae, int n, const float *latents, uint8_t *rgb, int threads)
{
    const model *m = p->net;
    const int side = sc_image_side(p, vae), C = m->latent.dims[0], S = m->latent.dims[1];
    if (!side)
        return err_fail(SC_ERR_ARG, vae ? "the VAE takes %d latent channels and makes %d; the model's latents have %d"
                                        : "this model makes %d-channel latents, not pictures: decode them with a VAE",
                        vae ? vae->d->latent_channels : C, vae ? vae->d->out_channels : 0, C);
    if (n < 1) return err_fail(SC_ERR_ARG, "no images to decode");
    const size_t px = (size_t)side * side;
    if (!vae) {
        for (int i = 0; i < n; i++) image_from_float(rgb + (size_t)i * px * 3, latents + (size_t)i * 3 * px, 3, side, side);
        return SC_OK;
    }
    /* One image at a time: [1, 3, side, side] floats of decoder output. */
    float *img = mem_alloc_array(3 * px, sizeof(float), "decoded image");
    if (!img) return SC_ERR_NOMEM;
    const size_t lat = (size_t)C * S * S;
    sc_status s = SC_OK;
    for (int i = 0; i < n && !s; i++) {
        s = vae->d->family->decode(vae->d, 1, S, latents + (size_t)i * lat, img, threads);
        if (!s) image_from_float(rgb + (size_t)i * px * 3, img, 3, side, side);
    }
    mem_free(img);
    return s;
}

void sc_vae_fingerprint(const sc_vae *v, char hex[17])
{
    snprintf(hex, 17, "%016llx", (unsigned long long)v->d->fingerprint);
}

int64_t sc_audio_length(const sc_vae *vae, int64_t frames)
{
    if (!vae || !vae->d->family->out_length || frames < 1) return 0;
    return vae->d->family->out_length(vae->d, frames);
}

sc_status sc_decode_audio(sc_vae *vae, int n, int channels, int64_t frames, const float *latents, float *wave,
                          int threads)
{
    if (!vae) return err_fail(SC_ERR_ARG, "no decoder given");
    const decoder *d = vae->d;
    if (!d->family->decode_seq)
        return err_fail(SC_ERR_ARG, "%s: this decoder makes pictures, not sound (%s)", d->path, d->family->name);
    if (channels != d->latent_channels)
        return err_fail(SC_ERR_ARG, "%s: the decoder takes %d latent channels; these latents have %d", d->path,
                        d->latent_channels, channels);
    if (n < 1 || frames < 1 || frames > (int64_t)1 << 24)
        return err_fail(SC_ERR_ARG, "nothing to decode (%d clips of %lld frames)", n, (long long)frames);
    if (threads < 0) return err_fail(SC_ERR_ARG, "threads must be >= 1 (got %d)", threads);
    return vae->d->family->decode_seq(vae->d, n, frames, latents, wave, threads);
}
