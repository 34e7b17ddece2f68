/* smoothcache: Diffusion Transformer (DiT) sampling in C, with training-free feature caching.
 *
 * Usage, a whole program (scripts/test_install.sh builds it against an installed copy with
 * `cc example.c $(pkg-config --cflags --libs smoothcache)` and runs it on the demo model that
 * `make install` puts in PREFIX/share/smoothcache/models/demo):
 *
 *     #include <stdio.h>
 *     #include <stdlib.h>
 *     #include <smoothcache.h>
 *     #include <smoothcache_tools.h>
 *
 *     int main(int argc, char **argv) // example MODEL OUT.npy: two samples' latents
 *     {
 *         sc_model *m;                                // MODEL: a folder or file, e.g. "DiT-XL-2-256/"
 *         if (argc != 3 || sc_model_load(argv[1], NULL, &m) != SC_OK) {
 *             fprintf(stderr, "%s\n", argc != 3 ? "usage: example MODEL OUT.npy" : sc_last_error());
 *             return 1;
 *         }
 *         sc_model_info info;
 *         sc_model_get_info(m, &info);
 *         int classes[2] = {1, 2};
 *         sc_cond c = {.n = 2, .classes = classes};   // what to generate: 2 samples
 *         sc_gen_params p = sc_gen_params_default();  // DDIM, guidance 4
 *         p.cond = &c;
 *         p.seed = 0;
 *         p.steps = 10;
 *         p.cache = "fora:n=2";                       // optional feature caching, or for instance
 *                                                     // "smooth:schedule=schedule.json"
 *         uint64_t shape[1 + SC_MAX_RANK] = {2};      // [2, C, H, W] float32
 *         for (int i = 0; i < info.latent.rank; i++) shape[1 + i] = (uint64_t)info.latent.dims[i];
 *         float *lat = malloc(sc_latent_bytes(m, 2));
 *         sc_status s = lat ? sc_generate(m, &p, lat) : SC_ERR_NOMEM;
 *         if (s == SC_OK) s = sc_npy_write(argv[2], lat, 1 + info.latent.rank, shape, 1);
 *         if (s != SC_OK) fprintf(stderr, "%s\n", lat ? sc_last_error() : "out of memory");
 *         free(lat);
 *         sc_model_free(m);
 *         return s == SC_OK ? 0 : 1;
 *     }
 *
 * A model belongs to a family (DiT today; the family is detected from the checkpoint). What it is
 * conditioned on comes in an sc_cond (class ids, text-token embeddings with their mask, pooled
 * vectors, named scalars); each family takes what it needs and refuses the rest. Latents have a
 * shape per sample (sc_shape: [C, H, W] for images, [C, F, H, W] for video, [C, L] for audio).
 *
 * Errors: every function that can fail returns an sc_status; on failure sc_last_error() gives a
 * one-line message naming the file, field or option and the problem (thread-local). Functions
 * returning pointers return NULL on failure. Objects returned by sc_*_load / sc_*_new are freed
 * with the matching sc_*_free. Internal invariant violations abort with file and line; bad input
 * never does. File and measurement helpers (.npy, .npz, PNG, PSNR...) are in smoothcache_tools.h.
 */
#ifndef SMOOTHCACHE_H
#define SMOOTHCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SC_VERSION "0.2.0"

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

/* ---------------------------------------------------------------- shapes and conditioning */

#define SC_MAX_RANK 4

/* The shape of one sample's latent, without the batch: [C, H, W] (images), [C, F, H, W] (video),
 * [C, L] (audio). rank 0 means "the model's own" where a shape is optional. */
typedef struct {
    int rank;
    int dims[SC_MAX_RANK];
} sc_shape;

#define SC_MAX_SCALARS 8

/* A named number per sample ("seconds_start", "seconds_total", "fps"). */
typedef struct {
    const char *name;
    const float *values; /* [n] */
} sc_scalar;

/* What the samples are conditioned on. Fill what the model's family takes (sc_model_info says
 * which); the rest stays NULL / 0. The negative side of guidance is the family's own when not
 * given (DiT: the null class). */
