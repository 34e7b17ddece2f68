/* The tensor names of the two PixArt layouts, as data: diffusers' PixArtTransformer2DModel and the
 * PixArt authors' .pth (PixArt-alpha / PixArt-sigma repositories, as their converters to diffusers
 * map them); each entry a name (with %d for the block), what it is, where it lands and the shape
 * the configuration requires (docs/FAMILIES.md, "PixArt"). pixart_fetch_weights walks a table. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/pixart/pixart.h"

/* The sizes a shape is made of, resolved against the configuration. */
typedef enum {
    DIM_D, DIM_3D, DIM_4D, DIM_6D,
    DIM_THIRD,    /* D / 3: one micro-condition embedding */
    DIM_FREQ,     /* the sinusoid features: 256 */
    DIM_PATCH_IN, /* C * p * p: the patch-embedding conv's input, flattened */
    DIM_OUT_TOK,  /* p * p * out_channels: the final linear's output */
    DIM_CAPTION,  /* caption_channels */
    DIM_2, DIM_6  /* rows of the scale-shift tables */
} pixart_dim;

typedef enum {
    KIND_LINEAR,     /* name.weight [out, in] + name.bias [out] */
    KIND_PATCH_CONV, /* name.weight [D, C, p, p] + name.bias [D], used as a linear [D, C p p] */
    KIND_TABLE,      /* name [out, in] */
    KIND_HALVES      /* name.weight [2 out, in] + name.bias [2 out]: rows 0..out-1 land at `at`, the
                      * rest at `at2` (the original cross-attention's fused keys and values) */
} pixart_kind;

typedef struct {
    const char *name;
    pixart_kind kind;
    int per_block;   /* the name has %d: one tensor per block */
    int micro;       /* only with micro-conditions */
    size_t at;       /* offset in pixart_weights, or in pixart_block when per_block */
    pixart_dim out, in;
    size_t at2;      /* KIND_HALVES: where the second half lands */
} pixart_name;

#define W(f) offsetof(pixart_weights, f)
#define B(f) offsetof(pixart_block, f)

/* The PixArt repositories' names (PixArt / PixArtMS in diffusion/model/nets/); the null caption
 * y_embedder.y_embedding and the pos_embed buffer are not loaded (pixart_unused_is_expected). */
static const pixart_name k_original[] = {
    {"x_embedder.proj", KIND_PATCH_CONV, 0, 0, W(x_embed), DIM_D, DIM_PATCH_IN, 0},
    {"t_embedder.mlp.0", KIND_LINEAR, 0, 0, W(t1), DIM_D, DIM_FREQ, 0},
    {"t_embedder.mlp.2", KIND_LINEAR, 0, 0, W(t2), DIM_D, DIM_D, 0},
    {"csize_embedder.mlp.0", KIND_LINEAR, 0, 1, W(r1), DIM_THIRD, DIM_FREQ, 0},
    {"csize_embedder.mlp.2", KIND_LINEAR, 0, 1, W(r2), DIM_THIRD, DIM_THIRD, 0},
    {"ar_embedder.mlp.0", KIND_LINEAR, 0, 1, W(a1), DIM_THIRD, DIM_FREQ, 0},
    {"ar_embedder.mlp.2", KIND_LINEAR, 0, 1, W(a2), DIM_THIRD, DIM_THIRD, 0},
    {"t_block.1", KIND_LINEAR, 0, 0, W(ada), DIM_6D, DIM_D, 0},
    {"y_embedder.y_proj.fc1", KIND_LINEAR, 0, 0, W(cap1), DIM_D, DIM_CAPTION, 0},
    {"y_embedder.y_proj.fc2", KIND_LINEAR, 0, 0, W(cap2), DIM_D, DIM_D, 0},
    {"blocks.%d.scale_shift_table", KIND_TABLE, 1, 0, B(sst), DIM_6, DIM_D, 0},
    {"blocks.%d.attn.qkv", KIND_LINEAR, 1, 0, B(qkv), DIM_3D, DIM_D, 0},
    {"blocks.%d.attn.proj", KIND_LINEAR, 1, 0, B(proj), DIM_D, DIM_D, 0},
    {"blocks.%d.cross_attn.q_linear", KIND_LINEAR, 1, 0, B(xq), DIM_D, DIM_D, 0},
    {"blocks.%d.cross_attn.kv_linear", KIND_HALVES, 1, 0, B(xk), DIM_D, DIM_D, B(xv)},
    {"blocks.%d.cross_attn.proj", KIND_LINEAR, 1, 0, B(xproj), DIM_D, DIM_D, 0},
    {"blocks.%d.mlp.fc1", KIND_LINEAR, 1, 0, B(fc1), DIM_4D, DIM_D, 0},
    {"blocks.%d.mlp.fc2", KIND_LINEAR, 1, 0, B(fc2), DIM_D, DIM_4D, 0},
    {"final_layer.scale_shift_table", KIND_TABLE, 0, 0, W(final_sst), DIM_2, DIM_D, 0},
    {"final_layer.linear", KIND_LINEAR, 0, 0, W(final_lin), DIM_OUT_TOK, DIM_D, 0},
};

