/* The SD-VAE decoder's tensor names in its three namings, as data (docs/FORMATS.md): one row per
 * naming, one column per decoder part. The loader (load.c) asks for a part by block and index. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "models/sdvae/sdvae.h"

typedef struct {
    const char *mid_resnet;   /* %d: the resnet, counted from mid_first */
    int mid_first;
    const char *up_head;      /* up blocks: head + "%d." ... */
    const char *up_resnet;    /* %d block, %d resnet */
    const char *upsample;     /* %d block */
    int up_reversed;          /* LDM numbers the up blocks from the other end */
    const char *attention;    /* the mid block's attention */
    const char *attn_parts[5]; /* norm, q, k, v, out */
    const char *norm_out;
    const char *shortcut;     /* a resnet's 1x1 shortcut (cin != cout) */
} naming_row;

static const naming_row k_names[] = {
    [SDVAE_NAMES_DIFFUSERS] = {"decoder.mid_block.resnets.%d", 0, "decoder.up_blocks.", "decoder.up_blocks.%d.resnets.%d",
                               "decoder.up_blocks.%d.upsamplers.0.conv", 0, "decoder.mid_block.attentions.0",
                               {"group_norm", "to_q", "to_k", "to_v", "to_out.0"}, "decoder.conv_norm_out",
                               "conv_shortcut"},
    [SDVAE_NAMES_LEGACY] = {"decoder.mid_block.resnets.%d", 0, "decoder.up_blocks.", "decoder.up_blocks.%d.resnets.%d",
                            "decoder.up_blocks.%d.upsamplers.0.conv", 0, "decoder.mid_block.attentions.0",
                            {"group_norm", "query", "key", "value", "proj_attn"}, "decoder.conv_norm_out",
                            "conv_shortcut"},
    [SDVAE_NAMES_LDM] = {"decoder.mid.block_%d", 1, "decoder.up.", "decoder.up.%d.block.%d", "decoder.up.%d.upsample.conv",
                         1, "decoder.mid.attn_1", {"norm", "q", "k", "v", "proj_out"}, "decoder.norm_out",
                         "nin_shortcut"},
};

/* Full Stable Diffusion checkpoints keep the VAE under first_stage_model. (some under vae.). */
static const char *const k_prefixes[] = {"", "first_stage_model.", "vae."};

sc_status sdvae_detect_naming(weights *w, sdvae_names *n)
{
    n->prefix = NULL;
    for (size_t i = 0; i < sizeof k_prefixes / sizeof *k_prefixes && !n->prefix; i++) {
        weights_set_prefix(w, k_prefixes[i]);
        if (weights_peek(w, "decoder.conv_in.weight")) n->prefix = k_prefixes[i];
    }
    if (!n->prefix) {
        weights_set_prefix(w, "");
        return err_fail(SC_ERR_FORMAT, "%s: not a VAE: no tensor \"decoder.conv_in.weight\" (or "
                                       "\"first_stage_model.decoder.conv_in.weight\" in a full SD checkpoint)",
                        weights_path(w));
    }
    weights_set_prefix(w, n->prefix);
    if (weights_peek(w, "decoder.mid.block_1.conv1.weight")) n->naming = SDVAE_NAMES_LDM;
    else if (weights_peek(w, "decoder.mid_block.attentions.0.query.weight")) n->naming = SDVAE_NAMES_LEGACY;
    else n->naming = SDVAE_NAMES_DIFFUSERS;
    return SC_OK;
}

void sdvae_mid_resnet_name(char *buf, size_t cap, const sdvae_names *n, int i)
{
    const naming_row *r = &k_names[n->naming];
    snprintf(buf, cap, r->mid_resnet, i + r->mid_first);
}

void sdvae_up_resnet_name(char *buf, size_t cap, const sdvae_names *n, int blocks, int b, int res)
{
    const naming_row *r = &k_names[n->naming];
    snprintf(buf, cap, r->up_resnet, r->up_reversed ? blocks - 1 - b : b, res);
}

void sdvae_upsample_name(char *buf, size_t cap, const sdvae_names *n, int blocks, int b)
{
    const naming_row *r = &k_names[n->naming];
    snprintf(buf, cap, r->upsample, r->up_reversed ? blocks - 1 - b : b);
}

void sdvae_attention_name(char *buf, size_t cap, const sdvae_names *n, int part)
{
    const naming_row *r = &k_names[n->naming];
    snprintf(buf, cap, "%s.%s", r->attention, r->attn_parts[part]);
}

const char *sdvae_norm_out_name(const sdvae_names *n) { return k_names[n->naming].norm_out; }

const char *sdvae_shortcut_name(const sdvae_names *n) { return k_names[n->naming].shortcut; }

const char *sdvae_up_head(const sdvae_names *n) { return k_names[n->naming].up_head; }