typedef struct {
    int n;                    /* samples */
    const int *classes;       /* [n] class ids (class-conditional families) */
    const float *text;        /* [n, text_len, text_dim] text-token embeddings */
    const int *text_mask;     /* [n, text_len]: 1 = a token, 0 = padding; NULL = all tokens */
    const float *neg_text;    /* the negative prompt's, same layout, or NULL */
    const int *neg_text_mask;
    int text_len, text_dim;
    const float *pooled;      /* [n, pooled_dim] pooled embeddings, or NULL */
    const float *neg_pooled;
    int pooled_dim;
    sc_scalar scalars[SC_MAX_SCALARS];
    int n_scalars;
} sc_cond;

/* ---------------------------------------------------------------- models */

typedef struct sc_model sc_model;

/* Which reference implementation's numerics a DiT follows (docs/FORMATS.md). */
typedef enum {
    SC_ORIGIN_AUTO = 0,     /* from the checkpoint layout */
    SC_ORIGIN_ORIGINAL = 1, /* facebookresearch/DiT: freq /128, LN eps 1e-6, CFG on 3 channels */
    SC_ORIGIN_DIFFUSERS = 2 /* diffusers: freq /127, pre-MLP LN eps norm_eps, CFG on all channels */
} sc_origin;

/* The compute precision of a model's matrix products (docs/PRECISION.md). Activations, norms,
 * softmax, the residual stream and the sampler stay float32 at every precision. */
typedef enum {
    SC_DTYPE_AUTO = 0, /* text encoders whose file holds 16-bit weights: bf16 (T5-XXL fits so);
                        * everything else float32, whatever its file holds */
    SC_DTYPE_F32 = 1,  /* float32 products (oneDNN) */
    SC_DTYPE_BF16 = 2, /* bf16 inputs, float32 accumulation; weights kept in bf16 (half the memory) */
    SC_DTYPE_INT8 = 3  /* W8A8: int8 weights per output channel, int8 activations per token, int32
                        * accumulation; conditioning projections and attention in bf16 */
} sc_dtype;

/* "f32", "bf16", "int8" ("auto" for SC_DTYPE_AUTO); NULL outside the enum. */
const char *sc_dtype_name(sc_dtype d);
/* The dtype a name means ("f32"/"float32"/"fp32", "bf16"/"bfloat16", "int8", "auto");
 * SC_ERR_ARG for anything else. */
sc_status sc_dtype_parse(const char *name, sc_dtype *out);
/* 1 when this CPU has fast kernels for d (bf16: AVX-512 with BF16 or BW; int8: AVX-512 VNNI or
 * BW), 0 when loading at that precision would fail with SC_ERR_UNSUPPORTED. */
int sc_dtype_supported(sc_dtype d);

typedef struct {
    sc_origin origin;   /* SC_ORIGIN_AUTO unless the user forces one */
    int num_heads;      /* 0 = from config or inferred; needed for single files of unusual width */
    int input_size;     /* latent side; 0 = from config or the position table */
    int check_weights;  /* 1 = scan weights for NaN/Inf at load */
    int no_pack;        /* 1 = keep float32 weights as mapped (faster load, slower sampling); by
                         * default they are prepared once in the backend's layout and the mapped
                         * pages are released. bf16 and int8 always prepare their copy. */
    sc_dtype dtype;     /* the compute precision; SC_DTYPE_AUTO (0) by default */
} sc_load_opts;

/* Loads a model from a diffusers pipeline folder (model_index.json: its transformer/ and the
 * scheduler/ configuration), a diffusers model folder (config.json + safetensors, sharded or not,
 * or PyTorch diffusion_pytorch_model.bin), or a single file in a family's original naming:
 * safetensors, or a PyTorch .pt (read by a restricted pickle reader that never executes
 * anything). The family is detected from the config's _class_name and the tensor names.
 * `opts` may be NULL. */
sc_status sc_model_load(const char *path, const sc_load_opts *opts, sc_model **out);
void sc_model_free(sc_model *m);

#define SC_MAX_COMPONENTS 8

