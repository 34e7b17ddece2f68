/* The PixArt configuration from a diffusers config.json (PixArtTransformer2DModel, or the older
 * generic Transformer2DModel with norm_type "ada_norm_single"), validated, with the defaults the
 * diffusers class applies: interpolation_scale max(sample_size / 64, 1), micro-conditions on when
 * sample_size is 128 (PixArt-alpha 1024); or read off the tensor shapes of an original .pth,
 * which has no config (docs/FAMILIES.md, "The original .pth"). */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/pixart/pixart.h"

static sc_status refuse(const char *path, const char *what, const char *value, const char *expected)
{
    return err_fail(SC_ERR_UNSUPPORTED, "%s: %s %s is not supported (PixArt uses %s)", path, what, value, expected);
}

/* What follows from the sizes: interpolation_scale when unset (0) as diffusers' default
 * max(sample_size // 64, 1), the learned variance, the base grid. */
static void complete(pixart_config *c)
{
    if (!(c->interpolation_scale > 0)) c->interpolation_scale = c->sample_size / 64 > 1 ? c->sample_size / 64 : 1;
    c->learned_sigma = c->out_channels == 2 * c->in_channels;
    c->grid = c->sample_size / c->patch;
    c->tokens = c->grid * c->grid;
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
    c->interpolation_scale = scale;
    complete(c);
    return SC_OK;
}

/* PixArt-XL/2 (every released alpha and sigma checkpoint): 1152 wide, 16 heads of 72. */
#define PIXART_XL_HIDDEN 1152
#define PIXART_XL_HEADS 16
/* The latent side of a file without a position table: the 1024-px checkpoints (alpha-1024-MS,
 * sigma-1024-MS) compute theirs on the fly and save none. */
#define PIXART_DEFAULT_SAMPLE 128

/* "[a,b,c]" of a tensor's shape, for messages (written as weights_get writes them). */
static void shape_text(const st_tensor *t, char *buf, size_t cap)
{
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->rank && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

static sc_status need(const weights *w, const char *name, const char *path, const st_tensor **out)
{
    *out = weights_peek(w, name);
    return *out ? SC_OK : err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s\" (an original PixArt file has it)",
                                   path, name);
}

static sc_status bad_shape(const st_tensor *t, const char *path, const char *name, const char *expected)
{
    char shape[128];
    shape_text(t, shape, sizeof shape);
    return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" has shape %s; PixArt's is %s", path, name, shape, expected);
}

/* The latent side: the pos_embed buffer's grid (alpha 256 / 512 save it), sc_load_opts.input_size,
 * or PIXART_DEFAULT_SAMPLE; a buffer and an option that disagree are refused. */
static sc_status sample_size(pixart_config *c, const weights *w, const sc_load_opts *o, const char *path)
{
    const st_tensor *pe = weights_peek(w, "pos_embed");
    int from_file = 0;
    if (pe) {
        const uint64_t T = pe->rank == 3 ? pe->shape[1] : 0, g = (uint64_t)llround(sqrt((double)T));
        if (pe->rank != 3 || pe->shape[0] != 1 || pe->shape[2] != (uint64_t)c->hidden || T == 0 || g * g != T ||
            g * (uint64_t)c->patch > PIXART_MAX_SIDE)
            return bad_shape(pe, path, "pos_embed", "[1, G*G, hidden]: a square grid of at most 1024 / patch a side");
        from_file = (int)g * c->patch;
    }
    if (o && o->input_size) {
        if (o->input_size < c->patch || o->input_size > PIXART_MAX_SIDE || o->input_size % c->patch)
            return err_fail(SC_ERR_ARG, "%s: sc_load_opts.input_size %d is not a latent side of whole patches of %d "
                                        "up to %d", path, o->input_size, c->patch, PIXART_MAX_SIDE);
        if (from_file && from_file != o->input_size)
            return err_fail(SC_ERR_ARG, "%s: sc_load_opts.input_size is %d but the file's pos_embed is the table of a "
                                        "latent side of %d", path, o->input_size, from_file);
        c->sample_size = o->input_size;
    } else if (from_file) {
        c->sample_size = from_file;
    } else if (PIXART_DEFAULT_SAMPLE % c->patch) {
        return err_fail(SC_ERR_FORMAT, "%s: patch size %d does not divide the default latent side %d: give "
                                       "sc_load_opts.input_size", path, c->patch, PIXART_DEFAULT_SAMPLE);
    } else {
        c->sample_size = PIXART_DEFAULT_SAMPLE;
    }
    return SC_OK;
}

