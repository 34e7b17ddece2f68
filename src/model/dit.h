/* The DiT model: configuration, weights (float32 views into mapped files, or converted copies),
 * and the forward pass. Shapes use D = hidden, T = tokens, B = batch rows (CFG halves included). */
#ifndef SC_MODEL_DIT_H
#define SC_MODEL_DIT_H

#include <stdint.h>

#include "core/matmul.h"
#include "sample/schedule.h"
#include "smoothcache.h"

typedef enum { DIT_LAYOUT_ORIGINAL, DIT_LAYOUT_DIFFUSERS, DIT_LAYOUT_PIPELINE } dit_layout;

typedef struct {
    int depth, hidden, heads, head_dim, patch, input_size, in_channels, out_channels, num_classes;
    int learned_sigma;
    int grid, tokens;          /* input_size / patch, grid^2 */
    int freq_div;              /* timestep frequency divisor: 128 original, 127 diffusers */
    float eps_attn, eps_mlp;   /* LayerNorm eps before attention / before the MLP */
    int cfg_channels;          /* eps channels guided: 3 original (hard-coded there), all diffusers */
} dit_config;

typedef struct {
    const float *w;           /* [out, in] row-major; released (not readable) once packed */
    const float *b;           /* [out] or NULL */
    int out, in;
    const mm_packed *packed;  /* the same weights in the matrix library's layout, or NULL */
} dit_linear;

typedef struct {
    /* Own timestep and class embedders: diffusers gives every block a copy, identical in
     * converted checkpoints (then only block 0's is used) but trained apart in models trained
     * natively with diffusers. Set only when the model's per_block_cond is 1. */
    dit_linear t1, t2;         /* [D, 256], [D, D] */
    const float *y_table;      /* [num_classes + 1, D] */
    dit_linear ada;            /* [6D, D] */
    dit_linear qkv;            /* [3D, D] when fused (original files) */
    dit_linear q, k, v;        /* [D, D] each (diffusers files); qkv.w == NULL then */
    dit_linear proj;           /* [D, D] */
    dit_linear fc1;            /* [4D, D] */
    dit_linear fc2;            /* [D, 4D] */
} dit_block;

typedef struct {
    dit_linear x_embed;        /* [D, C*p*p] (the conv weight [D, C, p, p] flattened) */
    const float *pos;          /* [T, D] */
    dit_linear t1;             /* [D, 256] */
    dit_linear t2;             /* [D, D] */
    const float *y_table;      /* [num_classes + 1, D] */
    dit_block *blocks;         /* [depth] */
    int per_block_cond;        /* 1: each block has its own embedders (see dit_block) */
    dit_linear final_ada;      /* [2D, D] */
    dit_linear final_lin;      /* [p*p*out_channels, D] */
} dit_weights;

struct sc_model {
    dit_config cfg;
    dit_weights w;
    dit_layout layout;
    sched_config sched;        /* from the pipeline's scheduler folder, else the DiT default */
    char dtype[8];
    uint64_t params;
    void **owned;              /* converted / computed buffers to free */
    int n_owned, cap_owned;
    mm_packed **packs;         /* packed weights to free */
    int n_packs, cap_packs;
    struct st_file *files[64]; /* kept open: F32 weights are views into their mappings */
    int n_files;
    char path[4096];
};

/* Activation buffers for one batch size, allocated once and reused by every forward. */
typedef struct {
    int rows;                  /* B */
    float *h;                  /* [B*T, D] residual stream */
    float *z;                  /* [B*T, D] normalised + modulated input of a sub-layer */
    float *qkv;                /* [B*T, 3D] fused, or [3, B*T, D] from separate q, k, v */
    float *att;                /* [B*T, D] attention output, heads concatenated */
    float *sub;                /* [B*T, D] raw sub-layer output (before gate and residual) */
    float *hid;                /* [B*T, 4D] MLP hidden */
    float *scores;             /* attention scores, dit_attention_scratch() floats */
    float *dense;              /* [3, B*T, D] q, k, v made dense for the attention products */
    float *patches;            /* [B*T, C*p*p] */
    float *out_tok;            /* [B*T, p*p*out_channels] */
    float *temb_freq;          /* [B, 256] */
    float *temb_hid;           /* [B, D] */
    float *c;                  /* [B, D] conditioning */
    float *silu_c;             /* [B, D] SiLU of the conditioning (block 0's embedders) */
    float *silu_cb;            /* [B, D] the same from one block's own embedders */
    int *y;                    /* [B] class labels of the current forward */
    float *mod;                /* [B, 6D] */
    mm_ctx *mm;
} dit_workspace;

sc_status dit_workspace_init(dit_workspace *ws, const sc_model *m, int rows);
void dit_workspace_free(dit_workspace *ws);

/* The forward in pieces, for the sampler loop and the caching layer:
 *   dit_embed: h [B*T, D] from x [B, C, S, S]; conditioning SiLU(c) [B, D] from t [B], y [B];
 *   dit_block_modulation: mod [B, 6D] of block l;
 *   dit_attn_sublayer / dit_mlp_sublayer: the raw sub-layer output [B*T, D] of block l, before
 *     the gate and the residual add (what SmoothCache stores and reuses);
 *   dit_final: out [B, out_channels, S, S] from h. */
sc_status dit_embed(const sc_model *m, dit_workspace *ws, const float *x, const float *t, const int *y);
sc_status dit_block_modulation(const sc_model *m, dit_workspace *ws, int l);
sc_status dit_attn_sublayer(const sc_model *m, dit_workspace *ws, int l, float *out);
sc_status dit_mlp_sublayer(const sc_model *m, dit_workspace *ws, int l, float *out);
sc_status dit_final(const sc_model *m, dit_workspace *ws, float *out);

/* x [B, C, S, S], t [B], y [B] -> out [B, out_channels, S, S]: all of the above, each block's
 * attention and MLP computed or reused as the caching run decides (NULL: all computed). */
struct cache_run;
sc_status dit_forward(const sc_model *m, dit_workspace *ws, const float *x, const float *t,
                      const int *y, float *out, struct cache_run *cache);

/* Fills pos [T, D] with the 2D sin-cos table (FORMATS.md 1.2). D % 4 == 0. */
void dit_pos_embed(float *pos, int grid, int D);

/* Bookkeeping for buffers the model owns. */
sc_status dit_own(sc_model *m, void *p);

/* Reorders every linear weight into the matrix library's layout (fusing diffusers' separate
 * q, k, v into one qkv product) and releases the plain copies: mapped pages are returned to the
 * kernel, converted buffers freed. */
sc_status dit_pack(sc_model *m);

/* Returns the whole pages inside [p, p + bytes) of a read-only file mapping to the kernel (they
 * are read again from the file if ever touched). */
void dit_release_pages(const void *p, size_t bytes);

uint64_t dit_macs_attn(const dit_config *c);
uint64_t dit_macs_mlp(const dit_config *c);
uint64_t dit_macs_forward(const dit_config *c);
/* The MAC count of an arbitrary DiT shape (for tests and the benchmark's FLOP bound). */
uint64_t dit_macs_forward_for(int depth, int hidden, int tokens, int in_ch, int out_ch, int patch);

#endif