typedef struct {
    const char *family;      /* "dit" */
    const char *layout;      /* "diffusers-pipeline", "diffusers", "original" */
    const char *numerics;    /* one line: whose numerics the model follows */
    sc_origin origin;        /* DiT: the reference whose numerics it follows */
    const char *dtype;       /* dtype of the weights in the file ("F32", "F16", "BF16", "mixed") */
    int depth, hidden, heads, head_dim, patch;
    sc_shape latent;         /* one sample's latent */
    int in_channels, out_channels;
    int num_classes;         /* class-conditional families: ids 0..num_classes-1 (num_classes is
                              * the null class); 0 otherwise */
    int takes_text;          /* 1 when the family is conditioned on text embeddings */
    int text_dim;            /* their width (PixArt: caption_channels, the T5 width); 0 otherwise */
    int text_len;            /* the tokens its pipeline pads prompts to (PixArt-alpha 120, Sigma 300) */
    int default_steps;       /* what its pipeline does unless told otherwise: steps (DiT 50, PixArt 20), */
    float default_cfg;       /* guidance scale (DiT 4, PixArt 4.5) */
    int default_sampler;     /* and sampler (an sc_sampler): the one its scheduler configuration names,
                              * else the family's (DiT ddim, PixArt dpmpp2m) */
    int learned_sigma;
    int tokens;
    uint64_t params;         /* parameters used by the forward (shared embedders counted once) */
    uint64_t macs_per_forward; /* multiply-accumulates of one forward of one sample */
    int n_components;        /* the cacheable sub-layers of every block */
    const char *components[SC_MAX_COMPONENTS];       /* their names: "attn", "mlp" */
    uint64_t macs_component[SC_MAX_COMPONENTS];      /* one block's, one sample */
    const char *scheduler;   /* where the scheduler configuration came from: a file, or "default" */
    const char *compute_dtype;  /* "f32", "bf16", "int8": the precision its products run in */
    uint64_t weight_bytes;      /* bytes the weights take in memory now (packed copies, or mapped
                                 * float32 pages when kept as mapped) */
    const char *weights_source; /* "mapped" (float32 views of the file), "converted" (copies made
                                 * at load: packed or another precision), "mixed" */
} sc_model_info;

void sc_model_get_info(const sc_model *m, sc_model_info *info);

/* Bytes of a float32 latent batch [n, latent] for this model's own shape (0 on overflow). */
size_t sc_latent_bytes(const sc_model *m, int n);

/* One forward pass on a batch of rows: x [rows.n, latent], t [rows.n] (training timesteps
 * 0..999), rows: the conditioning of each row as the model sees it (DiT: class ids, num_classes
 * being the null class) -> out [rows.n, out_channels, ...latent spatial dims]. */
sc_status sc_model_forward(sc_model *m, const sc_cond *rows, const float *x, const float *t, float *out,
                           int threads);
/* The same for latents of another shape the model runs (PixArt: any multiple of its patch, the
 * aspect-ratio bins): x [rows.n, shape], out [rows.n, out_channels, shape dims 1..]; NULL or rank
 * 0 is the model's own. */
sc_status sc_model_forward_shape(sc_model *m, const sc_cond *rows, const sc_shape *shape, const float *x,
                                 const float *t, float *out, int threads);

/* 1 when the model was loaded from a pipeline folder that has this component's folder
 * ("vae", "text_encoder"...), whose path is then written to `path`; 0 otherwise. */
int sc_model_component_path(const sc_model *m, const char *component, char *path, size_t cap);

/* Rewrites a PyTorch checkpoint (torch.save zip: .pt, .pth, diffusers .bin) or a safetensors file
 * as safetensors: the same tensor names, shapes, dtypes and bytes. *tensors (may be NULL)
 * receives how many were written. */
sc_status sc_convert_checkpoint(const char *in, const char *out, int force, size_t *tensors);
/* The same with the F32, F16 and BF16 tensors written in dtype: SC_DTYPE_BF16 (rounded to
 * nearest even: half the bytes of float32)
 * or SC_DTYPE_F32 (exact); SC_DTYPE_AUTO keeps every dtype as stored, and other dtypes (F64,
 * integers) are always kept. SC_DTYPE_INT8 is refused: int8 weights are made at load, per output
 * channel, not stored. */
sc_status sc_convert_checkpoint_dtype(const char *in, const char *out, int force, sc_dtype dtype, size_t *tensors);

