/* The DiT configuration: read from a diffusers config.json, or inferred from the tensor shapes
 * of an original-layout file; then validated and completed with the numerics of its origin. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/dit/dit.h"

sc_status dit_config_from_object(dit_config *c, const json_t *j, const char *path)
{
    sc_status s;
    long long heads, hd, in, out, layers, sample, patch, classes;
    double eps;
    const char *cls = NULL, *norm = NULL, *act = NULL;
    int bias = 1, affine = 0;
    memset(c, 0, sizeof *c);
    if ((s = json_get_str(j, "_class_name", path, 0, NULL, &cls)) ||
        (s = json_get_int(j, "num_attention_heads", path, 1, 1, 256, 0, &heads)) ||
        (s = json_get_int(j, "attention_head_dim", path, 1, 1, 1024, 0, &hd)) ||
        (s = json_get_int(j, "in_channels", path, 1, 1, 64, 0, &in)) ||
        (s = json_get_int(j, "out_channels", path, 0, 1, 128, in, &out)) ||
        (s = json_get_int(j, "num_layers", path, 1, 1, 256, 0, &layers)) ||
        (s = json_get_int(j, "sample_size", path, 1, 1, 1024, 0, &sample)) ||
        (s = json_get_int(j, "patch_size", path, 1, 1, 16, 0, &patch)) ||
        (s = json_get_int(j, "num_embeds_ada_norm", path, 1, 1, 100000, 0, &classes)) ||
        (s = json_get_num(j, "norm_eps", path, 0, 1e-12, 1.0, 1e-5, &eps)) ||
        (s = json_get_str(j, "norm_type", path, 0, "ada_norm_zero", &norm)) ||
        (s = json_get_str(j, "activation_fn", path, 0, "gelu-approximate", &act)) ||
        (s = json_get_bool(j, "attention_bias", path, 0, 1, &bias)) ||
        (s = json_get_bool(j, "norm_elementwise_affine", path, 0, 0, &affine)))
        goto done;
    if (cls && strcmp(cls, "DiTTransformer2DModel") && strcmp(cls, "Transformer2DModel")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not a DiT (expected DiTTransformer2DModel)", path, cls);
        goto done;
    }
    if (strcmp(norm, "ada_norm_zero")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: norm_type \"%.40s\" is not supported (DiT uses ada_norm_zero)", path, norm);
        goto done;
    }
    if (strcmp(act, "gelu-approximate")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: activation_fn \"%.40s\" is not supported (DiT uses gelu-approximate)", path, act);
        goto done;
    }
    if (!bias || affine) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: %s is not supported by the DiT block", path,
                    !bias ? "attention_bias false" : "norm_elementwise_affine true");
        goto done;
    }
    const json_t *xa = json_object_get(j, "cross_attention_dim");
    if (xa && !json_is_null(xa)) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: cross_attention_dim is set; class-conditional DiT has no cross-attention", path);
        goto done;
    }
    c->heads = (int)heads;
    c->head_dim = (int)hd;
    c->hidden = (int)(heads * hd);
    c->in_channels = (int)in;
    c->out_channels = (int)out;
    c->depth = (int)layers;
    c->input_size = (int)sample;
    c->patch = (int)patch;
    c->num_classes = (int)classes;
    c->eps_mlp = (float)eps;
done:
    return s;
}

/* Original files carry no config: read it off the shapes. Heads are not visible in any shape,
 * so they come from the option, the standard DiT sizes, or an error asking for them. */
