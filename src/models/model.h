/* The model-family interface: what every family (a folder under src/models/) gives the generic
 * runner (src/pipeline/forward.c), the cache layer and the API.
 *
 * A family is a table of functions (model_family) plus two structs it extends: `model` (the
 * loaded network: its shape as the runner sees it, its components, its backend) and `model_ws`
 * (the activations of one batch size). The runner calls
 *
 *     embed(x, t, cond)                           the residual stream h [rows * tokens, hidden]
 *     for l in 0..depth-1:
 *         block(l)                                block l's modulation (gates, shifts, scales)
 *         for each component k:                   compute or reuse (the cache decides)
 *             component(l, k, buf)                buf [rows * tokens, hidden]: the raw output,
 *                                                 before its gate and the residual add
 *             h += gate_k * buf, or h += buf      as the component declares (gate index or -1)
 *     final(out)                                  out [rows, out_channels, ...latent spatial dims]
 *
 * and asks signals the step-level cache policies need (block l's modulated input) through
 * modulated_input(). Nothing outside src/models/ knows a family's weights or kernels, and nothing
 * shared says `if (family == ...)`: a new family is a folder and a line in registry.c
 * (docs/ARCHITECTURE.md, "Adding a model family"). */
#ifndef SC_MODELS_MODEL_H
#define SC_MODELS_MODEL_H

#include <jansson.h>
#include <stdint.h>

#include "backend/backend.h"
#include "io/weights.h"
#include "smoothcache.h"

#define MODEL_MAX_COMPONENTS SC_MAX_COMPONENTS

/* What a component computes (policies that treat one kind apart ask for it: FasterCache
 * extrapolates self-attention only). */
typedef enum { ROLE_SELF_ATTENTION, ROLE_CROSS_ATTENTION, ROLE_MLP } model_role;

/* A sub-layer of every block whose raw output a cache policy may store and reuse. */
typedef struct {
    const char *name;    /* the key of schedules, calibration curves and statistics: "attn" */
    const char *aliases; /* other schedule keys that mean it, space-separated: "attn1" (diffusers) */
    model_role role;
    int gate;            /* index of its gate vector among the block's modulation rows (DiT: 2 for
                          * attention, 5 for the MLP): h += gate * out; -1: h += out, ungated */
} model_component;

/* What the model takes as its time input: the discrete timestep of a DDPM schedule (0 .. its
 * training steps; DiT, PixArt), or the continuous atan(sigma) 2 / pi of a sigma schedule (Stable
 * Audio, trained with k-diffusion's v-objective). */
typedef enum { MODEL_TIME_DISCRETE = 0, MODEL_TIME_SIGMA_ATAN = 1 } model_time_input;

/* What the model predicts (the sampler converts it). */
typedef enum { PRED_EPSILON, PRED_V, PRED_FLOW } model_prediction;

/* A loaded network. Families extend it (the family's struct starts with a `model`). */
typedef struct model {
    const struct model_family *family;
    const backend *be;
    /* The residual stream the runner and the cache see: [rows * tokens, hidden]. */
    int depth, tokens, hidden;
    int n_comp;
    const model_component *comp;
    /* One sample: the latent it takes and the output it gives, [out_channels, ...latent dims 1..]. */
    sc_shape latent;
    int out_channels;
    int cfg_channels;      /* the leading output channels guidance combines; the others (and the
                            * variance channels of learned-sigma models) come from the cond row */
    int learned_sigma;     /* out_channels = 2 C: channels C..2C are the variance interpolation */
    model_prediction prediction;
    uint64_t macs_forward; /* multiply-accumulates of one forward of one sample */
    uint64_t macs_comp[MODEL_MAX_COMPONENTS]; /* of one block's component k, one sample */
    uint64_t params;
    char layout[32];       /* "diffusers", "original" */
    char dtype[8];         /* of the weights in the file */
    uint64_t weight_bytes; /* bytes its weights take in memory once loaded (family-counted) */
    char weights_source[12]; /* "mapped", "converted", "mixed" */
    char path[4096];
    /* Buffers the model owns (converted weights, tables), freed by model_release(). */
    void **owned;
    int n_owned, cap_owned;
    weights *files;        /* kept open: float32 weights are views into their mappings */
} model;

