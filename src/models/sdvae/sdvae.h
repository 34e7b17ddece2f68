/* The SD-VAE decoder family: diffusers' AutoencoderKL.decode (post_quant_conv + Decoder) in C
 * (docs/FORMATS.md, "The SD-VAE decoder").
 *
 * What it loads (the three namings are told apart by their tensor names, names.c):
 *   - a diffusers VAE folder: config.json + weights (safetensors, sharded, the .fp16 variant, or
 *     PyTorch .bin), current names (`attentions.0.to_q`) or the legacy ones of 2022 files
 *     (`attentions.0.query`, `proj_attn`); config keys absent take diffusers' defaults;
 *   - one file (safetensors or PyTorch .pt/.bin) in any naming, including the original LDM one
 *     (`decoder.mid.attn_1.q` with [C, C, 1, 1] attention weights, up blocks numbered in reverse)
 *     and full Stable Diffusion checkpoints whose VAE keys start with `first_stage_model.` (or
 *     `vae.`). A file carries no config: the channels, block and layer counts are read off the
 *     shapes; norm_num_groups is 32 and scaling_factor 0.18215 (the SD values, which no shape
 *     shows).
 * Encoder tensors (encoder.*, quant_conv.*) are ignored. Weights may be F32, F16 or BF16; they
 * are converted to F32 and reordered for the convolution kernels once, at load, and the files
 * are closed afterwards. A decoder is used by one thread at a time.
 *
 * Files: family.c (the decoder_family table), names.c (the namings as data), config.c
 * (config.json or the shapes of a lone file), load.c, decode.c. */
#ifndef SC_MODELS_SDVAE_SDVAE_H
#define SC_MODELS_SDVAE_SDVAE_H

#include "models/decoder.h"

#define SDVAE_MAX_BLOCKS 8
#define SDVAE_MAX_CHANNELS 8192

typedef enum {
    SDVAE_NAMES_DIFFUSERS = 0, /* decoder.mid_block.attentions.0.to_q */
    SDVAE_NAMES_LEGACY = 1,    /* decoder.mid_block.attentions.0.query */
    SDVAE_NAMES_LDM = 2        /* decoder.mid.attn_1.q, decoder.up.{3-b}.block.{r} */
} sdvae_naming;

typedef struct {
    int blocks;                         /* len(block_out_channels) */
    int block_out[SDVAE_MAX_BLOCKS];    /* block_out_channels, encoder order: [128, 256, 512, 512] */
    int layers_per_block;               /* a decoder up block has layers_per_block + 1 resnets */
    int latent_channels, out_channels;  /* 4, 3 */
    int groups;                         /* norm_num_groups (GroupNorm eps is always 1e-6) */
    int post_quant_conv;                /* use_post_quant_conv */
    int mid_attention;                  /* mid_block_add_attention */
    double scaling_factor;              /* 0.18215 where the config does not say */
    double shift_factor;                /* 0 where the config has none (null) */
    sdvae_naming naming;                /* of the weights that were loaded */
} sdvae_config;

/* GroupNorm affine parameters, [c] each. */
typedef struct {
    float *gamma, *beta;
    int c;
} sdvae_norm;

typedef struct {
    int cin, cout;
    sdvae_norm norm1, norm2;
    be_conv *conv1, *conv2;  /* 3x3 cin -> cout, 3x3 cout -> cout */
    be_conv *shortcut;       /* 1x1 cin -> cout where cin != cout, else NULL */
} sdvae_resnet;

typedef struct {
    int c;
    sdvae_norm norm;
    be_conv *q, *k, *v, *out; /* the four linears [c, c] as 1x1 convolutions over pixels */
} sdvae_attention;

typedef struct {
    int cout, n_resnets;
    sdvae_resnet *resnets;
    /* Nearest x2 upsampling + 3x3 conv, folded into one 2x2 conv c -> 4c over the low-resolution
     * image (sdvae_upsample_weights); NULL for the last block. */
    be_conv *upsample;
} sdvae_up_block;

