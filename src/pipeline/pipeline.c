/* Finding what a path holds and loading it: the diffusers pipeline and model folder conventions
 * (io/weights.h), the family through the registries (models/registry.c), the scheduler
 * configuration of a pipeline folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "pipeline/pipeline.h"

int threads_resolve(int threads)
{
    if (threads > 0) return threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* A model folder's config.json; `missing_config` explains a folder without one. Its weights are
 * opened by the family once the config has been validated (model_probe.w is NULL for folders). */
static sc_status open_folder(const char *dir, const char *missing_config, json_t **config, char *config_path,
                             size_t cap)
{
    sc_status s = file_join(config_path, cap, dir, "config.json");
    if (s) return s;
    struct stat st;
    if (stat(config_path, &st) == 0 && !S_ISREG(st.st_mode))
        return err_fail(SC_ERR_FORMAT, "%s: is %s, not a config file", config_path,
                        S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file");
    if (!file_is_regular(config_path)) {
        char found[512];
        file_list_dir(dir, found, sizeof found);
        return err_fail(SC_ERR_FORMAT, "%s: %s: found %s", dir, missing_config, found);
    }
    return json_load_object_file(config_path, SC_JSON_FILE_CAP, config);
}

static const char *class_name(const json_t *config)
{
    const json_t *c = config ? json_object_get(config, "_class_name") : NULL;
    return json_is_string(c) ? json_string_value(c) : NULL;
}

/* model_index.json's "_smoothcache" object: the guidance and steps a pipeline folder made for this
 * engine asks for (the shipped text demo's guidance 3). Anything else in it is refused, by name. */
static sc_status folder_defaults(pipeline *p, const json_t *index, const char *path)
{
    const json_t *d = json_object_get(index, "_smoothcache");
    if (!d) return SC_OK;
    if (!json_is_object(d)) return err_fail(SC_ERR_FORMAT, "%s: \"_smoothcache\" must be an object", path);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)d, key, v) {
        if (strcmp(key, "guidance_scale") && strcmp(key, "num_inference_steps"))
            return err_fail(SC_ERR_FORMAT, "%s: \"_smoothcache\" has \"%s\"; it takes guidance_scale and "
                                           "num_inference_steps", path, key);
    }
    double cfg;
    long long steps;
    sc_status s = json_get_num(d, "guidance_scale", path, 0, 1.0, 100.0, 0.0, &cfg);
    if (!s) s = json_get_int(d, "num_inference_steps", path, 0, 1, 1000, 0, &steps);
    if (s) return s;
    p->default_cfg = (float)cfg;
    p->default_steps = (int)steps;
    return SC_OK;
}