/* ---------------------------------------------------------------- decoders and pictures */

/* The SD-VAE decoder (AutoencoderKL) that turns latents into pictures: a diffusers VAE folder,
 * a pipeline folder (its vae/), or a single file (diffusers or original LDM names; safetensors or
 * PyTorch .bin/.pt). */
typedef struct sc_vae sc_vae;

sc_status sc_vae_load(const char *path, sc_vae **out);
/* The same with options: only opts->dtype applies, to its convolutions (bf16 and int8 both run
 * them in bf16; NULL, AUTO or F32: float32, whatever the file holds). */
sc_status sc_vae_load_opts(const char *path, const sc_load_opts *opts, sc_vae **out);
void sc_vae_free(sc_vae *v);

typedef struct {
    const char *naming;       /* "diffusers", "diffusers-legacy", "ldm" */
    int latent_channels, out_channels, blocks, layers_per_block, groups;
    int block_out[8];         /* block_out_channels, encoder order */
    int upscale;              /* image side / latent side (audio: samples per latent frame) */
    double scaling_factor;
    int sample_rate;          /* audio decoders (Oobleck): samples per second; 0 for pictures */
} sc_vae_info;

void sc_vae_get_info(const sc_vae *v, sc_vae_info *info);

/* Side in pixels of the images made from this model's latents: through the VAE, or, with
 * vae == NULL, the model's own output for pixel-space models (3 channels). 0 when the model makes
 * latents and no VAE is given, or when the VAE does not take the model's latent channels. */
int sc_image_side(const sc_model *m, const sc_vae *vae);

/* latents [n, latent] (as sc_generate writes them) -> rgb [n, side, side, 3] 8-bit, with
 * diffusers' mapping round(255 * clamp(x / 2 + 0.5, 0, 1)); NaN maps to 0. */
sc_status sc_decode_images(const sc_model *m, sc_vae *vae, int n, const float *latents, uint8_t *rgb, int threads);

/* Audio decoders (Oobleck): latents [n, C, frames] (as sc_generate writes them) -> waveforms
 * [n, audio_channels, sc_audio_length(vae, frames)] float32, nominally in [-1, 1], not clamped.
 * SC_ERR_ARG for a picture decoder or latents of another channel count. */
int64_t sc_audio_length(const sc_vae *vae, int64_t frames);
sc_status sc_decode_audio(sc_vae *vae, int n, int channels, int64_t frames, const float *latents, float *wave,
                          int threads);

/* ---------------------------------------------------------------- sampling */

/* ddim, iddpm, dpmpp2m run on a discrete (beta) schedule; k-euler and k-dpmpp2m are k-diffusion's
 * samplers on continuous sigmas (Karras et al.'s spacing), for discrete models too; flow-euler is
 * flow matching's Euler step, for models that predict a velocity; k-dpmpp3m-sde is k-diffusion's
 * DPM-Solver++(3M) SDE on a sigma schedule (Stable Audio: v-prediction, polyexponential sigmas), as
 * stable-audio-tools samples; cosine-dpmpp2m-sde is diffusers' CosineDPMSolverMultistepScheduler
 * (DPM-Solver++(2M) SDE on the same kind of sigmas), what the diffusers Stable Audio pipeline
 * samples with. */
typedef enum {
    SC_SAMPLER_DDIM = 0,
    SC_SAMPLER_IDDPM = 1,
    SC_SAMPLER_DPMPP2M = 2,
    SC_SAMPLER_K_EULER = 3,
    SC_SAMPLER_K_DPMPP2M = 4,
    SC_SAMPLER_FLOW_EULER = 5,
    SC_SAMPLER_K_DPMPP3M_SDE = 6,
    SC_SAMPLER_COSINE_DPMPP2M_SDE = 7
} sc_sampler;

#define SC_SAMPLER_COUNT 8

/* Called after each sampler step (step = 1..steps) with the current latents [n, latent].
 * Return nonzero to cancel the generation. */
typedef int (*sc_progress_fn)(void *user, int step, int steps, double seconds_elapsed, const float *latents);

/* Work done by one generation, per component of the model's blocks (sc_model_info.components).
 * A component evaluation is one block's component at one model evaluation, for the whole batch. */
