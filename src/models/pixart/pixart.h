/* The PixArt family (PixArt-alpha and PixArt-Sigma; diffusers' PixArtTransformer2DModel): a DiT
 * conditioned on T5 text tokens (docs/FAMILIES.md, "PixArt").
 *
 * What differs from DiT: one adaLN projection for the whole model (adaLN-single) plus a learned
 * scale-shift table per block; the caption projection of the text tokens; a cross-attention in
 * every block, between self-attention and the MLP, neither normalised nor gated, whose keys are
 * the text tokens with a -10000 bias on padding; PixArt-alpha 1024's micro-conditions (pixel
 * height, width and aspect ratio); a position table for any grid (aspect-ratio bins) with an
 * interpolation scale (Sigma); the final layer modulated by the embedding itself, not its
 * projection.
 *
 * Files: family.c (detection, conditioning, shapes, description), config.c (config.json, or the
 * shapes of an original .pth), names.c (the tensor names of the two layouts: diffusers' and the
 * PixArt authors'), load.c, prepare.c (weights into the backend's layout), posembed.c (the 2-D
 * sin-cos table of a grid), forward.c (the steps of models/model.h).
 *
 * Shapes: D = hidden, T = image tokens, L = text tokens, B = batch rows (guidance halves
 * included), Cc = caption channels (T5's width). */
#ifndef SC_MODELS_PIXART_PIXART_H
#define SC_MODELS_PIXART_PIXART_H

#include <stdint.h>

#include "models/model.h"

/* The text length the MAC counts assume (PixArt-alpha's max_sequence_length). */
#define PIXART_NOMINAL_TEXT_LEN 120
/* Latent sides it runs at most (8192 pixels with the SD VAE). */
#define PIXART_MAX_SIDE 1024

typedef struct {
    int depth, hidden, heads, head_dim, patch, sample_size, in_channels, out_channels;
    int caption_channels;      /* the text embeddings' width */
    int micro;                 /* 1: resolution and aspect-ratio embedders (PixArt-alpha 1024) */
    double interpolation_scale; /* position table: positions divided by it (Sigma: 2 at 1024 px) */
    float eps;                 /* the blocks' LayerNorm eps (norm_eps) */
    int learned_sigma;         /* out_channels = 2 in_channels */
    int grid, tokens;          /* sample_size / patch (the position table's base size), grid^2 */
} pixart_config;

typedef struct {
    const float *sst;          /* [6, D] scale_shift_table, added to the shared modulation */
    be_linear qkv;             /* [3D, D] self-attention q, k, v fused (original files: attn.qkv;
                                * diffusers': from q, k, v at prepare) */
    be_linear q, k, v;         /* [D, D] each (diffusers files, until fused) */
    be_linear proj;            /* [D, D] attn1.to_out.0 */
    be_linear xq;              /* [D, D] attn2.to_q: queries from the raw stream */
    be_linear xk, xv;          /* [D, D] attn2.to_k, to_v: keys and values from the caption
                                * (original files: the halves of cross_attn.kv_linear [2D, D]) */
    be_linear xproj;           /* [D, D] attn2.to_out.0 */
    be_linear fc1;             /* [4D, D] */
    be_linear fc2;             /* [D, 4D] */
} pixart_block;

typedef struct {
    be_linear x_embed;         /* [D, C*p*p] (the conv weight [D, C, p, p] flattened) */
    be_linear t1, t2;          /* timestep embedder [D, 256], [D, D] */
    be_linear r1, r2;          /* resolution embedder [D/3, 256], [D/3, D/3] (micro only) */
    be_linear a1, a2;          /* aspect-ratio embedder [D/3, 256], [D/3, D/3] (micro only) */
    be_linear ada;             /* adaln_single.linear [6D, D] */
    be_linear cap1, cap2;      /* caption projection [D, Cc], [D, D] */
    pixart_block *blocks;      /* [depth] */
    const float *final_sst;    /* [2, D] */
    be_linear final_lin;       /* [p*p*out_channels, D] */
} pixart_weights;

/* The checkpoint's naming: diffusers' PixArtTransformer2DModel, or the PixArt authors' .pth
 * (PixArt-alpha / PixArt-sigma repositories: blocks.N.attn.qkv, t_block, y_embedder...). */
typedef enum { PIXART_LAYOUT_DIFFUSERS, PIXART_LAYOUT_ORIGINAL } pixart_layout;

typedef struct {
    model base;
    pixart_config cfg;
    pixart_weights w;
    pixart_layout layout;
} pixart_model;

/* Activations for one batch size and latent shape. The text buffers are sized at the first
 * forward that brings text (their length comes with the conditioning) and kept while it does not
 * grow; the cross-attention keys and values of each block are computed once per text (a
 * generation's steps share them: they depend on the text only). */
