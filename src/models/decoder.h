/* The decoder-family interface: what turns a model's latents into pictures (or, for later
 * families, sound). A decoder family is a folder under src/models/ (sdvae/: the SD-VAE) with a
 * decoder_family table and a line in registry.c; the API decodes through it without knowing
 * which one runs. */
#ifndef SC_MODELS_DECODER_H
#define SC_MODELS_DECODER_H

#include <jansson.h>

#include "backend/backend.h"
#include "io/weights.h"
#include "smoothcache.h"

/* A loaded decoder. Families extend it (their struct starts with a `decoder`). */
typedef struct decoder {
    const struct decoder_family *family;
    const backend *be;
    int latent_channels;  /* what it decodes: [latent_channels, ...] */
    int out_channels;     /* what it makes: 3 for RGB pictures */
    int upscale;          /* output side / latent side (audio: samples per latent frame) */
    int sample_rate;      /* audio decoders: samples per second; 0 for pictures */
    uint64_t fingerprint; /* weights_fingerprint of its files, taken at load */
    char path[4096];
} decoder;

/* What detection sees: a folder's config.json (or none for a lone file) and its weights. */
typedef struct {
    const char *path;
    const json_t *config;
    const char *config_path;
    const char *class_name;
    weights *w;             /* a lone file's weights; NULL for a folder (the family opens them) */
    const sc_load_opts *opts; /* only dtype applies; may be NULL */
} decoder_probe;

typedef struct decoder_family {
    const char *name;        /* "sdvae" */
    const char *about;
    const char *looks_for;   /* for the message when no family recognises a checkpoint */
    int (*detect)(const decoder_probe *p); /* 0 .. 100, as model_family.detect */
    /* Loads; the weights are closed before it returns (the decoder keeps its own copies). */
    sc_status (*load)(const decoder_probe *p, decoder **out);
    void (*free)(decoder *d);
    void (*describe)(const decoder *d, sc_vae_info *info);
    /* latents [n, latent_channels, S, S] as a model sampled them (in its scaled latent space) ->
     * out [n, out_channels, S * upscale, S * upscale], the raw decoder output (nominally in
     * [-1, 1], not clamped). threads > 0 sets the thread count. */
    sc_status (*decode)(decoder *d, int n, int size, const float *latents, float *out, int threads);
    /* Sequence (audio) decoders, NULL for picture ones (whose decode is then NULL):
     * latents [n, latent_channels, frames] -> out [n, out_channels, out_length(frames)]. */
    int64_t (*out_length)(const decoder *d, int64_t frames);
    sc_status (*decode_seq)(decoder *d, int n, int64_t frames, const float *latents, float *out, int threads);
} decoder_family;

sc_status decoders_detect(const decoder_probe *p, const decoder_family **out);

#endif
