/* The SD-VAE decoder: diffusers' AutoencoderKL.decode (post_quant_conv + Decoder) in C.
 * Architecture and tensor names: design/FORMATS.md section 4.
 *
 *     vae_model *v;
 *     if (vae_load("sd-vae-ft-ema/", &v) != SC_OK) fprintf(stderr, "%s\n", sc_last_error());
 *     // latents [n, 4, S, S] as the DiT sampled them; images [n, 3, 8S, 8S]
 *     vae_decode(v, n, S, latents, images, 2);
 *     vae_free(v);
 *
 * What vae_load accepts (the three namings are told apart by their tensor names):
 *   - a diffusers VAE folder: config.json + diffusion_pytorch_model.safetensors (or its .fp16
 *     variant), current names (`attentions.0.to_q`) or the legacy ones of 2022 files
 *     (`attentions.0.query`, `proj_attn`); config keys absent take diffusers' defaults;
 *   - a diffusers pipeline folder (model_index.json with a "vae" entry): its vae/ folder;
 *   - one .safetensors file in any naming, including the original LDM one (`decoder.mid.attn_1.q`
 *     with [C, C, 1, 1] attention weights, up blocks numbered in reverse) and full Stable
 *     Diffusion checkpoints whose VAE keys start with `first_stage_model.` (or `vae.`). A file
 *     carries no config: the channels, block and layer counts are read off the shapes;
 *     norm_num_groups is 32 and scaling_factor 0.18215 (the SD values, which no shape shows).
 * Encoder tensors (encoder.*, quant_conv.*) are ignored. Weights may be F32, F16 or BF16; they
 * are converted to F32 and reordered for the convolution kernels once, at load, and the files
 * are closed afterwards. A vae_model is used by one thread at a time. */
#ifndef SC_MODEL_VAE_H
#define SC_MODEL_VAE_H

#include "core/conv.h"
#include "core/matmul.h"
#include "smoothcache.h"

#define VAE_MAX_BLOCKS 8

typedef enum {
    VAE_NAMES_DIFFUSERS = 0, /* decoder.mid_block.attentions.0.to_q */
    VAE_NAMES_LEGACY = 1,    /* decoder.mid_block.attentions.0.query */
    VAE_NAMES_LDM = 2        /* decoder.mid.attn_1.q, decoder.up.{3-b}.block.{r} */
} vae_naming;

typedef struct {
    int blocks;                         /* len(block_out_channels) */
    int block_out[VAE_MAX_BLOCKS];      /* block_out_channels, encoder order: [128, 256, 512, 512] */
    int layers_per_block;               /* a decoder up block has layers_per_block + 1 resnets */
    int latent_channels, out_channels;  /* 4, 3 */
    int groups;                         /* norm_num_groups (GroupNorm eps is always 1e-6) */
    int post_quant_conv;                /* use_post_quant_conv */
    int mid_attention;                  /* mid_block_add_attention */
    double scaling_factor;              /* 0.18215 where the config does not say */
    double shift_factor;                /* 0 where the config has none (null) */
    vae_naming naming;                  /* of the weights that were loaded */
} vae_config;

/* GroupNorm affine parameters, [c] each. */
typedef struct {
    float *gamma, *beta;
    int c;
} vae_norm;

typedef struct {
    int cin, cout;
    vae_norm norm1, norm2;
    conv_layer *conv1, *conv2;  /* 3x3 cin -> cout, 3x3 cout -> cout */
    conv_layer *shortcut;       /* 1x1 cin -> cout where cin != cout, else NULL */
} vae_resnet;

typedef struct {
    int c;
    vae_norm norm;
    conv_layer *q, *k, *v, *out; /* the four linears [c, c] as 1x1 convolutions over pixels */
} vae_attention;

typedef struct {
    int cout, n_resnets;
    vae_resnet *resnets;
    /* Nearest x2 upsampling + 3x3 conv, folded into one 2x2 conv c -> 4c over the low-resolution
     * image (see vae_upsample_weights in vae_ops.h); NULL for the last block. */
    conv_layer *upsample;
} vae_up_block;

/* Activation buffers for one latent size, allocated on the first decode of that size. */
typedef struct {
    int size;            /* latent side S; 0 = none yet */
    size_t floats;       /* capacity of each of buf[0..2] */
    float *buf[3];       /* rotating NHWC activations of one image */
    float *q, *k, *v;    /* attention [T, C] each, T = S^2 */
    float *scores;       /* attention [VAE_ATTN_ROWS, T] */
    double *stats;       /* GroupNorm scratch, [3 * max channels] */
} vae_workspace;

typedef struct sc_vae {
    char path[4096];
    vae_config cfg;
    conv_ctx *conv;
    mm_ctx *mm;
    conv_layer *post_quant;   /* 1x1 latent -> latent, or NULL */
    conv_layer *conv_in;      /* 3x3 latent -> block_out[last] */
    vae_resnet mid[2];
    vae_attention attn;       /* .c == 0 without mid attention */
    vae_up_block up[VAE_MAX_BLOCKS];
    vae_norm norm_out;
    conv_layer *conv_out;     /* 3x3 block_out[0] -> out_channels */
    vae_workspace ws;
} vae_model;

/* Query rows of one attention block: the scores of VAE_ATTN_ROWS queries against all T keys
 * are computed at a time, so a 512-px decode (T = 4096) holds 4 MB of scores, not 64 MB. */
#define VAE_ATTN_ROWS 256

sc_status vae_load(const char *path, vae_model **out);
void vae_free(vae_model *m);

/* Decodes n latents [n, latent_channels, size, size], given as the DiT samples them (in the
 * scaled latent space): the decoder input is latents / scaling_factor (+ shift_factor), exactly
 * as pipelines call AutoencoderKL.decode(latents / scaling_factor). images
 * [n, out_channels, size * f, size * f], f = vae_upscale(m) (8 for SD), are the raw decoder
 * output, nominally in [-1, 1] and not clamped. threads > 0 sets the OpenMP thread count.
 * Images are decoded one at a time with buffers kept for the next call of the same size. */
sc_status vae_decode(vae_model *m, int n, int size, const float *latents, float *images, int threads);

/* Releases the activation buffers (vae_free does; the next decode allocates them again). */
void vae_workspace_free(vae_workspace *ws);

float vae_scaling_factor(const vae_model *m);
/* Image side / latent side: 2^(blocks - 1). */
int vae_upscale(const vae_model *m);

#endif