typedef struct {
    int n_components;
    const char *components[SC_MAX_COMPONENTS];
    long computed[SC_MAX_COMPONENTS];
    long skipped[SC_MAX_COMPONENTS];
    double macs;             /* multiply-accumulates executed (all rows, guidance included) */
    double macs_uncached;    /* the same generation without caching */
    double seconds;          /* wall time of the sampling loop */
    double policy_seconds;   /* of which inside the cache policy's per-step hooks (decisions,
                              * bookkeeping, predictions) */
    double setup_seconds;    /* of which setting the cache up for this generation (allocating
                              * and first touching its buffers; paid once per generation) */
} sc_cache_stats;

/* A calibration: uncached generations observed for a cache policy that needs measured data
 * (SmoothCache's error curves, TeaCache's rescaling polynomial, MagCache's magnitude ratios). */
typedef struct sc_calibration sc_calibration;

typedef struct {
    const sc_cond *cond;     /* what to generate: cond->n samples */
    sc_shape shape;          /* one sample's latent; rank 0 = the model's own */
    uint64_t seed;           /* sample i uses seed + i (docs/NUMERICS.md) */
    int steps;               /* 1..1000 */
    sc_sampler sampler;
    float cfg;               /* guidance scale >= 1; 1 disables guidance */
    int threads;             /* 0 = all online CPUs */
    const float *latents_in; /* optional initial latent [n, latent]; NULL = from the seed */
    int check_finite;        /* 1 (default): stop with SC_ERR_NUMERIC on NaN/Inf in a latent */
    sc_progress_fn progress;
    void *progress_user;
    /* Feature caching: a policy and its options, "none" (or NULL), "fora:n=N",
     * "smooth:schedule=FILE", ... (sc_policy_at lists them). Invalid specs fail with SC_ERR_ARG. */
    const char *cache;
    sc_cache_stats *stats;       /* optional: filled with the work done */
    sc_calibration *calibration; /* optional: observe this (uncached) generation */
    /* Optional: the unit noise a stochastic sampler adds, [steps, n, latent] (step k's at
     * k * n * latent; the last step's is never read): to follow a reference's trajectory exactly.
     * NULL: the engine's own, seeded per sample (docs/NUMERICS.md). */
    const float *noise_in;
} sc_gen_params;

sc_gen_params sc_gen_params_default(void);

/* Runs the sampler; writes the final latents [n, latent] (float32) to `latents_out`. */
sc_status sc_generate(sc_model *m, const sc_gen_params *p, float *latents_out);

/* Integer model timesteps, in call order, that `sampler` uses for `steps` steps with this
 * model's scheduler configuration. Writes `steps` entries. */
sc_status sc_sampler_timesteps(const sc_model *m, sc_sampler sampler, int steps, int *out);

const char *sc_sampler_name(sc_sampler s);
/* "ddim" -> SC_SAMPLER_DDIM; -1 for an unknown name. */
int sc_sampler_from_name(const char *name);

/* Class ids for n samples drawn uniformly from 0..num_classes-1 by a generator seeded with
 * `seed` (without modulo bias; docs/NUMERICS.md): what `smoothcache sample` uses. */
void sc_draw_classes(uint64_t seed, int num_classes, long n, int *out);

/* ---------------------------------------------------------------- cache policies */

typedef struct {
    const char *name;        /* "smooth" */
    const char *about;       /* one line */
    const char *options;     /* its --cache options, one line */
    const char *calibration; /* what `calibrate --for NAME` measures for it, or NULL when it needs
                              * no calibration */
    const char *calibration_options;
    int calibration_samples; /* the default number of calibration samples */
} sc_policy_desc;

/* The i-th registered policy (0..), 0 past the end. */
int sc_policy_at(int i, sc_policy_desc *out);

/* A calibration for policy spec "NAME[:key=value,...]" (options of its calibration, e.g.
 * "smooth:k=3,averaging=pooled"). Pass it as sc_gen_params.calibration to observe uncached
 * generations, then save what was measured. */
