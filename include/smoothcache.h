/* smoothcache: Diffusion Transformer (DiT) sampling in C, with training-free feature caching.
 *
 * Usage:
 *
 *     sc_model *m;
 *     if (sc_model_load("DiT-XL-2-256/", NULL, &m) != SC_OK) {
 *         fprintf(stderr, "%s\n", sc_last_error());
 *         return 1;
 *     }
 *     int classes[2] = {207, 360};
 *     sc_gen_params p = sc_gen_params_default();
 *     p.classes = classes; p.n_images = 2; p.seed = 0; p.steps = 50;
 *     float *lat = malloc(sc_latent_bytes(m, 2));   // [n, C, S, S] float32
 *     if (sc_generate(m, &p, lat) != SC_OK) fprintf(stderr, "%s\n", sc_last_error());
 *     sc_model_free(m);
 *
 * Errors: every function that can fail returns an sc_status; on failure sc_last_error() gives a
 * one-line message naming the file, field or flag and the problem (thread-local). Functions
 * returning pointers return NULL on failure. Objects returned by sc_*_load are freed with the
 * matching sc_*_free. Internal invariant violations abort with file and line; bad input never
 * does.
 */
#ifndef SMOOTHCACHE_H
#define SMOOTHCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_VERSION "0.1.0"

typedef enum {
    SC_OK = 0,
    SC_ERR_IO = 1,          /* a file could not be opened, read or written */
    SC_ERR_FORMAT = 2,      /* a file's content is malformed or inconsistent */
    SC_ERR_ARG = 3,         /* a parameter is out of range or inconsistent */
    SC_ERR_UNSUPPORTED = 4, /* valid, but not something this engine runs (dtype, layout...) */
    SC_ERR_NOMEM = 5,       /* an allocation failed or would exceed the memory available */
    SC_ERR_NUMERIC = 6,     /* NaN or Inf appeared during sampling */
    SC_ERR_EXISTS = 7       /* an output file exists and overwriting was not allowed */
} sc_status;

/* The message of the last failure on this thread ("no error" if none). */
const char *sc_last_error(void);
/* The code of the last failure on this thread. */
sc_status sc_last_status(void);
/* Silences (1) or enables (0, default) warnings printed on stderr. */
void sc_set_quiet(int quiet);

/* ---------------------------------------------------------------- models */

typedef struct sc_model sc_model;

/* Which reference implementation's numerics the model follows (FORMATS.md 1.3, 1.5, 3.4). */
typedef enum {
    SC_ORIGIN_AUTO = 0,     /* from the checkpoint layout */
    SC_ORIGIN_ORIGINAL = 1, /* facebookresearch/DiT: freq /128, LN eps 1e-6, CFG on 3 channels */
    SC_ORIGIN_DIFFUSERS = 2 /* diffusers: freq /127, pre-MLP LN eps norm_eps, CFG on all channels */
} sc_origin;

typedef struct {
    sc_origin origin;   /* SC_ORIGIN_AUTO unless the user forces one */
    int num_heads;      /* 0 = from config or inferred; needed for single files of unusual width */
    int input_size;     /* latent side; 0 = from config or pos_embed */
    int check_weights;  /* 1 = scan weights for NaN/Inf at load */
    int no_pack;        /* 1 = keep the weights as mapped (faster load, slower sampling); by
                         * default they are reordered once into the matrix library's layout
                         * and the mapped pages are released */
} sc_load_opts;

/* Loads a DiT from a diffusers pipeline folder (model_index.json), a diffusers transformer
 * folder (config.json + safetensors, or the PyTorch diffusion_pytorch_model.bin), or a single
 * file in the original naming: safetensors, or a PyTorch .pt (read by a restricted pickle
 * reader that never executes anything). `opts` may be NULL. */
sc_status sc_model_load(const char *path, const sc_load_opts *opts, sc_model **out);
void sc_model_free(sc_model *m);

typedef struct {
    const char *layout;      /* "diffusers-pipeline", "diffusers", "original" */
    sc_origin origin;
    const char *dtype;       /* dtype of the weights in the file ("F32", "F16", "BF16", "mixed") */
    int depth, hidden, heads, head_dim, patch, input_size, in_channels, out_channels;
    int num_classes;         /* class ids 0..num_classes-1; num_classes is the null class */
    int learned_sigma;
    int tokens;              /* (input_size / patch)^2 */
    uint64_t params;         /* parameters used by the forward (shared embedders counted once) */
    uint64_t macs_per_forward; /* multiply-accumulates of one forward of one sample */
    uint64_t macs_block_attn;  /* of one block's attention sub-layer (LN excluded), one sample */
    uint64_t macs_block_mlp;   /* of one block's MLP sub-layer, one sample */
} sc_model_info;

void sc_model_get_info(const sc_model *m, sc_model_info *info);

/* Bytes of a float32 latent batch [n, C, S, S] for this model (0 on overflow). */
size_t sc_latent_bytes(const sc_model *m, int n);

/* One forward pass on a batch: x [n, in_channels, S, S], t [n] (training timesteps 0..999),
 * y [n] (class ids, num_classes = null class) -> out [n, out_channels, S, S]. */
sc_status sc_model_forward(sc_model *m, int n, const float *x, const float *t, const int *y,
                           float *out, int threads);