sc_status dit_config_from_shapes(dit_config *c, const weights *w, const sc_load_opts *o, const char *path)
{
    memset(c, 0, sizeof *c);
    const st_tensor *xe = weights_peek(w, "x_embedder.proj.weight");
    const st_tensor *fl = weights_peek(w, "final_layer.linear.weight");
    const st_tensor *yt = weights_peek(w, "y_embedder.embedding_table.weight");
    if (!xe || !fl || !yt)
        return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s\"", path,
                       !xe ? "x_embedder.proj.weight" : !fl ? "final_layer.linear.weight"
                                                            : "y_embedder.embedding_table.weight");
    if (xe->rank != 4 || xe->shape[2] != xe->shape[3] || xe->shape[0] > 16384 || xe->shape[1] > 64 ||
        xe->shape[2] < 1 || xe->shape[2] > 16)
        return err_fail(SC_ERR_FORMAT, "%s: x_embedder.proj.weight must be [D, C, p, p] with p <= 16", path);
    c->hidden = (int)xe->shape[0];
    c->in_channels = (int)xe->shape[1];
    c->patch = (int)xe->shape[2];
    uint64_t p2 = (uint64_t)c->patch * c->patch;
    if (fl->rank != 2 || fl->shape[0] % p2 || fl->shape[0] / p2 > 128)
        return err_fail(SC_ERR_FORMAT, "%s: final_layer.linear.weight must be [p*p*out_channels, D]", path);
    c->out_channels = (int)(fl->shape[0] / p2);
    if (yt->rank != 2 || yt->shape[0] < 2 || yt->shape[0] > 100001)
        return err_fail(SC_ERR_FORMAT, "%s: y_embedder.embedding_table.weight must be [classes + 1, D]", path);
    c->num_classes = (int)yt->shape[0] - 1;

    /* The depth is the run of blocks 0, 1, 2... that have their attention; a "blocks.N." tensor
     * beyond that run is stray, and named as such (not taken as a claim of N + 1 blocks). */
    int depth = 0;
    sc_status st = model_block_run(w, path, "attn.qkv.weight", NULL, NULL, &depth);
    if (st) return st;
    c->depth = depth;

    const st_tensor *pe = weights_peek(w, "pos_embed");
    if (o && o->input_size) {
        c->input_size = o->input_size;
    } else if (pe && pe->rank == 3 && pe->shape[0] == 1) {
        uint64_t T = pe->shape[1], g = (uint64_t)llround(sqrt((double)T));
        if (g * g != T || g * c->patch > 4096)
            return err_fail(SC_ERR_FORMAT, "%s: pos_embed has %llu tokens, not a square grid", path,
                           (unsigned long long)T);
        c->input_size = (int)g * c->patch;
    } else if (pe) {
        char shape[96] = "";
        size_t used = 0;
        for (int d = 0; d < pe->rank && used < sizeof shape; d++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", d ? ", " : "",
                                     (unsigned long long)pe->shape[d]);
        return err_fail(SC_ERR_FORMAT, "%s: pos_embed is [%s] (rank %d); an original DiT file stores it as [1, tokens, "
                                       "hidden] (or give sc_load_opts.input_size)", path, shape, pe->rank);
    } else {
        return err_fail(SC_ERR_FORMAT, "%s: cannot infer the input size: the file has no pos_embed (give sc_load_opts.input_size)", path);
    }
    if (o && o->num_heads) {
        c->heads = o->num_heads;
    } else {
        static const int std_sizes[][2] = {{384, 6}, {768, 12}, {1024, 16}, {1152, 16}};
        for (size_t i = 0; i < sizeof std_sizes / sizeof *std_sizes; i++)
            if (std_sizes[i][0] == c->hidden) c->heads = std_sizes[i][1];
        if (!c->heads)
            return err_fail(SC_ERR_FORMAT, "%s: hidden size %d is not a standard DiT size; give the number of heads (sc_load_opts.num_heads)",
                           path, c->hidden);
    }
    return SC_OK;
}

sc_status dit_config_finish(dit_config *c, sc_origin origin, const char *what)
{
    if (c->hidden <= 0 || c->heads <= 0 || c->hidden % c->heads)
        return err_fail(SC_ERR_FORMAT, "%s: hidden size %d is not divisible by %d heads", what, c->hidden, c->heads);
    if (c->hidden % 4 || c->hidden > 16384)
        return err_fail(SC_ERR_FORMAT, "%s: hidden size %d must be a multiple of 4 and at most 16384", what, c->hidden);
    c->head_dim = c->hidden / c->heads;
    if (c->patch <= 0 || c->input_size <= 0 || c->input_size % c->patch)
        return err_fail(SC_ERR_FORMAT, "%s: input size %d is not a multiple of the patch size %d", what,
                       c->input_size, c->patch);
    c->grid = c->input_size / c->patch;
    c->tokens = c->grid * c->grid;
    if (c->tokens > 16384)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: %d tokens is more than this engine supports (16384)", what, c->tokens);
    if (c->out_channels != c->in_channels && c->out_channels != 2 * c->in_channels)
        return err_fail(SC_ERR_FORMAT, "%s: out_channels %d must be in_channels (%d) or twice it (learned sigma)",
                       what, c->out_channels, c->in_channels);
    c->learned_sigma = c->out_channels == 2 * c->in_channels;
    if (origin == SC_ORIGIN_ORIGINAL) {
        c->freq_div = 128;
        c->eps_attn = 1e-6f;
        c->eps_mlp = 1e-6f;
        c->cfg_channels = c->in_channels < 3 ? c->in_channels : 3;
    } else {
        c->freq_div = 127;
        c->eps_attn = 1e-6f;
        if (c->eps_mlp == 0.0f) c->eps_mlp = 1e-5f;
        c->cfg_channels = c->in_channels;
    }
    return SC_OK;
}

/* Multiply-accumulates per sample (docs/FORMATS.md, "DiT numerics"). */
uint64_t dit_macs_attn(const dit_config *c)
{
    uint64_t T = (uint64_t)c->tokens, D = (uint64_t)c->hidden;
    return T * D * 3 * D + 2 * T * T * D + T * D * D;
}

uint64_t dit_macs_mlp(const dit_config *c)
{
    uint64_t T = (uint64_t)c->tokens, D = (uint64_t)c->hidden;
    return 8 * T * D * D;
}

uint64_t dit_macs_forward(const dit_config *c)
{
    uint64_t T = (uint64_t)c->tokens, D = (uint64_t)c->hidden, p2 = (uint64_t)c->patch * c->patch;
    uint64_t embed = T * D * c->in_channels * p2 + 256 * D + D * D;
    uint64_t block = 6 * D * D + dit_macs_attn(c) + dit_macs_mlp(c);
    uint64_t final = 2 * D * D + T * D * p2 * c->out_channels;
    return embed + (uint64_t)c->depth * block + final;
}
