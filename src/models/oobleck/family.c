/* The Oobleck decoder family as the registry and the API see it. */
#include <string.h>

#include "models/oobleck/oobleck.h"

static int oobleck_detect(const decoder_probe *p)
{
    if (p->class_name) return !strcmp(p->class_name, "AutoencoderOobleck") ? 100 : 0;
    if (p->config) return json_object_get(p->config, "downsampling_ratios") ? 60 : 0;
    return p->w && weights_peek(p->w, "decoder.conv1.weight_g") ? 90 : 0;
}

static void oobleck_describe(const decoder *d, sc_vae_info *info)
{
    const oobleck_config *c = &((const oobleck *)d)->cfg;
    memset(info, 0, sizeof *info);
    info->naming = "diffusers";
    info->latent_channels = c->input_channels;
    info->out_channels = c->audio_channels;
    info->blocks = c->n_blocks;
    for (int i = 0; i < c->n_blocks && i < 8; i++) info->block_out[i] = c->channels * c->multiples[c->n_blocks - i - 1];
    info->upscale = c->hop;
    info->scaling_factor = 1.0;
    info->sample_rate = c->sampling_rate;
}

const decoder_family decoder_family_oobleck = {
    .name = "oobleck",
    .about = "the Oobleck audio decoder (diffusers AutoencoderOobleck, Stable Audio's)",
    .looks_for = "config.json naming AutoencoderOobleck",
    .detect = oobleck_detect,
    .load = oobleck_load,
    .free = oobleck_free,
    .describe = oobleck_describe,
    .out_length = oobleck_out_length,
    .decode_seq = oobleck_decode_seq,
};
