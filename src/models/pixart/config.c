/* The PixArt configuration from a diffusers config.json (PixArtTransformer2DModel, or the older
 * generic Transformer2DModel with norm_type "ada_norm_single"), validated, with the defaults the
 * diffusers class applies: interpolation_scale max(sample_size / 64, 1), micro-conditions on when
 * sample_size is 128 (PixArt-alpha 1024). */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/pixart/pixart.h"

static sc_status refuse(const char *path, const char *what, const char *value, const char *expected)
{
    return err_fail(SC_ERR_UNSUPPORTED, "%s: %s %s is not supported (PixArt uses %s)", path, what, value, expected);
}

sc_status pixart_config_from_object(pixart_config *c, const json_t *j, const char *path)
{
    sc_status s;
    long long heads, hd, in, out, layers, sample, patch, caption, cross;
    double eps, scale;
    const char *cls = NULL, *norm = NULL, *act = NULL, *att_type = NULL;
    int bias = 1, affine = 0, micro = 0, upcast = 0;
    memset(c, 0, sizeof *c);
    if ((s = json_get_str(j, "_class_name", path, 0, NULL, &cls)) ||
        (s = json_get_int(j, "num_attention_heads", path, 1, 1, 256, 0, &heads)) ||
        (s = json_get_int(j, "attention_head_dim", path, 1, 1, 1024, 0, &hd)) ||
        (s = json_get_int(j, "in_channels", path, 1, 1, 64, 0, &in)) ||
        (s = json_get_int(j, "out_channels", path, 0, 1, 128, in, &out)) ||
        (s = json_get_int(j, "num_layers", path, 1, 1, 256, 0, &layers)) ||
        (s = json_get_int(j, "sample_size", path, 1, 1, PIXART_MAX_SIDE, 0, &sample)) ||
        (s = json_get_int(j, "patch_size", path, 1, 1, 16, 0, &patch)) ||
        (s = json_get_int(j, "caption_channels", path, 1, 1, 65536, 0, &caption)) ||
        (s = json_get_int(j, "cross_attention_dim", path, 0, 1, 1 << 20, heads * hd, &cross)) ||
        (s = json_get_num(j, "norm_eps", path, 0, 1e-12, 1.0, 1e-6, &eps)) ||
        (s = json_get_num(j, "interpolation_scale", path, 0, 1.0 / 64, 64.0, 0.0, &scale)) ||
        (s = json_get_bool(j, "use_additional_conditions", path, 0, sample == 128, &micro)) ||
        (s = json_get_str(j, "norm_type", path, 0, "ada_norm_single", &norm)) ||
        (s = json_get_str(j, "activation_fn", path, 0, "gelu-approximate", &act)) ||
        (s = json_get_str(j, "attention_type", path, 0, "default", &att_type)) ||
        (s = json_get_bool(j, "attention_bias", path, 0, 1, &bias)) ||
        (s = json_get_bool(j, "upcast_attention", path, 0, 0, &upcast)) ||
        (s = json_get_bool(j, "norm_elementwise_affine", path, 0, 0, &affine)))
        return s;
    if (cls && strcmp(cls, "PixArtTransformer2DModel") && strcmp(cls, "Transformer2DModel"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not a PixArt transformer "
                                            "(expected PixArtTransformer2DModel)", path, cls);
    if (strcmp(norm, "ada_norm_single")) return refuse(path, "norm_type", norm, "ada_norm_single");
    if (strcmp(act, "gelu-approximate")) return refuse(path, "activation_fn", act, "gelu-approximate");
    if (strcmp(att_type, "default")) return refuse(path, "attention_type", att_type, "default");
    if (!bias) return refuse(path, "attention_bias", "false", "true");
    if (affine) return refuse(path, "norm_elementwise_affine", "true", "false");
    const uint64_t D = (uint64_t)heads * (uint64_t)hd;
    if (D > 16384) return err_fail(SC_ERR_FORMAT, "%s: width %llu (heads x head dim) is out of range", path,
                                   (unsigned long long)D);
    if ((uint64_t)cross != D)
        return err_fail(SC_ERR_FORMAT, "%s: cross_attention_dim %lld must equal the width %llu (the caption "
                                       "projection gives the cross-attention tokens of that width)", path, cross,
                        (unsigned long long)D);
    if (D % 4) return err_fail(SC_ERR_FORMAT, "%s: the width %llu must be a multiple of 4 (the 2-D position table)",
                               path, (unsigned long long)D);
    if (micro && D % 3)
        return err_fail(SC_ERR_FORMAT, "%s: with use_additional_conditions the width %llu must be a multiple of 3 "
                                       "(height, width and aspect-ratio embeddings side by side)", path,
                        (unsigned long long)D);
    if (sample % patch)
        return err_fail(SC_ERR_FORMAT, "%s: sample_size %lld is not a multiple of patch_size %lld", path, sample, patch);
    if (out != in && out != 2 * in)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: out_channels %lld must be in_channels (%lld) or twice it (learned "
                                            "variance)", path, out, in);
    c->heads = (int)heads;
    c->head_dim = (int)hd;
    c->hidden = (int)D;
    c->in_channels = (int)in;
    c->out_channels = (int)out;
    c->depth = (int)layers;
    c->sample_size = (int)sample;
    c->patch = (int)patch;
    c->caption_channels = (int)caption;
    c->micro = micro;
    c->eps = (float)eps;
    c->interpolation_scale = scale > 0 ? scale : (sample / 64 > 1 ? (double)(sample / 64) : 1.0);
    c->learned_sigma = out == 2 * in;
    c->grid = (int)(sample / patch);
    c->tokens = c->grid * c->grid;
    return SC_OK;
}

/* Multiply-accumulates of one sample at `tokens` image tokens (T) and `text_len` text tokens (L). */
uint64_t pixart_macs_attn(const pixart_config *c, uint64_t T)
{
    const uint64_t D = (uint64_t)c->hidden;
    return T * 3 * D * D + 2 * T * T * D + T * D * D; /* qkv, scores and values, out */
}

uint64_t pixart_macs_cross(const pixart_config *c, uint64_t T, uint64_t L)
{
    /* q, scores and values, out; the keys and values of the text are computed once per text. */
    const uint64_t D = (uint64_t)c->hidden;
    return T * D * D + 2 * T * L * D + T * D * D;
}

uint64_t pixart_macs_mlp(const pixart_config *c, uint64_t T)
{
    const uint64_t D = (uint64_t)c->hidden;
    return 2 * T * 4 * D * D;
}

uint64_t pixart_macs_forward(const pixart_config *c, uint64_t T, uint64_t L)
{
    const uint64_t D = (uint64_t)c->hidden, p2 = (uint64_t)c->patch * c->patch;
    const uint64_t per_block = pixart_macs_attn(c, T) + pixart_macs_cross(c, T, L) + pixart_macs_mlp(c, T);
    const uint64_t embed = T * D * c->in_channels * p2 + 256 * D + D * D + D * 6 * D;
    return embed + (uint64_t)c->depth * per_block + T * D * p2 * c->out_channels;
}
