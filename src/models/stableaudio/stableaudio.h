/* The Stable Audio family (Stable Audio Open; diffusers' StableAudioDiTModel with the pipeline's
 * StableAudioProjectionModel): a DiT over the latent frames of an audio autoencoder, conditioned on
 * T5 text tokens and on the clip's start and total seconds (docs/FAMILIES.md, "Stable Audio").
 *
 * What differs from DiT and PixArt: no patches and no modulation; a 1x1 convolution with a
 * residual before the input projection and after the output projection; one global token (the
 * projected durations plus the timestep's Fourier embedding) prepended to the frames; LayerNorms
 * with affine weights; rotary position embeddings on the first half of every head in
 * self-attention; cross-attention over the projected text and duration tokens with grouped
 * key/value heads and no mask (padding is zeroed in the tokens instead); a SwiGLU feed-forward.
 * The projection model (text projection, two number conditioners) runs in embed().
 *
 * Files: family.c (detection, conditioning, shapes, description), config.c (the two config.json),
 * names.c (the diffusers tensor names), load.c, prepare.c (weights into the backend's layout),
 * forward.c (the steps of models/model.h).
 *
 * Shapes: D = hidden (heads x head_dim), C = latent channels, S = latent frames, T = S + 1 tokens
 * (the global token first), L = text tokens, Lc = L + 2 cross-attention tokens (text, start,
 * end), Cd = conditioning width, Ct = T5 width, B = batch rows (guidance halves included). */
#ifndef SC_MODELS_STABLEAUDIO_STABLEAUDIO_H
#define SC_MODELS_STABLEAUDIO_STABLEAUDIO_H

#include <stdint.h>

#include "models/model.h"

/* The text length the MAC counts assume (Stable Audio Open's T5 tokenizer pads to 128). */
#define SA_NOMINAL_TEXT_LEN 128
/* Latent frames it runs at most. */
#define SA_MAX_FRAMES 65536
/* The number conditioners' Fourier width (StableAudioNumberConditioner's internal_dim). */
#define SA_NUMBER_DIM 256

typedef struct {
    int depth, hidden, heads, kv_heads, head_dim;
    int in_channels, out_channels, sample_size;
    int cross_dim;          /* cross_attention_dim: the cross-attention tokens' width (keys' input) */
    int cross_input_dim;    /* cross_attention_input_dim: the conditioning width Cd */
    int global_input_dim;   /* global_states_input_dim: 2 Cd (start | end) */
    int time_dim;           /* time_proj_dim: the Fourier features (half cos, half sin) */
    int rot;                /* rotary dims per head: head_dim / 2 (the pipeline's table) */
    float eps;              /* the blocks' LayerNorm eps (1e-5) */
    /* The projection model. */
    int text_dim;           /* text_encoder_dim Ct */
    int text_identity;      /* 1: Ct == Cd, the text projection is the identity */
    double min_value, max_value; /* the seconds' clamp range */
} sa_config;

typedef struct {
    const float *n1w, *n1b, *n2w, *n2b, *n3w, *n3b; /* [D] LayerNorm weights and biases */
    float *n1s, *n2s, *n3s;    /* [D] weight - 1 (the scale ln_modulate takes), owned */
    be_linear qkv;             /* [3D, D] self-attention q, k, v fused at prepare */
    be_linear q, k, v;         /* [D, D] each, until fused */
    be_linear proj;            /* [D, D] attn1.to_out.0 */
    be_linear xq;              /* [D, D] attn2.to_q */
    be_linear xk, xv;          /* [kvh*hd, cross_dim] attn2.to_k, to_v */
    be_linear xproj;           /* [D, D] attn2.to_out.0 */
    be_linear fc1;             /* [2 * 4D, D] ff.net.0.proj: value half, then gate half */
    be_linear fc2;             /* [D, 4D] ff.net.2 */
} sa_block;

typedef struct {
    const float *time_w;       /* [time_dim / 2] time_proj.weight */
    be_linear t1, t2;          /* timestep_proj [D, time_dim], [D, D] */
    be_linear g1, g2;          /* global_proj [D, 2Cd], [D, D], no bias */
    be_linear c1, c2;          /* cross_attention_proj [cross_dim, Cd], [cross_dim, cross_dim], no bias */
    be_linear pre;             /* preprocess_conv [C, C] (the 1x1 kernel), no bias */
    be_linear proj_in;         /* [D, C], no bias */
    sa_block *blocks;          /* [depth] */
    be_linear proj_out;        /* [Co, D], no bias */
    be_linear post;            /* postprocess_conv [Co, Co], no bias */
    /* The projection model. */
    be_linear text_proj;       /* [Cd, Ct] (unused when text_identity) */
    const float *start_w, *end_w; /* [SA_NUMBER_DIM / 2] Fourier weights of the two conditioners */
    be_linear start_lin, end_lin; /* [Cd, SA_NUMBER_DIM + 1] */
} sa_weights;

