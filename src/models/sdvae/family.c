/* The SD-VAE decoder family as the registry and the API see it. */
#include <string.h>

#include "models/sdvae/sdvae.h"

static int sdvae_detect(const decoder_probe *p)
{
    if (p->class_name) return !strcmp(p->class_name, "AutoencoderKL") ? 100 : 0;
    if (p->config) return 50; /* a config without _class_name: the config reader decides */
    static const char *const heads[] = {"decoder.conv_in.weight", "first_stage_model.decoder.conv_in.weight",
                                        "vae.decoder.conv_in.weight"};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++)
        if (weights_peek(p->w, heads[i])) return 90;
    return 0;
}

static void sdvae_describe(const decoder *d, sc_vae_info *info)
{
    static const char *names[] = {"diffusers", "diffusers-legacy", "ldm"};
    const sdvae_config *c = &((const sdvae *)d)->cfg;
    memset(info, 0, sizeof *info);
    info->naming = names[c->naming];
    info->latent_channels = c->latent_channels;
    info->out_channels = c->out_channels;
    info->blocks = c->blocks;
    info->layers_per_block = c->layers_per_block;
    info->groups = c->groups;
    for (int i = 0; i < c->blocks && i < 8; i++) info->block_out[i] = c->block_out[i];
    info->upscale = d->upscale;
    info->scaling_factor = c->scaling_factor;
}

const decoder_family decoder_family_sdvae = {
    .name = "sdvae",
    .about = "the Stable Diffusion VAE decoder (diffusers AutoencoderKL, LDM checkpoints)",
    .looks_for = "\"decoder.conv_in.weight\" (an SD-VAE, also under first_stage_model.) or config.json naming "
                 "AutoencoderKL",
    .detect = sdvae_detect,
    .load = sdvae_load,
    .free = sdvae_free,
    .describe = sdvae_describe,
    .decode = sdvae_decode,
};
