/* The SD-VAE configuration: a diffusers config.json (absent keys take diffusers' defaults), or
 * read off the shapes of a lone file (groups and scaling factor take the SD values). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/sdvae/sdvae.h"

#define SD_GROUPS 32
#define SD_SCALING_FACTOR 0.18215

/* Every decoder channel count must split into the GroupNorm groups; `hint` ends the message. */
static sc_status check_groups(const sdvae_config *c, const char *what, const char *hint)
{
    for (int i = 0; i < c->blocks; i++)
        if (c->block_out[i] % c->groups)
            return err_fail(SC_ERR_FORMAT, "%s: norm_num_groups %d does not divide block_out_channels[%d] = %d%s", what,
                           c->groups, i, c->block_out[i], hint);
    return SC_OK;
}

sc_status sdvae_config_from_object(sdvae_config *c, const json_t *j, const char *path)
{
    sc_status s;
    const char *cls, *act;
    long long lpb, lat, out, groups;
    int pq, attn;
    if ((s = json_get_str(j, "_class_name", path, 0, "AutoencoderKL", &cls)) ||
        (s = json_get_str(j, "act_fn", path, 0, "silu", &act)) ||
        (s = json_get_int(j, "layers_per_block", path, 0, 0, 16, 1, &lpb)) ||
        (s = json_get_int(j, "latent_channels", path, 0, 1, 64, 4, &lat)) ||
        (s = json_get_int(j, "out_channels", path, 0, 1, 64, 3, &out)) ||
        (s = json_get_int(j, "norm_num_groups", path, 0, 1, SDVAE_MAX_CHANNELS, 32, &groups)) ||
        (s = json_get_num(j, "scaling_factor", path, 0, 1e-6, 1e6, SD_SCALING_FACTOR, &c->scaling_factor)) ||
        (s = json_get_num(j, "shift_factor", path, 0, -1e6, 1e6, 0.0, &c->shift_factor)) ||
        (s = json_get_bool(j, "use_post_quant_conv", path, 0, 1, &pq)) ||
        (s = json_get_bool(j, "mid_block_add_attention", path, 0, 1, &attn)))
        goto done;
    if (strcmp(cls, "AutoencoderKL")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%s\": only AutoencoderKL decoders are supported", path, cls);
        goto done;
    }
    if (strcmp(act, "silu")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: act_fn \"%s\": only \"silu\" is supported", path, act);
        goto done;
    }
    c->layers_per_block = (int)lpb;
    c->latent_channels = (int)lat;
    c->out_channels = (int)out;
    c->groups = (int)groups;
    c->post_quant_conv = pq;
    c->mid_attention = attn;
    /* diffusers' defaults where a key is absent: one block of 64 channels. */
    const json_t *boc = json_object_get(j, "block_out_channels");
    const json_t *ubt = json_object_get(j, "up_block_types");
    c->blocks = boc ? (int)json_array_size(boc) : 1;
    c->block_out[0] = 64;
    if (boc && (!json_is_array(boc) || c->blocks < 1 || c->blocks > SDVAE_MAX_BLOCKS)) {
        s = err_fail(SC_ERR_FORMAT, "%s: \"block_out_channels\" must be an array of 1 to %d integers", path,
                    SDVAE_MAX_BLOCKS);
        goto done;
    }
    for (int i = 0; boc && i < c->blocks; i++) {
        const json_t *v = json_array_get(boc, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SDVAE_MAX_CHANNELS) {
            s = err_fail(SC_ERR_FORMAT, "%s: \"block_out_channels\"[%d] must be an integer in [1, %d]", path, i,
                        SDVAE_MAX_CHANNELS);
            goto done;
        }
        c->block_out[i] = (int)json_integer_value(v);
    }
    if (ubt && (!json_is_array(ubt) || (int)json_array_size(ubt) != c->blocks)) {
        s = err_fail(SC_ERR_FORMAT, "%s: \"up_block_types\" must be an array with one entry per block_out_channels entry (%d)",
                    path, c->blocks);
        goto done;
    }
    for (int i = 0; ubt && i < c->blocks; i++) {
        const char *t = json_string_value(json_array_get(ubt, (size_t)i));
        if (!t || strcmp(t, "UpDecoderBlock2D")) {
            s = err_fail(SC_ERR_UNSUPPORTED, "%s: \"up_block_types\"[%d] is %s%s%s: only \"UpDecoderBlock2D\" is supported",
                        path, i, t ? "\"" : "", t ? t : "not a string", t ? "\"" : "");
            goto done;
        }
    }
    s = check_groups(c, path, "");