sc_status pixart_config_from_shapes(pixart_config *c, const weights *w, const sc_load_opts *o, const char *path)
{
    memset(c, 0, sizeof *c);
    const st_tensor *xe, *fl, *cap;
    sc_status s;
    if ((s = need(w, "x_embedder.proj.weight", path, &xe)) || (s = need(w, "final_layer.linear.weight", path, &fl)) ||
        (s = need(w, "y_embedder.y_proj.fc1.weight", path, &cap)))
        return s;
    /* x_embedder.proj.weight [D, C, p, p]: the patch embedding's convolution. */
    if (xe->rank != 4 || xe->shape[2] != xe->shape[3] || xe->shape[2] < 1 || xe->shape[2] > 16 || xe->shape[1] < 1 ||
        xe->shape[1] > 64 || xe->shape[0] < 4 || xe->shape[0] > 16384 || xe->shape[0] % 4)
        return bad_shape(xe, path, "x_embedder.proj.weight",
                         "[hidden, channels, p, p] with p <= 16, channels <= 64, hidden a multiple of 4 up to 16384");
    c->hidden = (int)xe->shape[0];
    c->in_channels = (int)xe->shape[1];
    c->patch = (int)xe->shape[2];
    /* final_layer.linear.weight [p*p*out, D]: out = C, or 2C with the learned variance. */
    const uint64_t p2 = (uint64_t)c->patch * c->patch;
    if (fl->rank != 2 || fl->shape[1] != (uint64_t)c->hidden ||
        (fl->shape[0] != p2 * c->in_channels && fl->shape[0] != 2 * p2 * c->in_channels))
        return bad_shape(fl, path, "final_layer.linear.weight", "[p*p*out_channels, hidden], out_channels = channels "
                                                                "or twice them (learned variance)");
    c->out_channels = (int)(fl->shape[0] / p2);
    /* y_embedder.y_proj.fc1.weight [D, Cc]: Cc is the T5 width. */
    if (cap->rank != 2 || cap->shape[0] != (uint64_t)c->hidden || cap->shape[1] < 1 || cap->shape[1] > 65536)
        return bad_shape(cap, path, "y_embedder.y_proj.fc1.weight", "[hidden, caption channels <= 65536]");
    c->caption_channels = (int)cap->shape[1];
    /* PixArt-alpha 1024's micro-conditions; the fetch names whichever half is missing. */
    c->micro = weights_peek(w, "csize_embedder.mlp.0.weight") || weights_peek(w, "ar_embedder.mlp.0.weight");
    if (c->micro && c->hidden % 3)
        return err_fail(SC_ERR_FORMAT, "%s: the file has micro-condition embedders (csize_embedder, ar_embedder) but "
                                       "its width %d is not a multiple of 3", path, c->hidden);
    if ((s = pixart_original_depth(w, path, &c->depth))) return s;
    if (o && o->num_heads) {
        c->heads = o->num_heads;
    } else if (c->hidden == PIXART_XL_HIDDEN) {
        c->heads = PIXART_XL_HEADS;
    } else {
        return err_fail(SC_ERR_FORMAT, "%s: width %d is not PixArt-XL's (%d, %d heads), and no shape tells the heads: "
                                       "give sc_load_opts.num_heads", path, c->hidden, PIXART_XL_HIDDEN, PIXART_XL_HEADS);
    }
    if (c->heads < 1 || c->hidden % c->heads)
        return err_fail(SC_ERR_ARG, "%s: width %d is not divisible by %d heads (sc_load_opts.num_heads)", path,
                        c->hidden, c->heads);
    c->head_dim = c->hidden / c->heads;
    if ((s = sample_size(c, w, o, path))) return s;
    c->eps = 1e-6f; /* the PixArt repositories' LayerNorm */
    complete(c);
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