/* The activations of one batch size. Families extend it. */
typedef struct model_ws {
    int capacity;          /* rows it was made for */
    int rows;              /* rows of the current evaluation (<= capacity) */
    sc_shape latent;       /* the latent shape of one row it was made for (the model's own, or
                            * another the family accepts: PixArt's aspect ratios) */
    int tokens;            /* the residual stream's tokens per row at that shape */
    float *h;              /* [capacity * tokens, hidden] residual stream */
    float *sub;            /* [capacity * tokens, hidden] scratch for a component's raw output */
    const float *mod;      /* [rows, mod_stride] the current block's modulation (set by block()) */
    int mod_stride;
    be_ctx *ctx;
} model_ws;

/* The request's conditioning as rows of the batch: [cond n; uncond n] when guided, else [cond n].
 * Families fill what they use; the runner passes it to embed() untouched. */
typedef struct {
    int rows;
    int *classes;          /* [rows] class ids (the null class for unconditional rows) */
    float *text;           /* [rows, text_len, text_dim] text-token embeddings */
    float *text_bias;      /* [rows, text_len] added to attention scores: 0 token, large negative pad */
    int *text_mask;        /* [rows, text_len] 1 token, 0 padding (families that zero padding in the
                            * tokens instead of masking the scores: Stable Audio) */
    int text_len, text_dim;
    float *extra;          /* [rows, n_extra] per-row numbers a family takes (PixArt: height, width,
                            * aspect ratio); NULL when none */
    int n_extra;
} model_cond;

/* What detection sees of a checkpoint. */
typedef struct {
    const char *path;       /* the folder or file the user named (or a pipeline's component folder) */
    const json_t *config;   /* its config.json, or NULL for a lone file */
    const char *config_path;
    const char *class_name; /* config's _class_name, or NULL */
    weights *w;             /* a lone file's weights (names visible; nothing marked used); NULL for a
                             * folder, whose weights the family opens once its config is validated */
    const char *pipeline;   /* the diffusers pipeline folder it came from (its other components sit
                             * beside it: Stable Audio's projection_model/), or NULL */
} model_probe;

typedef struct model_family {
    const char *name;        /* "dit" */
    const char *about;       /* one line */
    const char *class_names; /* the diffusers classes it loads, for messages: "DiTTransformer2DModel" */
    const char *looks_for;   /* what detection recognises, for the message when nothing does */
    /* How surely the checkpoint is this family's: 0 not at all .. 100 certain. The registry loads
     * the highest score; a low score still lets load() explain what is wrong. */
    int (*detect)(const model_probe *p);
    /* Loads; takes over p->w (closes it on failure too), or opens the folder's weights itself
     * (weights_open_folder(p->path)) after validating p->config. */
    sc_status (*load)(const model_probe *p, const sc_load_opts *o, model **out);
    void (*free)(model *m);
    /* Family-specific fields of the public description (the generic ones are filled already). */
    void (*describe)(const model *m, sc_model_info *info);
    /* Validates the request's conditioning (what this family takes, its ranges) and builds the
     * rows: guided = 1 adds the unconditional rows; raw = 1 takes c as the rows themselves
     * (sc_model_forward: the null class allowed). */
    sc_status (*conditioning)(const model *m, const sc_cond *c, int guided, int raw, model_cond *rows);
    /* 1 when the family runs latents of this shape (DiT: its own size only). */
    int (*accepts_shape)(const model *m, const sc_shape *s);

    /* Activations for `rows` rows of latents of `shape` (NULL or rank 0: the model's own; any
     * other must have passed accepts_shape). */
    sc_status (*ws_create)(const model *m, int rows, const sc_shape *shape, model_ws **out);
    void (*ws_free)(const model *m, model_ws *ws);
    /* x [rows, latent], t [rows] -> ws->h and the conditioning of ws->rows rows. */
    sc_status (*embed)(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c);
    /* Block l's modulation into ws->mod (called before its components and its boundary). */
    sc_status (*block)(const model *m, model_ws *ws, int l);
    /* out [rows * tokens, hidden] = component k of block l on ws->h, before gate and residual. */
    sc_status (*component)(const model *m, model_ws *ws, int l, int k, float *out);
    /* out [rows, out_channels, ...] from ws->h. */
    sc_status (*final)(const model *m, model_ws *ws, float *out);
    /* out [rows * tokens, hidden] = block l's modulated input (what its first component sees);
     * NULL when the family has none. Called after block(l). */
    sc_status (*modulated_input)(const model *m, model_ws *ws, int l, float *out);

    /* What its pipelines do by default: steps, guidance scale, and the sampler (an sc_sampler)
     * when the pipeline folder's scheduler names none. */
    int default_steps;
    float default_cfg;
    int default_sampler;
    model_time_input time_input;
    /* Text-conditioned families (NULL otherwise): the length its pipeline pads prompts to, from
     * the pipeline's class name (NULL outside a pipeline folder); and a prompt as that pipeline
     * prepares it before tokenizing: out (len + 1 bytes) receives it, NUL-terminated, and its
     * length is returned. */
    int (*text_len)(const char *pipeline_class);
    size_t (*prompt_prepare)(const char *in, size_t len, char *out);
} model_family;