sc_status sc_calibration_new(const char *spec, sc_calibration **out);
void sc_calibration_free(sc_calibration *c);
/* Samples observed so far. */
int sc_calibration_samples(const sc_calibration *c);
/* Splitting a calibration's samples over processes (calibrate under mpirun): export what this
 * process accumulated as n doubles (out NULL: n only; 0 before any generation), and absorb
 * another process's export into a calibration that has observed at least one generation of the
 * same shape; the result equals one process that observed every sample (sums to rounding). */
sc_status sc_calibration_export(const sc_calibration *c, double *out, size_t cap, size_t *n);
sc_status sc_calibration_absorb(sc_calibration *c, const double *in, size_t n);
/* Writes what was measured (JSON; its "_meta" records the model, settings, samples and classes
 * of the observed generations, and their conditioning numbers such as a clip's seconds_total: the
 * value, or {"min", "max"} when they differed; absorb carries classes, not these, so processes
 * that split a calibration are given the same ones); refuses to overwrite unless force. */
sc_status sc_calibration_save(const sc_calibration *c, const char *path, int force);
/* A one-line warning about the result worth reading before using it (a TeaCache fit that turns
 * negative inside the observed range), or NULL. Valid until the calibration is freed. */
const char *sc_calibration_warning(const sc_calibration *c);

/* ---------------------------------------------------------------- figures */

#define SC_FIGURE_MAX_SERIES 12

typedef struct {
    const char *name;     /* legend text; NULL: not in the legend */
    const double *x, *y;  /* n points; NaN breaks the line */
    int n;
    int palette;          /* 0: by position; 1..12: that colour (series may share one) */
    int dashed, markers;
    const char *const *labels; /* n texts written beside the points (a sweep's settings), or NULL */
} sc_series;

/* A line chart as data: what a calibration measured, what a schedule was made from. */
typedef struct {
    const char *title, *x_label, *y_label;
    int n_series;
    sc_series series[SC_FIGURE_MAX_SERIES];
    void *storage;        /* the library's, when it made the figure: free with sc_figure_free */
} sc_figure;

/* The data of a calibration as a figure (SmoothCache: error against evaluation, per component and
 * lag; TeaCache: output change against input change with the fit; MagCache: the ratios). */
sc_status sc_calibration_figure(const sc_calibration *c, sc_figure *out);
void sc_figure_free(sc_figure *f);
/* Draws a figure as a PNG (atomic; refuses to overwrite unless force). */
sc_status sc_figure_write_png(const sc_figure *f, const char *path, int force);

/* ---------------------------------------------------------------- schedules */

typedef enum { SC_SOLVER_GREEDY = 0, SC_SOLVER_DP = 1 } sc_solver;

typedef struct {
    double alpha;            /* greedy: reuse while the calibrated error is <= alpha (NaN: use
                              * target_macs) */
    double target_macs;      /* the most aggressive schedule within this fraction of the uncached
                              * MACs (NaN: use alpha); needed by the DP solver */
    int per_block;           /* one schedule per block from its own curves */
    sc_solver solver;
} sc_schedule_opts;

typedef struct {
    double alpha;            /* the threshold used (greedy) */
    int computed;            /* DP: computations per block and component */
    double mac_ratio;        /* executed / uncached MACs; NaN when the file has no MAC counts */
    int depth, steps, n_components;
    char components[SC_MAX_COMPONENTS][32];  /* the components of the file's curves */
    long computes[SC_MAX_COMPONENTS]; /* computed entries per component, over all blocks */
} sc_schedule_summary;

/* Makes a SmoothCache schedule from calibrated error curves (a file sc_calibration_save wrote)
 * and writes it as the official JSON (component keys, "-<block>" per block). `summary` may be NULL. */
sc_status sc_schedule_make(const char *errors_path, const sc_schedule_opts *o, const char *out_path, int force,
                           sc_schedule_summary *summary);

/* ---------------------------------------------------------------- text */

/* T5's tokenizer (SentencePiece unigram) from tokenizer.json, spiece.model, a folder holding
 * either, or a pipeline folder (its tokenizer/). docs/TEXT.md has the rules. */
typedef struct sc_tokenizer sc_tokenizer;