/* ---------------------------------------------------------------- images */

/* The SD-VAE decoder (AutoencoderKL) that turns latents into pictures: a diffusers VAE folder,
 * a pipeline folder (its vae/), or a single safetensors file (diffusers or original LDM names). */
typedef struct sc_vae sc_vae;

sc_status sc_vae_load(const char *path, sc_vae **out);
void sc_vae_free(sc_vae *v);

typedef struct {
    const char *naming;       /* "diffusers", "diffusers-legacy", "ldm" */
    int latent_channels, out_channels, blocks, layers_per_block, groups;
    int block_out[8];         /* block_out_channels, encoder order */
    int upscale;              /* image side / latent side */
    double scaling_factor;
} sc_vae_info;

void sc_vae_get_info(const sc_vae *v, sc_vae_info *info);

/* Side in pixels of the images made from this model's latents: through the VAE, or, with
 * vae == NULL, the model's own output for pixel-space models (3 channels). 0 when the model makes
 * latents and no VAE is given, or when the VAE does not take the model's latent channels. */
int sc_image_side(const sc_model *m, const sc_vae *vae);

/* latents [n, C, S, S] (as sc_generate writes them) -> rgb [n, side, side, 3] 8-bit, with
 * diffusers' mapping round(255 * clamp(x / 2 + 0.5, 0, 1)); NaN maps to 0. */
sc_status sc_decode_images(const sc_model *m, sc_vae *vae, int n, const float *latents, uint8_t *rgb, int threads);

/* ---------------------------------------------------------------- sampling */

typedef enum { SC_SAMPLER_DDIM = 0, SC_SAMPLER_IDDPM = 1, SC_SAMPLER_DPMPP2M = 2 } sc_sampler;

/* Called after each sampler step (step = 1..steps) with the current latents [n, C, S, S].
 * Return nonzero to cancel the generation. */
typedef int (*sc_progress_fn)(void *user, int step, int steps, double seconds_elapsed,
                              const float *latents);

/* Work done by one generation, per sub-layer type (index 0 = attention, 1 = MLP). A sub-layer
 * evaluation is one block's attention or MLP at one model evaluation, for the whole batch. */
typedef struct {
    long computed[2];
    long skipped[2];
    double macs;             /* multiply-accumulates executed (all rows, guidance included) */
    double macs_uncached;    /* the same generation without caching */
    double seconds;          /* wall time of the sampling loop */
    double policy_seconds;   /* of which inside the cache policy's per-step hooks (decisions,
                              * bookkeeping, predictions) */
    double setup_seconds;    /* of which setting the cache up for this generation (allocating
                              * and first touching its buffers; paid once per generation) */
} sc_cache_stats;

/* SmoothCache calibration: records how much every block's attention and MLP output changes
 * between evaluations i and i + j (j = 1..k) over uncached generations (CACHING.md 1.3). */
typedef struct sc_calibration sc_calibration;
typedef enum {
    SC_CALIB_MEAN = 0,   /* relative L1 per sample, then the mean over samples (the paper) */
    SC_CALIB_POOLED = 1  /* one relative L1 over all samples pooled (the released calibrator) */
} sc_calib_avg;

sc_status sc_calibration_new(int k, sc_calib_avg avg, sc_calibration **out);
void sc_calibration_free(sc_calibration *c);
/* Writes the error curves (per type and per block) as JSON; refuses to overwrite unless force. */
sc_status sc_calibration_save(const sc_calibration *c, const char *path, int force);
/* Samples observed so far. */
int sc_calibration_samples(const sc_calibration *c);

typedef struct {
    const int *classes;      /* n_images class ids in 0..num_classes-1 */
    int n_images;
    uint64_t seed;           /* image i uses seed + i (docs/NUMERICS.md) */
    int steps;               /* 1..1000 */
    sc_sampler sampler;
    float cfg;               /* guidance scale >= 1; 1 disables guidance */
    int threads;             /* 0 = all online CPUs */
    const float *latents_in; /* optional initial latent [n, C, S, S]; NULL = from the seed */
    int check_finite;        /* 1 (default): stop with SC_ERR_NUMERIC on NaN/Inf in a latent */
    sc_progress_fn progress;
    void *progress_user;
    /* Feature caching: "none" (or NULL), "fora:n=N", "smooth:schedule=FILE",
     * "smooth:errors=FILE,alpha=A[,per_block=1]". Invalid specs fail with SC_ERR_ARG. */
    const char *cache;
    sc_cache_stats *stats;       /* optional: filled with the work done */
    sc_calibration *calibration; /* optional: observe this (uncached) generation */
} sc_gen_params;

sc_gen_params sc_gen_params_default(void);

/* Runs the sampler; writes the final latents [n, C, S, S] (float32) to `latents_out`. */
sc_status sc_generate(sc_model *m, const sc_gen_params *p, float *latents_out);

/* Integer model timesteps, in call order, that `sampler` uses for `steps` steps with this
 * model's scheduler configuration. Writes `steps` entries. */
sc_status sc_sampler_timesteps(const sc_model *m, sc_sampler sampler, int steps, int *out);

const char *sc_sampler_name(sc_sampler s);

#ifdef __cplusplus
}
#endif
#endif