/* The registry (registry.c): the family that loads this checkpoint best, or a message naming
 * what was looked for. */
sc_status models_detect(const model_probe *p, const model_family **out);
/* The i-th registered family, NULL past the end. */
const model_family *models_family_at(int i);

/* Shared bookkeeping for families (model.c). */
sc_status model_own(model *m, void *p);           /* freed with the model (mem_free) */
/* Forgets a plain weight buffer the backend has prepared a copy of: frees it when the model owns
 * it (a converted F16/BF16 copy), else returns its mapped pages to the kernel. */
/* The CPU backend for a load's dtype: the one asked for, or with SC_DTYPE_AUTO bf16 for a text
 * encoder whose file_dtype is "BF16" or "F16" when the CPU has bf16 kernels, float32 otherwise. */
const backend *model_pick_backend(const sc_load_opts *o, const char *file_dtype, int text_encoder);
/* weight_bytes and weights_source from a family's linear layers (n of them) and the bytes of its
 * other float32 tensors (kept as loaded). */
void model_count_weights(model *m, const be_linear *const *layers, int n, uint64_t other_bytes);

void model_release_plain(model *m, const float *w, size_t bytes);
/* Prepares L in the backend's layout (products of about rows_hint rows) and releases its plain
 * weights when a prepared copy was made (without one, the plain weights serve). */
sc_status model_prepare_linear(model *m, be_linear *L, int64_t rows_hint);
/* A tensor of exactly this shape into *dst (weights_get); a converted copy is owned by the model. */
sc_status model_get_tensor(model *m, weights *w, const char *name, int rank, const uint64_t *dims, const float **dst);

/* The depth of an original-layout file whose blocks are named "blocks.N.": the run N = 0, 1, ...
 * of blocks holding "blocks.N.<marker>" (at most 1024). A "blocks.N." tensor outside that run, or
 * with no decimal index, is stray (SC_ERR_FORMAT naming it and the run); known (may be NULL) is
 * asked about what follows "blocks.N." of every block tensor, and a 0 is SC_ERR_UNSUPPORTED with
 * `unknown_why` in the message. No block at all is SC_ERR_FORMAT. */
sc_status model_block_run(const weights *w, const char *path, const char *marker, int (*known)(const char *rest),
                          const char *unknown_why, int *depth);
/* out = the n linear layers stacked (rows of parts[0], then parts[1]...; same input width; all with
 * biases or none), owned by
 * the model; the parts' plain weights are released and the parts zeroed (DiT and PixArt fuse
 * q, k, v into one product). out may not be one of the parts. */
sc_status model_fuse_linears(model *m, be_linear *const *parts, int n, be_linear *out);
void model_release(model *m);                     /* owned buffers and files */
void model_cond_free(model_cond *c);
/* Total floats of a latent of this shape (0 when rank is 0 or on overflow). */
size_t model_shape_count(const sc_shape *s);

#endif