typedef enum {
    SC_TOKENIZER_TRANSFORMERS = 0,  /* what the pipelines run (transformers' T5Tokenizer on
                                     * Hugging Face tokenizers): special tokens such as
                                     * <extra_id_5> in the text are split out; the default */
    SC_TOKENIZER_SENTENCEPIECE = 1  /* the sentencepiece library's encode of spiece.model, plus
                                     * </s>: every character of the text is text */
} sc_tokenizer_semantics;

typedef struct {
    int vocab_size;          /* every id is below it */
    int pad_id, eos_id;
    int model_max_length;    /* tokenizer_config.json's, 0 when it states none */
    const char *path;        /* the file read (valid while the tokenizer lives) */
    const char *semantics;   /* "transformers" or "sentencepiece" */
} sc_tokenizer_info;

sc_status sc_tokenizer_load(const char *path, sc_tokenizer_semantics sem, sc_tokenizer **out);
void sc_tokenizer_free(sc_tokenizer *t);
void sc_tokenizer_get_info(const sc_tokenizer *t, sc_tokenizer_info *info);

/* The ids of `len` bytes of UTF-8 text (invalid UTF-8 is SC_ERR_ARG), </s> included.
 * max_length > 0: as the pipelines call the tokenizer (truncation, padding to max_length): the
 * pieces are cut so that they and </s> fit, then <pad> fills ids up to max_length entries and
 * mask (may be NULL) holds 1 for tokens, 0 for padding; cap must be >= max_length.
 * max_length == 0: neither; up to cap ids (SC_ERR_ARG naming the count needed if more).
 * *n: the tokens before any padding. */
sc_status sc_tokenize(const sc_tokenizer *t, const char *text, size_t len, int max_length, int32_t *ids,
                      int32_t *mask, int cap, int *n);
/* The text of id (a piece, or a special token), or NULL outside the vocabulary. */
const char *sc_tokenizer_piece(const sc_tokenizer *t, int id);

/* A text encoder (T5's: transformers' T5EncoderModel) from its folder (config.json and
 * model.safetensors, shards or pytorch_model.bin) or a pipeline folder (its text_encoder/). */
typedef struct sc_text_encoder sc_text_encoder;

typedef struct {
    const char *family;      /* "t5" */
    const char *variant;     /* "t5 (gated-gelu)" */
    int vocab_size, width, depth;
    uint64_t params;
    const char *dtype;       /* of the weights in the file */
    const char *path;
    const char *compute_dtype;  /* "f32", "bf16", "int8" */
    uint64_t weight_bytes;      /* bytes its weights take in memory */
} sc_text_encoder_info;

sc_status sc_text_encoder_load(const char *path, sc_text_encoder **out);
/* The same with options: only opts->dtype applies (NULL = AUTO: bf16 when the file holds 16-bit
 * weights, float32 otherwise). */
sc_status sc_text_encoder_load_opts(const char *path, const sc_load_opts *opts, sc_text_encoder **out);
void sc_text_encoder_free(sc_text_encoder *e);
void sc_text_encoder_get_info(const sc_text_encoder *e, sc_text_encoder_info *info);
/* ids [n, L] and mask [n, L] (1 token, 0 padding; NULL: all tokens), as sc_tokenize makes them
 * -> out [n, L, width] float32. Padded positions are computed as the reference computes them;
 * pipelines mask or zero them. threads 0: all cores. */
sc_status sc_text_encode(sc_text_encoder *e, int n, int L, const int32_t *ids, const int32_t *mask, float *out,
                         int threads);

/* The text conditioning a text-to-image model's pipeline makes of prompts (PixArt: lower-cased
 * and stripped, tokenized and padded to max_length tokens, encoded with the mask; docs/FAMILIES.md):
 * embeds [n, L, width] and mask [n, L] (1 token, 0 padding), L = max_length, or the pipeline's
 * (sc_model_info.text_len) when 0. Fill sc_cond.text / text_mask with them, and neg_text /
 * neg_text_mask with the negative prompt's ("" as the pipelines do) for guidance. */
sc_status sc_encode_prompts(const sc_model *m, const sc_tokenizer *t, sc_text_encoder *e, int n,
                            const char *const *prompts, int max_length, float *embeds, int32_t *mask, int threads);

#ifdef __cplusplus
}
#endif
#endif
