/* The tensor names of the two DiT layouts, as data: one table per layout, each entry a name
 * (with %d for the block), what it is, where it lands and the shape the configuration requires
 * (docs/FORMATS.md). dit_fetch_weights walks a table; a third naming would be a third table. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "models/dit/dit.h"

/* The sizes a shape is made of, resolved against the configuration. */
typedef enum {
    DIM_D,        /* hidden */
    DIM_2D, DIM_3D, DIM_4D, DIM_6D,
    DIM_FREQ,     /* the timestep features: 256 */
    DIM_PATCH_IN, /* C * p * p: the patch-embedding conv's input, flattened */
    DIM_OUT_TOK,  /* p * p * out_channels: the final linear's output */
    DIM_CLASSES,  /* num_classes + 1 (the null class) */
    DIM_TOKENS
} dit_dim;

typedef enum {
    KIND_LINEAR,      /* name.weight [out, in] + name.bias [out] */
    KIND_PATCH_CONV,  /* name.weight [D, C, p, p] + name.bias [D], used as a linear [D, C p p] */
    KIND_TABLE,       /* name [out, in] */
    KIND_POS          /* name [1, T, D]; optional (computed when absent) */
} dit_kind;

typedef struct {
    const char *name;
    dit_kind kind;
    int per_block;    /* the name has %d: one tensor per block */
    size_t at;        /* offset in dit_weights, or in dit_block when per_block */
    dit_dim out, in;
} dit_name;

#define W(f) offsetof(dit_weights, f)
#define B(f) offsetof(dit_block, f)

/* facebookresearch/DiT (models.py). */
static const dit_name k_original[] = {
    {"x_embedder.proj", KIND_PATCH_CONV, 0, W(x_embed), DIM_D, DIM_PATCH_IN},
    {"t_embedder.mlp.0", KIND_LINEAR, 0, W(t1), DIM_D, DIM_FREQ},
    {"t_embedder.mlp.2", KIND_LINEAR, 0, W(t2), DIM_D, DIM_D},
    {"y_embedder.embedding_table.weight", KIND_TABLE, 0, W(y_table), DIM_CLASSES, DIM_D},
    {"blocks.%d.adaLN_modulation.1", KIND_LINEAR, 1, B(ada), DIM_6D, DIM_D},
    {"blocks.%d.attn.qkv", KIND_LINEAR, 1, B(qkv), DIM_3D, DIM_D},
    {"blocks.%d.attn.proj", KIND_LINEAR, 1, B(proj), DIM_D, DIM_D},
    {"blocks.%d.mlp.fc1", KIND_LINEAR, 1, B(fc1), DIM_4D, DIM_D},
    {"blocks.%d.mlp.fc2", KIND_LINEAR, 1, B(fc2), DIM_D, DIM_4D},
    {"final_layer.adaLN_modulation.1", KIND_LINEAR, 0, W(final_ada), DIM_2D, DIM_D},
    {"final_layer.linear", KIND_LINEAR, 0, W(final_lin), DIM_OUT_TOK, DIM_D},
    {"pos_embed", KIND_POS, 0, W(pos), DIM_TOKENS, DIM_D},
};

/* diffusers' DiTTransformer2DModel. Every block carries a copy of the timestep and class
 * embedders; converted checkpoints hold identical copies, so block 0's serve the whole model. */
