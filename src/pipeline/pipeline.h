/* The pipeline: a model of some family with its scheduler configuration (and the folder it came
 * from), the generic runner that walks a model's blocks with the cache deciding per component,
 * and the sampling loop. This is the public sc_model; the API (src/api/) is its only user.
 *
 *     pipeline_load      probes the path (a diffusers pipeline folder: transformer/ and
 *                        scheduler/; a model folder; a single file), detects the family through
 *                        the model registry and loads it; the scheduler configuration is the
 *                        pipeline's, never the model's
 *     pipeline_forward   one evaluation: embed, per block its modulation, the cache's decision
 *                        at the block boundary and per component, the gated adds, the final layer
 *     pipeline_generate  initial latents, guidance rows, the sampler update per step, progress */
#ifndef SC_PIPELINE_PIPELINE_H
#define SC_PIPELINE_PIPELINE_H

#include "cache/policy.h"
#include "cache/run.h"
#include "models/decoder.h"
#include "models/encoder.h"
#include "models/model.h"
#include "sample/sampler.h"
#include "sample/schedule.h"
#include "smoothcache.h"

struct sc_model {
    model *net;
    sched_config sched;      /* the pipeline folder's scheduler configuration, else the default */
    char scheduler[4096];    /* the file it came from, or "default" */
    char layout[32];         /* "diffusers-pipeline", or the model's own layout */
    char path[4096];         /* as given */
    char folder[4096];       /* the pipeline folder ("" when the model was not loaded from one) */
    char pipeline_class[128]; /* its model_index.json _class_name ("" when none) */
    /* What the folder asks for instead of its family's defaults (model_index.json's
     * "_smoothcache": {"guidance_scale": G, "num_inference_steps": N}, a key diffusers ignores as it
     * ignores every key starting with "_"); 0 when it does not. */
    float default_cfg;
    int default_steps;
};
typedef struct sc_model pipeline;

sc_status pipeline_load(const char *path, const sc_load_opts *o, pipeline **out);
void pipeline_free(pipeline *p);

/* out [rows, out] = the model on x [rows, latent], t [rows], c (ws->rows rows), each component
 * computed or reused as the cache run decides (NULL: all computed). */
sc_status pipeline_forward(const model *m, model_ws *ws, const float *x, const float *t, const model_cond *c,
                           float *out, cache_run *cache);

/* The sampling loop of sc_generate. With `observer` (a calibrator's hooks and its state), the run
 * observes with them (gp->cache and gp->calibration must be unset). */
sc_status pipeline_generate(pipeline *p, const sc_gen_params *gp, const cache_policy_ops *observer, void *state,
                            float *latents_out);

/* A decoder from a decoder folder, a pipeline folder (its vae/) or a single file. */
sc_status pipeline_decoder_load(const char *path, const sc_load_opts *opts, decoder **out);
/* A text encoder from its folder (config.json + weights) or a pipeline folder (its text_encoder/). */
sc_status pipeline_encoder_load(const char *path, const sc_load_opts *opts, encoder **out);

/* What the model predicts, as the samplers name it. */
sample_prediction pipeline_prediction(const model *m);

/* The threads to use: n > 0, or all online CPUs for 0. */
int threads_resolve(int threads);

#endif
