/* The DiT family (Peebles & Xie; facebookresearch/DiT and diffusers' DiTTransformer2DModel):
 * class-conditional, adaLN-Zero blocks of self-attention and MLP (docs/FORMATS.md).
 *
 * Files: family.c (the model_family table: detection, conditioning, description), config.c
 * (config.json or the shapes of an original file; numerics of the origin; MACs), names.c (the
 * tensor-name tables of the two layouts, walked to fetch every weight), load.c (folder and file
 * forms), prepare.c (weights into the backend's layout), posembed.c (the 2-D sin-cos table),
 * forward.c (the forward in the steps model.h defines).
 *
 * Shapes: D = hidden, T = tokens, B = batch rows (guidance halves included). */
#ifndef SC_MODELS_DIT_DIT_H
#define SC_MODELS_DIT_DIT_H

#include <stdint.h>

#include "models/model.h"

typedef struct {
    int depth, hidden, heads, head_dim, patch, input_size, in_channels, out_channels, num_classes;
    int learned_sigma;
    int grid, tokens;          /* input_size / patch, grid^2 */
    int freq_div;              /* timestep frequency divisor: 128 original, 127 diffusers */
    float eps_attn, eps_mlp;   /* LayerNorm eps before attention / before the MLP */
    int cfg_channels;          /* eps channels guided: 3 original (hard-coded there), all diffusers */
} dit_config;

typedef struct {
    /* Own timestep and class embedders: diffusers gives every block a copy, identical in
     * converted checkpoints (then only block 0's is used) but trained apart in models trained
     * natively with diffusers. Set only when the model's per_block_cond is 1. */
    be_linear t1, t2;          /* [D, 256], [D, D] */
    const float *y_table;      /* [num_classes + 1, D] */
    be_linear ada;             /* [6D, D] */
    be_linear qkv;             /* [3D, D] fused (original files; diffusers' q, k, v once prepared) */
    be_linear q, k, v;         /* [D, D] each (diffusers files, until fused) */
    be_linear proj;            /* [D, D] */
    be_linear fc1;             /* [4D, D] */
    be_linear fc2;             /* [D, 4D] */
} dit_block;

typedef struct {
    be_linear x_embed;         /* [D, C*p*p] (the conv weight [D, C, p, p] flattened) */
    const float *pos;          /* [T, D] */
    be_linear t1;              /* [D, 256] */
    be_linear t2;              /* [D, D] */
    const float *y_table;      /* [num_classes + 1, D] */
    dit_block *blocks;         /* [depth] */
    int per_block_cond;        /* 1: each block has its own embedders (see dit_block) */
    be_linear final_ada;       /* [2D, D] */
    be_linear final_lin;       /* [p*p*out_channels, D] */
} dit_weights;

typedef enum { DIT_LAYOUT_ORIGINAL, DIT_LAYOUT_DIFFUSERS } dit_layout;

typedef struct {
    model base;
    dit_config cfg;
    dit_weights w;
    dit_layout layout;
} dit_model;

/* Activation buffers for one batch size, allocated once and reused by every forward. */
typedef struct {
    model_ws base;             /* h [B*T, D] residual stream, sub [B*T, D] component scratch */
    float *z;                  /* [B*T, D] normalised + modulated input of a sub-layer */
    float *qkv;                /* [B*T, 3D] fused */
    float *att;                /* [B*T, D] attention output, heads concatenated */
    float *hid;                /* [B*T, 4D] MLP hidden */
    float *scores;             /* attention scores, backend attention_scratch() floats */
    float *dense;              /* [3, B*T, D] q, k, v made dense for the attention products */
    float *patches;            /* [B*T, C*p*p] */
    float *out_tok;            /* [B*T, p*p*out_channels] */
    float *temb_freq;          /* [B, 256] */
    float *temb_hid;           /* [B, D] */
    float *c;                  /* [B, D] conditioning */
    float *silu_c;             /* [B, D] SiLU of the conditioning (block 0's embedders) */
    float *silu_cb;            /* [B, D] the same from one block's own embedders */
    float *mod;                /* [B, 6D] shift, scale, gate (attention), shift, scale, gate (MLP) */
    int *y;                    /* [B] class labels of the current forward */
} dit_ws;

extern const model_family model_family_dit;

static inline const dit_model *dit_of(const model *m) { return (const dit_model *)m; }

/* config.c */
sc_status dit_config_from_object(dit_config *c, const json_t *j, const char *path);
/* Original files carry no config: read it off the shapes (heads from the option or the standard
 * sizes). */
sc_status dit_config_from_shapes(dit_config *c, const weights *w, const sc_load_opts *o, const char *path);
/* Validates sizes and fills tokens, head_dim, learned_sigma and the origin's numerics. */
sc_status dit_config_finish(dit_config *c, sc_origin origin, const char *what);
uint64_t dit_macs_attn(const dit_config *c);
uint64_t dit_macs_mlp(const dit_config *c);
uint64_t dit_macs_forward(const dit_config *c);

/* names.c: fetches every weight of `layout` through w into m->w (shapes from m->cfg). */
sc_status dit_fetch_weights(dit_model *m, weights *w, dit_layout layout);
/* 1 when a diffusers file's per-block embedder copies differ from block 0's (models trained
 * natively with diffusers); identical copies have their pages given back. */
int dit_embedders_differ(weights *w, int depth);
/* Tensors no layout uses and that need no warning (diffusers' identical per-block copies). */
int dit_unused_is_expected(const char *name);

/* load.c */
sc_status dit_load(const model_probe *p, const sc_load_opts *o, model **out);
void dit_free(model *m);

/* prepare.c: every linear weight into the backend's layout (diffusers' q, k, v fused into one
 * qkv product first); the plain copies are released. */
sc_status dit_prepare(dit_model *m);
/* The model's weight_bytes and weights_source (after dit_prepare, or without it). */
void dit_count_weights(dit_model *m);
/* Frees the backend's prepared copies. */
void dit_drop_prepared(dit_model *m);

/* posembed.c: pos [T, D] = the 2-D sin-cos table (docs/FORMATS.md). D % 4 == 0. */
void dit_pos_embed(float *pos, int grid, int D);

/* forward.c */
sc_status dit_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out);
void dit_ws_free(const model *m, model_ws *ws);
sc_status dit_embed(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c);
sc_status dit_block_modulation(const model *m, model_ws *ws, int l);
sc_status dit_component(const model *m, model_ws *ws, int l, int k, float *out);
sc_status dit_final(const model *m, model_ws *ws, float *out);
sc_status dit_modulated_input(const model *m, model_ws *ws, int l, float *out);

#endif