done:
    return s;
}

/* The number after `head` in `name` ("decoder.up.3.block.0.x" with head "decoder.up." -> 3),
 * or -1 when name does not continue head with digits and a dot. */
static int index_after(const char *name, const char *head)
{
    size_t n = strlen(head);
    if (strncmp(name, head, n)) return -1;
    const char *p = name + n;
    int v = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++) v = 10 * v + (*p - '0');
    return digits && *p == '.' ? v : -1;
}

/* 1 + the largest index after `head` over the file's tensors (0 if none). */
static int count_indexed(const weights *w, const char *head)
{
    char full[320];
    int count = 0;
    snprintf(full, sizeof full, "%s%s", weights_prefix(w), head);
    for (size_t k = 0; k < weights_count(w); k++) {
        int i = index_after(weights_name_at(w, k), full);
        if (i + 1 > count) count = i + 1;
    }
    return count;
}

/* First dimension of a rank-4 tensor, as a channel count, or an error naming it. */
static sc_status channels_of(const weights *w, const char *name, int *out)
{
    const st_tensor *t = weights_peek(w, name);
    if (!t) return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s%s\"", weights_path(w), weights_prefix(w), name);
    if (t->rank != 4 || t->shape[0] < 1 || t->shape[0] > SDVAE_MAX_CHANNELS)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s%s\" must be a conv weight [out, in, k, k] with out <= %d",
                       weights_path(w), weights_prefix(w), name, SDVAE_MAX_CHANNELS);
    *out = (int)t->shape[0];
    return SC_OK;
}

/* A lone file has no config: the block and layer counts and the channels are in its shapes;
 * groups and scaling factor take the SD values. */
sc_status sdvae_config_from_shapes(sdvae_config *c, const weights *w, const sdvae_names *n)
{
    const char *path = weights_path(w);
    char p[320];
    memset(c, 0, sizeof *c);
    c->blocks = count_indexed(w, sdvae_up_head(n));
    if (c->blocks < 1 || c->blocks > SDVAE_MAX_BLOCKS)
        return err_fail(SC_ERR_FORMAT, "%s: found %d decoder up blocks; expected 1 to %d", path, c->blocks, SDVAE_MAX_BLOCKS);
    sdvae_up_resnet_name(p, sizeof p, n, c->blocks, 0, 0);
    p[strlen(p) - 1] = '\0'; /* "...block." / "...resnets." without the index */
    int resnets = count_indexed(w, p);
    if (resnets < 1 || resnets > 17)
        return err_fail(SC_ERR_FORMAT, "%s: found %d resnets in the first decoder up block; expected 1 to 17", path, resnets);
    c->layers_per_block = resnets - 1;
    sc_status s = SC_OK;
    for (int b = 0; b < c->blocks && !s; b++) {
        sdvae_up_resnet_name(p, sizeof p, n, c->blocks, b, 0);
        strcat(p, ".conv1.weight");
        s = channels_of(w, p, &c->block_out[c->blocks - 1 - b]);
    }
    if (!s) s = channels_of(w, "decoder.conv_out.weight", &c->out_channels);
    const st_tensor *in = weights_peek(w, "decoder.conv_in.weight");
    if (!s && (in->rank != 4 || in->shape[1] < 1 || in->shape[1] > 64))
        s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%sdecoder.conv_in.weight\" must be [out, latent channels <= 64, 3, 3]",
                    path, weights_prefix(w));
    if (s) return s;
    c->latent_channels = (int)in->shape[1];
    c->groups = SD_GROUPS;
    c->scaling_factor = SD_SCALING_FACTOR;
    c->post_quant_conv = weights_peek(w, "post_quant_conv.weight") != NULL;
    sdvae_attention_name(p, sizeof p, n, SDVAE_ATT_NORM);
    strcat(p, ".weight");
    c->mid_attention = weights_peek(w, p) != NULL;
    return check_groups(c, path, " (a file without config.json gets the SD value 32: load a folder with config.json)");
}