static const pixart_name k_diffusers[] = {
    {"pos_embed.proj", KIND_PATCH_CONV, 0, 0, W(x_embed), DIM_D, DIM_PATCH_IN, 0},
    {"adaln_single.emb.timestep_embedder.linear_1", KIND_LINEAR, 0, 0, W(t1), DIM_D, DIM_FREQ, 0},
    {"adaln_single.emb.timestep_embedder.linear_2", KIND_LINEAR, 0, 0, W(t2), DIM_D, DIM_D, 0},
    {"adaln_single.emb.resolution_embedder.linear_1", KIND_LINEAR, 0, 1, W(r1), DIM_THIRD, DIM_FREQ, 0},
    {"adaln_single.emb.resolution_embedder.linear_2", KIND_LINEAR, 0, 1, W(r2), DIM_THIRD, DIM_THIRD, 0},
    {"adaln_single.emb.aspect_ratio_embedder.linear_1", KIND_LINEAR, 0, 1, W(a1), DIM_THIRD, DIM_FREQ, 0},
    {"adaln_single.emb.aspect_ratio_embedder.linear_2", KIND_LINEAR, 0, 1, W(a2), DIM_THIRD, DIM_THIRD, 0},
    {"adaln_single.linear", KIND_LINEAR, 0, 0, W(ada), DIM_6D, DIM_D, 0},
    {"caption_projection.linear_1", KIND_LINEAR, 0, 0, W(cap1), DIM_D, DIM_CAPTION, 0},
    {"caption_projection.linear_2", KIND_LINEAR, 0, 0, W(cap2), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.scale_shift_table", KIND_TABLE, 1, 0, B(sst), DIM_6, DIM_D, 0},
    {"transformer_blocks.%d.attn1.to_q", KIND_LINEAR, 1, 0, B(q), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn1.to_k", KIND_LINEAR, 1, 0, B(k), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn1.to_v", KIND_LINEAR, 1, 0, B(v), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn1.to_out.0", KIND_LINEAR, 1, 0, B(proj), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn2.to_q", KIND_LINEAR, 1, 0, B(xq), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn2.to_k", KIND_LINEAR, 1, 0, B(xk), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn2.to_v", KIND_LINEAR, 1, 0, B(xv), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.attn2.to_out.0", KIND_LINEAR, 1, 0, B(xproj), DIM_D, DIM_D, 0},
    {"transformer_blocks.%d.ff.net.0.proj", KIND_LINEAR, 1, 0, B(fc1), DIM_4D, DIM_D, 0},
    {"transformer_blocks.%d.ff.net.2", KIND_LINEAR, 1, 0, B(fc2), DIM_D, DIM_4D, 0},
    {"scale_shift_table", KIND_TABLE, 0, 0, W(final_sst), DIM_2, DIM_D, 0},
    {"proj_out", KIND_LINEAR, 0, 0, W(final_lin), DIM_OUT_TOK, DIM_D, 0},
};

#define COUNT(t) (sizeof t / sizeof *t)

static uint64_t dim(const pixart_config *c, pixart_dim d)
{
    const uint64_t D = (uint64_t)c->hidden, p2 = (uint64_t)c->patch * c->patch;
    switch (d) {
    case DIM_D: return D;
    case DIM_3D: return 3 * D;
    case DIM_4D: return 4 * D;
    case DIM_6D: return 6 * D;
    case DIM_THIRD: return D / 3;
    case DIM_FREQ: return 256;
    case DIM_PATCH_IN: return (uint64_t)c->in_channels * p2;
    case DIM_OUT_TOK: return p2 * (uint64_t)c->out_channels;
    case DIM_CAPTION: return (uint64_t)c->caption_channels;
    case DIM_2: return 2;
    case DIM_6: return 6;
    }
    return 0;
}

/* The weight [2 out, in] and bias [2 out] of a KIND_HALVES entry into two layers of `out` rows.
 * The first half is a view (of the mapping, or of the converted copy the model owns); the second
 * is a copy of its own, since a plain weight is released by its start (model_release_plain). The
 * biases are views: they live as long as the model. */
static sc_status fetch_halves(pixart_model *m, weights *w, const char *base, uint64_t out, uint64_t in, be_linear *a,
                              be_linear *b)
{
    const uint64_t wd[2] = {2 * out, in}, bd[1] = {2 * out};
    char name[300];
    const float *wt, *bias;
    snprintf(name, sizeof name, "%s.weight", base);
    sc_status s = model_get_tensor(&m->base, w, name, 2, wd, &wt);
    if (s) return s;
    snprintf(name, sizeof name, "%s.bias", base);
    if ((s = model_get_tensor(&m->base, w, name, 1, bd, &bias))) return s;
    float *second = mem_alloc_array((size_t)(out * in), sizeof(float), "cross-attention values");
    if (!second) return SC_ERR_NOMEM;
    if ((s = model_own(&m->base, second))) return s;
    memcpy(second, wt + out * in, (size_t)(out * in) * sizeof(float)); /* rows out..2 out-1 */
    *a = (be_linear){.w = wt, .b = bias, .out = (int)out, .in = (int)in};
    *b = (be_linear){.w = second, .b = bias + out, .out = (int)out, .in = (int)in};
    return SC_OK;
}

static sc_status fetch(pixart_model *m, weights *w, const pixart_name *e, int l)
{
    const pixart_config *c = &m->cfg;
    char *dst = e->per_block ? (char *)&m->w.blocks[l] : (char *)&m->w;
    const uint64_t out = dim(c, e->out), in = dim(c, e->in);
    char base[256], name[300];
    if (e->per_block) snprintf(base, sizeof base, e->name, l);
    else snprintf(base, sizeof base, "%s", e->name);
    if (e->kind == KIND_TABLE) {
        const uint64_t d[2] = {out, in};
        return model_get_tensor(&m->base, w, base, 2, d, (const float **)(dst + e->at));
    }
    if (e->kind == KIND_HALVES)
        return fetch_halves(m, w, base, out, in, (be_linear *)(dst + e->at), (be_linear *)(dst + e->at2));
    be_linear *L = (be_linear *)(dst + e->at);
    const uint64_t lin[2] = {out, in}, bd[1] = {out};
    const uint64_t conv[4] = {out, (uint64_t)c->in_channels, (uint64_t)c->patch, (uint64_t)c->patch};
    L->out = (int)out;
    L->in = (int)in;
    snprintf(name, sizeof name, "%s.weight", base);
    sc_status s = e->kind == KIND_PATCH_CONV ? model_get_tensor(&m->base, w, name, 4, conv, &L->w)
                                         : model_get_tensor(&m->base, w, name, 2, lin, &L->w);
    if (s) return s;
    snprintf(name, sizeof name, "%s.bias", base);
    return model_get_tensor(&m->base, w, name, 1, bd, &L->b);
}

sc_status pixart_fetch_weights(pixart_model *m, weights *w, pixart_layout layout)
{
    const pixart_name *t = layout == PIXART_LAYOUT_ORIGINAL ? k_original : k_diffusers;
    const size_t n = layout == PIXART_LAYOUT_ORIGINAL ? COUNT(k_original) : COUNT(k_diffusers);
    m->w.blocks = mem_alloc_array((size_t)m->cfg.depth, sizeof *m->w.blocks, "blocks");
    if (!m->w.blocks) return SC_ERR_NOMEM;
    sc_status s = model_own(&m->base, m->w.blocks);
    /* In file order: model-wide entries where they stand, each run of per-block entries once per
     * block. */
    for (size_t i = 0; i < n && !s;) {
        const pixart_name *e = &t[i];
        if (!e->per_block) {
            if (!e->micro || m->cfg.micro) s = fetch(m, w, e, 0);
            i++;
            continue;
        }
        size_t end = i;
        while (end < n && t[end].per_block) end++;
        for (int l = 0; l < m->cfg.depth && !s; l++)
            for (size_t j = i; j < end && !s; j++) s = fetch(m, w, &t[j], l);
        i = end;
    }
    return s;
}

#define BLOCK_PREFIX "blocks.%d." /* how every per-block original name begins */

/* 1 when `rest` (a name after "blocks.N.") is a tensor of an original block. */
static int original_block_tensor(const char *rest)
{
    const size_t skip = strlen(BLOCK_PREFIX);
    for (size_t i = 0; i < COUNT(k_original); i++) {
        const pixart_name *e = &k_original[i];
        if (!e->per_block) continue;
        const char *suffix = e->name + skip;
        const size_t len = strlen(suffix);
        if (strncmp(rest, suffix, len)) continue;
        if (e->kind == KIND_TABLE ? rest[len] == '\0' : !strcmp(rest + len, ".weight") || !strcmp(rest + len, ".bias"))
            return 1;
    }
    return 0;
}

sc_status pixart_original_depth(const weights *w, const char *path, int *depth)
{
    return model_block_run(w, path, "attn.qkv.weight", original_block_tensor,
                           "a PixArt block; qk-norm and KV compression are not supported", depth);
}

int pixart_unused_is_expected(const char *name)
{
    return !strcmp(name, "y_embedder.y_embedding") || !strcmp(name, "pos_embed");
}
