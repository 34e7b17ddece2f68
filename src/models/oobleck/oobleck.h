/* The Oobleck decoder (diffusers' AutoencoderOobleck, Stable Audio's autoencoder): latents
 * [C, S] -> waveforms [audio_channels, S * hop] (docs/FAMILIES.md, "Oobleck").
 *
 *     conv1 (k 7)  ->  per upsampling ratio r (the encoder's downsampling ratios reversed):
 *         Snake, transposed conv (k 2r, stride r, padding ceil(r/2)),
 *         three residual units (dilation 1, 3, 9: Snake, conv k 7, Snake, conv k 1, + input)
 *     ->  Snake, conv2 (k 7, no bias)
 *
 * Every convolution is weight-normalised in the file (weight_g, weight_v): folded at load into
 * plain weights, laid out for one matrix product per chunk of time steps (im2col / col2im on
 * activations [time, channels]). Files: config.c, load.c, decode.c, family.c. */
#ifndef SC_MODELS_OOBLECK_OOBLECK_H
#define SC_MODELS_OOBLECK_OOBLECK_H

#include "models/decoder.h"

#define OOBLECK_MAX_BLOCKS 8
#define OOBLECK_MAX_CHANNELS 8192

typedef struct {
    int channels;            /* decoder_channels */
    int input_channels;      /* decoder_input_channels: the latent's */
    int audio_channels;
    int n_blocks;
    int ratios[OOBLECK_MAX_BLOCKS];    /* upsampling ratios, decoder order */
    int multiples[OOBLECK_MAX_BLOCKS + 1]; /* [1] + channel_multiples */
    int sampling_rate;
    int hop;                 /* the product of the ratios */
} oobleck_config;

/* A 1-D convolution as one product: y [n, out] = col [n, in k] W^T + b. */
typedef struct {
    be_linear lin;           /* [out, in k] (weight norm folded) */
    int in, out, k, dilation, pad;
} oobleck_conv;

/* A transposed convolution: z [n, out k] = x [n, in] W^T, scattered into the output with stride. */
typedef struct {
    be_linear lin;           /* [out k, in] (rows co k + j; weight norm folded), no bias */
    const float *bias;       /* [out] */
    int in, out, k, stride, pad;
} oobleck_convt;

typedef struct {
    float *a, *ib;           /* [C] exp(alpha), 1 / (exp(beta) + 1e-9) */
} oobleck_snake;

typedef struct {
    oobleck_snake s1, s2;
    oobleck_conv c1, c2;
} oobleck_res;

typedef struct {
    oobleck_snake snake;
    oobleck_convt up;
    oobleck_res res[3];
} oobleck_block;

typedef struct {
    decoder base;
    oobleck_config cfg;
    oobleck_conv conv1, conv2;
    oobleck_block blocks[OOBLECK_MAX_BLOCKS];
    oobleck_snake snake;
    be_ctx *ctx;
    void **owned;
    int n_owned, cap_owned;
} oobleck;

extern const decoder_family decoder_family_oobleck;

/* config.c */
sc_status oobleck_config_from_object(oobleck_config *c, const json_t *j, const char *path);
/* load.c */
sc_status oobleck_load(const decoder_probe *p, decoder **out);
void oobleck_free(decoder *d);
/* decode.c */
int64_t oobleck_out_length(const decoder *d, int64_t frames);
sc_status oobleck_decode_seq(decoder *d, int n, int64_t frames, const float *latents, float *out, int threads);

#endif