/* Activation buffers for one latent size, allocated on the first decode of that size. */
typedef struct {
    int size;            /* latent side S; 0 = none yet */
    size_t floats;       /* capacity of each of buf[0..2] */
    float *buf[3];       /* rotating NHWC activations of one image */
    float *q, *k, *v;    /* attention [T, C] each, T = S^2 */
    float *scores;       /* attention scores (the backend's attention_scratch) */
    double *stats;       /* GroupNorm scratch, [3 * max channels] */
} sdvae_ws;

typedef struct {
    decoder base;
    sdvae_config cfg;
    be_ctx *ctx;
    be_conv *post_quant;     /* 1x1 latent -> latent, or NULL */
    be_conv *conv_in;        /* 3x3 latent -> block_out[last] */
    sdvae_resnet mid[2];
    sdvae_attention attn;    /* .c == 0 without mid attention */
    sdvae_up_block up[SDVAE_MAX_BLOCKS];
    sdvae_norm norm_out;
    be_conv *conv_out;       /* 3x3 block_out[0] -> out_channels */
    sdvae_ws ws;
} sdvae;

/* 3x3 convs with at most this many channels on one side use winograd. In SD they are the ones of
 * up blocks 2 and 3, which run at 1/2 and 1/1 of the image side: 43% of the decoder's
 * multiply-adds (52% after the upsampling fold), for 82 MB of transformed weights (+21 MB plain
 * copies). The 512-channel convs run at 1/8 and 1/4 of the side; theirs would take 600 MB more
 * for the smaller part of the time. */
#define SDVAE_WINOGRAD_MAX_CHANNELS 256

extern const decoder_family decoder_family_sdvae;

/* names.c: the tensor names of each part in the checkpoint's naming. */
typedef struct {
    sdvae_naming naming;
    const char *prefix; /* "", "first_stage_model." or "vae." */
} sdvae_names;
/* Which prefix and naming a weight file uses (sets the prefix on w). */
sc_status sdvae_detect_naming(weights *w, sdvae_names *n);
void sdvae_mid_resnet_name(char *buf, size_t cap, const sdvae_names *n, int i);
void sdvae_up_resnet_name(char *buf, size_t cap, const sdvae_names *n, int blocks, int b, int r);
void sdvae_upsample_name(char *buf, size_t cap, const sdvae_names *n, int blocks, int b);
enum { SDVAE_ATT_NORM, SDVAE_ATT_Q, SDVAE_ATT_K, SDVAE_ATT_V, SDVAE_ATT_OUT };
void sdvae_attention_name(char *buf, size_t cap, const sdvae_names *n, int part);
const char *sdvae_norm_out_name(const sdvae_names *n);
const char *sdvae_shortcut_name(const sdvae_names *n);
const char *sdvae_up_head(const sdvae_names *n); /* "decoder.up_blocks." / "decoder.up." */

/* config.c */
sc_status sdvae_config_from_object(sdvae_config *c, const json_t *j, const char *path);
sc_status sdvae_config_from_shapes(sdvae_config *c, const weights *w, const sdvae_names *n);

/* load.c */
sc_status sdvae_load(const decoder_probe *p, decoder **out);
void sdvae_free(decoder *d);
/* Nearest x2 upsampling followed by a 3x3 conv (pad 1) equals, per output phase (a, b) in
 * {0,1}^2, a 2x2 conv of the low-resolution image: output row 2i+a reads upsampled rows
 * 2i+a-1..2i+a+1, which are input rows {i-1, i, i} (a = 0) or {i, i, i+1} (a = 1). Folding the
 * taps that read the same input row gives 4/9 of the multiply-adds.
 * w2 [4 co, ci, 2, 2] (phase p = 2a + b major) from w3 [co, ci, 3, 3]; summed in double.
 * Run as one 2x2 conv with padding 1, phase (a, b) of output pixel (i, j) is conv output
 * (i + a, j + b), channels [p co, p co + co). */
void sdvae_upsample_weights(float *w2, const float *w3, int co, int ci);

/* decode.c */
sc_status sdvae_decode(decoder *d, int n, int size, const float *latents, float *images, int threads);
/* Releases the activation buffers (the next decode allocates them again). */
void sdvae_ws_free(sdvae *v);

#endif