typedef struct {
    model_ws base;             /* h [B*T, D] residual stream, sub [B*T, D] component scratch */
    int gh, gw;                /* the token grid of this shape */
    float *pos;                /* [T, D] position table of the grid */
    float *z;                  /* [B*T, D] normalised + modulated input of a sub-layer */
    float *qkv;                /* [B*T, 3D] fused (cross-attention: its queries in the first D) */
    float *att;                /* [B*T, D] attention output, heads concatenated */
    float *hid;                /* [B*T, 4D] MLP hidden */
    float *scores;             /* self-attention scores */
    float *dense;              /* [3, B*T, D] q, k, v made dense for the attention products */
    float *patches;            /* [B*T, C*p*p] */
    float *out_tok;            /* [B*T, p*p*out_channels] */
    float *temb_freq;          /* [2B, 256] sinusoid features (two per row: height and width) */
    float *temb_hid;           /* [2B, D] embedder hidden */
    float *cond_part;          /* [2B, D] an embedder's output */
    float *c;                  /* [B, D] the embedding (timestep + micro-conditions) */
    float *silu_c;             /* [B, D] */
    float *shared;             /* [B, 6D] adaln_single's projection, shared by every block */
    float *mod;                /* [B, 6D] the current block's: shared + its scale-shift table */
    float *tvals;              /* [2B] numbers fed to the sinusoid */
    /* Text side, sized for text_cap tokens per row. */
    int text_cap;
    float *y;                  /* [B*L, D] projected caption */
    float *yhid;               /* [B*L, D] caption projection hidden */
    float *xkv;                /* [depth, 2, B*L, D] each block's cross keys and values */
    unsigned char *xkv_ready;  /* [depth] 1 when block l's are computed for the current text */
    float *xscores;            /* cross-attention scores */
    float *text_seen;          /* [B, L, Cc] the text the caption and keys were computed from */
    float *bias_seen;          /* [B, L] and its bias */
    int seen_rows, seen_len;   /* rows and length they hold (0: none) */
    const float *bias;         /* [B, L] the current key bias (into the conditioning) */
    int text_len;              /* L of the current forward */
} pixart_ws;

extern const model_family model_family_pixart;

static inline const pixart_model *pixart_of(const model *m) { return (const pixart_model *)m; }

/* config.c */
sc_status pixart_config_from_object(pixart_config *c, const json_t *j, const char *path);
/* An original file carries no config: sizes read off the shapes (depth from names.c's
 * pixart_original_depth), heads from sc_load_opts.num_heads or PixArt-XL's 16, the latent side
 * from the pos_embed buffer, sc_load_opts.input_size or 128 (docs/FAMILIES.md). */
sc_status pixart_config_from_shapes(pixart_config *c, const weights *w, const sc_load_opts *o, const char *path);
uint64_t pixart_macs_attn(const pixart_config *c, uint64_t tokens);
uint64_t pixart_macs_cross(const pixart_config *c, uint64_t tokens, uint64_t text_len);
uint64_t pixart_macs_mlp(const pixart_config *c, uint64_t tokens);
uint64_t pixart_macs_forward(const pixart_config *c, uint64_t tokens, uint64_t text_len);

/* names.c: every weight of `layout` through w into m->w (shapes from m->cfg). */
sc_status pixart_fetch_weights(pixart_model *m, weights *w, pixart_layout layout);
/* The blocks of an original file: the run 0, 1, 2... that have blocks.N.attn.qkv.weight; a
 * blocks.* tensor outside that run, or one no PixArt block has (qk-norm, KV compression), is
 * refused by name. */
sc_status pixart_original_depth(const weights *w, const char *path, int *depth);
/* Tensors of an original file the model does not use and that need no warning: the learned null
 * caption y_embedder.y_embedding (the pipelines encode the empty prompt instead) and the
 * pos_embed buffer (recomputed for every grid). */
int pixart_unused_is_expected(const char *name);

/* load.c */
sc_status pixart_load(const model_probe *p, const sc_load_opts *o, model **out);
void pixart_free(model *m);

/* prepare.c */
sc_status pixart_prepare(pixart_model *m);
void pixart_count_weights(pixart_model *m);
void pixart_drop_prepared(pixart_model *m);
/* Calls f on every linear layer of the model (for preparing, dropping, counting, checking). */
void pixart_each_linear(pixart_model *m, void (*f)(be_linear *L, void *user), void *user);

/* posembed.c: pos [gh*gw, D] for a gh x gw token grid, base size `base` (sample_size / patch),
 * positions divided by `scale`. D % 4 == 0. */
void pixart_pos_embed(float *pos, int gh, int gw, int base, double scale, int D);

/* forward.c */
sc_status pixart_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out);
void pixart_ws_free(const model *m, model_ws *ws);
sc_status pixart_embed(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c);
sc_status pixart_block_modulation(const model *m, model_ws *ws, int l);
sc_status pixart_component(const model *m, model_ws *ws, int l, int k, float *out);
sc_status pixart_final(const model *m, model_ws *ws, float *out);
sc_status pixart_modulated_input(const model *m, model_ws *ws, int l, float *out);

#endif
