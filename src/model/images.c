/* Latents to 8-bit pictures: through the VAE for latent-space models, directly for pixel-space
 * ones (a DiT whose input is an RGB image, like the shipped demo model). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/image.h"
#include "model/dit.h"
#include "model/vae.h"

sc_status sc_vae_load(const char *path, sc_vae **out) { return vae_load(path, out); }

void sc_vae_free(sc_vae *v) { vae_free(v); }

void sc_vae_get_info(const sc_vae *v, sc_vae_info *info)
{
    static const char *names[] = {"diffusers", "diffusers-legacy", "ldm"};
    const vae_config *c = &v->cfg;
    memset(info, 0, sizeof *info);
    info->naming = names[c->naming];
    info->latent_channels = c->latent_channels;
    info->out_channels = c->out_channels;
    info->blocks = c->blocks;
    info->layers_per_block = c->layers_per_block;
    info->groups = c->groups;
    for (int i = 0; i < c->blocks && i < 8; i++) info->block_out[i] = c->block_out[i];
    info->upscale = vae_upscale(v);
    info->scaling_factor = c->scaling_factor;
}

int sc_image_side(const sc_model *m, const sc_vae *vae)
{
    const dit_config *c = &m->cfg;
    if (!vae) return c->in_channels == 3 ? c->input_size : 0;
    if (vae->cfg.latent_channels != c->in_channels || vae->cfg.out_channels != 3) return 0;
    return c->input_size * vae_upscale(vae);
}

sc_status sc_decode_images(const sc_model *m, sc_vae *vae, int n, const float *latents, uint8_t *rgb, int threads)
{
    const dit_config *c = &m->cfg;
    const int side = sc_image_side(m, vae);
    if (!side)
        return err_fail(SC_ERR_ARG, vae ? "the VAE takes %d latent channels and makes %d; the model's latents have %d"
                                       : "this model makes %d-channel latents, not pictures: give a VAE (--vae)",
                       vae ? vae->cfg.latent_channels : c->in_channels, vae ? vae->cfg.out_channels : 0, c->in_channels);
    if (n < 1) return err_fail(SC_ERR_ARG, "no images to decode");
    const size_t px = (size_t)side * side;
    if (!vae) {
        for (int i = 0; i < n; i++)
            image_from_float(rgb + (size_t)i * px * 3, latents + (size_t)i * 3 * px, 3, side, side);
        return SC_OK;
    }
    /* One image at a time: [1, 3, side, side] floats of decoder output. */
    float *img = mem_alloc_array(3 * px, sizeof(float), "decoded image");
    if (!img) return SC_ERR_NOMEM;
    const size_t lat = (size_t)c->in_channels * c->input_size * c->input_size;
    sc_status s = SC_OK;
    for (int i = 0; i < n && !s; i++) {
        s = vae_decode(vae, 1, c->input_size, latents + (size_t)i * lat, img, threads);
        if (!s) image_from_float(rgb + (size_t)i * px * 3, img, 3, side, side);
    }
    mem_free(img);
    return s;
}