sc_status pipeline_load(const char *path, const sc_load_opts *o, pipeline **out)
{
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty model path");
    pipeline *p = calloc(1, sizeof *p);
    if (!p) return err_fail(SC_ERR_NOMEM, "out of memory");
    snprintf(p->path, sizeof p->path, "%s", path);
    sched_default(&p->sched);
    snprintf(p->scheduler, sizeof p->scheduler, "default");
    char dir[4096], config_path[4096] = "", sched_path[4096];
    json_t *config = NULL;
    weights *w = NULL;
    sc_status s = SC_OK;
    if (file_is_dir(path)) {
        int is_pipeline;
        s = weights_pipeline_component(path, "transformer", "this pipeline has no transformer to sample with", dir,
                                       sizeof dir, &is_pipeline);
        if (!s && is_pipeline) {
            snprintf(p->folder, sizeof p->folder, "%s", path);
            snprintf(p->layout, sizeof p->layout, "diffusers-pipeline");
            json_t *index;
            s = file_join(sched_path, sizeof sched_path, path, "model_index.json");
            if (!s && json_load_object_file(sched_path, SC_JSON_FILE_CAP, &index) == SC_OK) {
                const char *cls = class_name(index);
                snprintf(p->pipeline_class, sizeof p->pipeline_class, "%s", cls ? cls : "");
                s = folder_defaults(p, index, sched_path);
                json_decref(index);
            }
            if (!s) s = file_join(sched_path, sizeof sched_path, path, "scheduler/scheduler_config.json");
            if (!s && file_is_regular(sched_path)) {
                s = sched_load(&p->sched, sched_path);
                snprintf(p->scheduler, sizeof p->scheduler, "%s", sched_path);
            }
        } else if (!s) {
            snprintf(dir, sizeof dir, "%s", path);
        }
        if (!s)
            s = open_folder(dir, "not a model folder: no config.json (a diffusers pipeline has model_index.json, a "
                                 "model folder config.json + diffusion_pytorch_model.safetensors)",
                            &config, config_path, sizeof config_path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        s = weights_open_file(path, &w);
    }
    const model_family *f = NULL;
    model_probe probe = {.path = dir, .config = config, .config_path = config_path, .class_name = class_name(config), .w = w,
                         .pipeline = p->folder[0] ? p->folder : NULL};
    if (!s) s = models_detect(&probe, &f);
    if (!s) {
        s = f->load(&probe, o, &p->net); /* takes over w (NULL for a folder: the family opens it) */
        w = NULL;
    }
    weights_close(w);
    if (config) json_decref(config);
    if (s) {
        pipeline_free(p);
        return s;
    }
    if (!p->layout[0]) snprintf(p->layout, sizeof p->layout, "%s", p->net->layout);
    /* A family that samples on a sigma schedule, without a scheduler file: its own defaults. */
    if (p->net->family->time_input == MODEL_TIME_SIGMA_ATAN && !p->sched.from_file) sched_sigma_default(&p->sched);
    *out = p;
    return SC_OK;
}

void pipeline_free(pipeline *p)
{
    if (!p) return;
    if (p->net) p->net->family->free(p->net);
    free(p);
}

sc_status pipeline_decoder_load(const char *path, const sc_load_opts *opts, decoder **out)
{
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty VAE path");
    char dir[4096], config_path[4096] = "";
    json_t *config = NULL;
    weights *w = NULL;
    sc_status s = SC_OK;
    if (file_is_dir(path)) {
        int is_pipeline;
        s = weights_pipeline_component(path, "vae", "this pipeline has no VAE", dir, sizeof dir, &is_pipeline);
        if (!s && !is_pipeline) snprintf(dir, sizeof dir, "%s", path);
        if (!s)
            s = open_folder(dir, "not a VAE folder: no config.json (expected config.json + "
                                 "diffusion_pytorch_model.safetensors)",
                            &config, config_path, sizeof config_path);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        s = weights_open_file(path, &w);
    }
    const decoder_family *f = NULL;
    decoder_probe probe = {.path = dir, .config = config, .config_path = config_path, .class_name = class_name(config),
                           .w = w, .opts = opts};
    if (!s) s = decoders_detect(&probe, &f);
    if (!s) {
        s = f->load(&probe, out); /* takes over w */
        w = NULL;
    }
    weights_close(w);
    if (config) json_decref(config);
    return s;
}

sc_status pipeline_encoder_load(const char *path, const sc_load_opts *opts, encoder **out)
{
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty text encoder path");
    if (!file_is_dir(path))
        return err_fail(SC_ERR_ARG, "%s: a text encoder is read from its folder (config.json and weights) or a "
                                    "pipeline folder, not a lone file", path);
    char dir[4096], config_path[4096] = "";
    int is_pipeline;
    json_t *config = NULL;
    sc_status s = weights_pipeline_component(path, "text_encoder", "this pipeline has no text encoder", dir, sizeof dir,
                                             &is_pipeline);
    if (!s && !is_pipeline) snprintf(dir, sizeof dir, "%s", path);
    if (!s)
        s = open_folder(dir, "not a text encoder folder: no config.json (expected config.json + model.safetensors)",
                        &config, config_path, sizeof config_path);
    const encoder_family *f = NULL;
    encoder_probe probe = {.path = dir, .config = config, .config_path = config_path, .opts = opts};
    if (!s) s = encoders_detect(&probe, &f);
    if (!s) s = f->load(&probe, out);
    if (config) json_decref(config);
    return s;
}