static const dit_name k_diffusers[] = {
    {"pos_embed.proj", KIND_PATCH_CONV, 0, W(x_embed), DIM_D, DIM_PATCH_IN},
    {"transformer_blocks.0.norm1.emb.timestep_embedder.linear_1", KIND_LINEAR, 0, W(t1), DIM_D, DIM_FREQ},
    {"transformer_blocks.0.norm1.emb.timestep_embedder.linear_2", KIND_LINEAR, 0, W(t2), DIM_D, DIM_D},
    {"transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight", KIND_TABLE, 0, W(y_table), DIM_CLASSES,
     DIM_D},
    {"transformer_blocks.%d.norm1.linear", KIND_LINEAR, 1, B(ada), DIM_6D, DIM_D},
    {"transformer_blocks.%d.attn1.to_q", KIND_LINEAR, 1, B(q), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_k", KIND_LINEAR, 1, B(k), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_v", KIND_LINEAR, 1, B(v), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_out.0", KIND_LINEAR, 1, B(proj), DIM_D, DIM_D},
    {"transformer_blocks.%d.ff.net.0.proj", KIND_LINEAR, 1, B(fc1), DIM_4D, DIM_D},
    {"transformer_blocks.%d.ff.net.2", KIND_LINEAR, 1, B(fc2), DIM_D, DIM_4D},
    {"proj_out_1", KIND_LINEAR, 0, W(final_ada), DIM_2D, DIM_D},
    {"proj_out_2", KIND_LINEAR, 0, W(final_lin), DIM_OUT_TOK, DIM_D},
};

/* Models trained natively with diffusers: blocks 1.. use their own embedders (dit_block.t1...). */
static const dit_name k_diffusers_own_embedders[] = {
    {"transformer_blocks.%d.norm1.emb.timestep_embedder.linear_1", KIND_LINEAR, 1, B(t1), DIM_D, DIM_FREQ},
    {"transformer_blocks.%d.norm1.emb.timestep_embedder.linear_2", KIND_LINEAR, 1, B(t2), DIM_D, DIM_D},
    {"transformer_blocks.%d.norm1.emb.class_embedder.embedding_table.weight", KIND_TABLE, 1, B(y_table), DIM_CLASSES,
     DIM_D},
};

#define COUNT(t) (sizeof t / sizeof *t)

static uint64_t dim(const dit_config *c, dit_dim d)
{
    const uint64_t D = (uint64_t)c->hidden, p2 = (uint64_t)c->patch * c->patch;
    switch (d) {
    case DIM_D: return D;
    case DIM_2D: return 2 * D;
    case DIM_3D: return 3 * D;
    case DIM_4D: return 4 * D;
    case DIM_6D: return 6 * D;
    case DIM_FREQ: return 256;
    case DIM_PATCH_IN: return (uint64_t)c->in_channels * p2;
    case DIM_OUT_TOK: return p2 * (uint64_t)c->out_channels;
    case DIM_CLASSES: return (uint64_t)c->num_classes + 1;
    case DIM_TOKENS: return (uint64_t)c->tokens;
    }
    return 0;
}

/* name + suffix, formatted for block l. */
static void full_name(char *buf, size_t cap, const dit_name *e, int l, const char *suffix)
{
    char base[256];
    if (e->per_block) snprintf(base, sizeof base, e->name, l);
    else snprintf(base, sizeof base, "%s", e->name);
    snprintf(buf, cap, "%s%s", base, suffix);
}

/* Fetches one entry for block l (ignored for model-wide entries) into its place. */
static sc_status fetch(dit_model *m, weights *w, const dit_name *e, int l)
{
    const dit_config *c = &m->cfg;
    char *dst = e->per_block ? (char *)&m->w.blocks[l] : (char *)&m->w;
    const uint64_t out = dim(c, e->out), in = dim(c, e->in);
    char name[320];
    const float *data;
    float *owned;
    sc_status s;
    switch (e->kind) {
    case KIND_TABLE: {
        const uint64_t d[2] = {out, in};
        full_name(name, sizeof name, e, l, "");
        s = weights_get(w, name, 2, d, 0, &data, &owned);
        if (!s && owned) s = model_own(&m->base, owned);
        if (!s) *(const float **)(dst + e->at) = data;
        return s;
    }
    case KIND_POS: {
        const uint64_t d[3] = {1, out, in};
        full_name(name, sizeof name, e, l, "");
        if (!weights_peek(w, name)) return SC_OK; /* computed in load.c */
        s = weights_get(w, name, 3, d, 0, &data, &owned);
        if (!s && owned) s = model_own(&m->base, owned);
        if (!s) *(const float **)(dst + e->at) = data;
        return s;
    }
    case KIND_LINEAR:
    case KIND_PATCH_CONV: {
        be_linear *L = (be_linear *)(dst + e->at);
        const uint64_t lin[2] = {out, in}, bd[1] = {out};
        const uint64_t conv[4] = {out, (uint64_t)c->in_channels, (uint64_t)c->patch, (uint64_t)c->patch};
        L->out = (int)out;
        L->in = (int)in;
        full_name(name, sizeof name, e, l, ".weight");
        s = e->kind == KIND_PATCH_CONV ? weights_get(w, name, 4, conv, 0, &data, &owned)
                                       : weights_get(w, name, 2, lin, 0, &data, &owned);
        if (!s && owned) s = model_own(&m->base, owned);
        if (s) return s;
        L->w = data;
        full_name(name, sizeof name, e, l, ".bias");
        s = weights_get(w, name, 1, bd, 0, &data, &owned);
        if (!s && owned) s = model_own(&m->base, owned);
        if (!s) L->b = data;
        return s;
    }
    }
    return SC_OK;
}

/* Walks a table in the order a reader of the checkpoint would: model-wide entries where they
 * stand, each run of per-block entries once per block (first_block.. depth - 1). */
static sc_status walk(dit_model *m, weights *w, const dit_name *t, size_t n, int first_block)
{
    sc_status s = SC_OK;
    for (size_t i = 0; i < n && !s;) {
        if (!t[i].per_block) {
            s = fetch(m, w, &t[i++], 0);
            continue;
        }
        size_t end = i;
        while (end < n && t[end].per_block) end++;
        for (int l = first_block; l < m->cfg.depth && !s; l++)
            for (size_t j = i; j < end && !s; j++) s = fetch(m, w, &t[j], l);
        i = end;
    }
    return s;
}

sc_status dit_fetch_weights(dit_model *m, weights *w, dit_layout layout)
{
    m->w.blocks = mem_alloc_array((size_t)m->cfg.depth, sizeof *m->w.blocks, "blocks");
    if (!m->w.blocks) return SC_ERR_NOMEM;
    sc_status s = model_own(&m->base, m->w.blocks);
    if (s) return s;
    if (layout == DIT_LAYOUT_ORIGINAL) return walk(m, w, k_original, COUNT(k_original), 0);
    s = walk(m, w, k_diffusers, COUNT(k_diffusers), 0);
    if (!s && m->cfg.depth > 1 && dit_embedders_differ(w, m->cfg.depth)) {
        m->w.per_block_cond = 1;
        s = walk(m, w, k_diffusers_own_embedders, COUNT(k_diffusers_own_embedders), 1);
    }
    return s;
}

int dit_embedders_differ(weights *w, int depth)
{
    static const char *parts[] = {"timestep_embedder.linear_1.weight", "timestep_embedder.linear_1.bias",
                                  "timestep_embedder.linear_2.weight", "timestep_embedder.linear_2.bias",
                                  "class_embedder.embedding_table.weight"};
    for (int l = 1; l < depth; l++)
        for (size_t i = 0; i < COUNT(parts); i++) {
            char n0[160], nl[160];
            snprintf(n0, sizeof n0, "transformer_blocks.0.norm1.emb.%s", parts[i]);
            snprintf(nl, sizeof nl, "transformer_blocks.%d.norm1.emb.%s", l, parts[i]);
            st_file *f0, *fl;
            const st_tensor *a = weights_find(w, n0, &f0), *b = weights_find(w, nl, &fl);
            if (!a || !b) continue; /* a missing copy is reported when (if) it is loaded */
            if (a->end - a->begin != b->end - b->begin || a->dtype != b->dtype ||
                memcmp(st_data(f0, a), st_data(fl, b), (size_t)(a->end - a->begin)))
                return 1;
            /* An identical copy is never used: give back the pages the comparison touched
             * (27 copies are 300 MB in DiT-XL/2). */
            file_release_pages(st_data(fl, b), (size_t)(b->end - b->begin));
        }
    return 0;
}

int dit_unused_is_expected(const char *name)
{
    return strncmp(name, "transformer_blocks.", 19) == 0 && strstr(name, ".norm1.emb.") != NULL;
}