typedef struct {
    model base;
    sa_config cfg;
    sa_weights w;
    weights *proj_files;       /* projection_model/'s weights (kept open: views into them) */
    char proj_path[4096];
} sa_model;

/* Activations for one batch size and latent length. The text side (the cross-attention tokens and
 * every block's keys and values) is computed once per conditioning: a generation's steps share it. */
typedef struct {
    model_ws base;             /* h [B*T, D] residual stream, sub [B*T, D] component scratch */
    int frames;                /* S */
    float *cs, *sn;            /* [T, rot/2] rotary cosines and sines */
    float *z;                  /* [B*T, D] a normalised sub-layer input */
    float *qkv;                /* [B*T, 3D] */
    float *att;                /* [B*T, D] attention output, heads concatenated */
    float *hid2;               /* [B*T, 8D] SwiGLU input (value | gate) */
    float *hid;                /* [B*T, 4D] SwiGLU output */
    float *scores;             /* self-attention scores */
    float *dense;              /* [3, B*T, D] q, k, v made dense */
    float *frames_in;          /* [B*S, C] the latent frames as rows */
    float *frames_pre;         /* [B*S, C] their 1x1 convolution */
    float *frames_out;         /* [B*S, Co] */
    float *tok_in;             /* [B*S, D] projected frames */
    float *tfeat;              /* [B, time_dim] Fourier features */
    float *thid;               /* [B, D] */
    float *temb;               /* [B, D] timestep embedding */
    float *ghid;               /* [B, D] */
    float *glob;               /* [B, D] the global token */
    /* Conditioning side, sized for cond_cap cross tokens per row. */
    int cond_cap;
    float *enc;                /* [B*Lc, Cd] text and duration tokens */
    float *chid;               /* [B*Lc, cross_dim] */
    float *ctok;               /* [B*Lc, cross_dim] projected cross tokens */
    float *gin;                /* [B, 2Cd] durations (start | end) */
    float *xkv;                /* [depth, 2, B*Lc, D] each block's keys and values, heads expanded */
    float *kvtmp;              /* [B*Lc, kvh*hd] */
    unsigned char *xkv_ready;  /* [depth] */
    float *xscores;
    float *numfeat;            /* [B, SA_NUMBER_DIM + 1] */
    float *seen;               /* the conditioning the cross side was computed from */
    size_t seen_n;             /* floats in it (0: none) */
    int lc;                    /* Lc of the current forward */
} sa_ws;

extern const model_family model_family_stable_audio;

static inline const sa_model *sa_of(const model *m) { return (const sa_model *)m; }

/* config.c */
sc_status sa_config_from_objects(sa_config *c, const json_t *dit, const char *dit_path, const json_t *proj,
                                 const char *proj_path);
uint64_t sa_macs_attn(const sa_config *c, uint64_t T);
uint64_t sa_macs_cross(const sa_config *c, uint64_t T, uint64_t Lc);
uint64_t sa_macs_mlp(const sa_config *c, uint64_t T);
uint64_t sa_macs_forward(const sa_config *c, uint64_t S, uint64_t L);

/* names.c: the transformer's and the projection model's weights into m->w. */
sc_status sa_fetch_weights(sa_model *m, weights *dit, weights *proj);

/* load.c */
sc_status sa_load(const model_probe *p, const sc_load_opts *o, model **out);
void sa_free(model *m);

/* prepare.c */
sc_status sa_prepare(sa_model *m);
void sa_count_weights(sa_model *m);
void sa_drop_prepared(sa_model *m);
void sa_each_linear(sa_model *m, void (*f)(be_linear *L, void *user), void *user);

/* forward.c */
sc_status sa_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out);
void sa_ws_free(const model *m, model_ws *ws);
sc_status sa_embed(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c);
sc_status sa_block_step(const model *m, model_ws *ws, int l);
sc_status sa_component(const model *m, model_ws *ws, int l, int k, float *out);
sc_status sa_final(const model *m, model_ws *ws, float *out);
sc_status sa_modulated_input(const model *m, model_ws *ws, int l, float *out);

#endif
