/* The public API's model entry points (include/smoothcache.h): loading through the pipeline,
 * description, one forward pass, checkpoint conversion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/ckmath.h"
#include "core/error.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "pipeline/pipeline.h"

#define SC_MAX_FORWARD_ROWS 4096

const char *sc_last_error(void) { return err_last_message(); }

sc_status sc_last_status(void) { return err_last_code(); }

void sc_set_quiet(int quiet) { err_set_quiet(quiet); }

const char *sc_dtype_name(sc_dtype d)
{
    switch (d) {
    case SC_DTYPE_AUTO: return "auto";
    case SC_DTYPE_F32: return "f32";
    case SC_DTYPE_BF16: return "bf16";
    case SC_DTYPE_INT8: return "int8";
    }
    return NULL;
}

int sc_dtype_supported(sc_dtype d) { return sc_dtype_name(d) && backend_cpu_has(d); }

sc_status sc_dtype_parse(const char *name, sc_dtype *out)
{
    static const struct {
        const char *name;
        sc_dtype d;
    } k[] = {{"auto", SC_DTYPE_AUTO}, {"f32", SC_DTYPE_F32},    {"float32", SC_DTYPE_F32},
             {"fp32", SC_DTYPE_F32},  {"bf16", SC_DTYPE_BF16},  {"bfloat16", SC_DTYPE_BF16},
             {"int8", SC_DTYPE_INT8}};
    for (size_t i = 0; name && i < sizeof k / sizeof *k; i++)
        if (!strcmp(name, k[i].name)) {
            *out = k[i].d;
            return SC_OK;
        }
    return err_fail(SC_ERR_ARG, "unknown precision \"%s\" (expected f32, bf16, int8 or auto)", name ? name : "");
}

sc_status sc_model_load(const char *path, const sc_load_opts *opts, sc_model **out)
{
    *out = NULL;
    if (opts && opts->num_heads < 0) return err_fail(SC_ERR_ARG, "number of heads must be positive");
    if (opts && sc_dtype_name(opts->dtype) == NULL)
        return err_fail(SC_ERR_ARG, "sc_load_opts.dtype %d is not a precision", (int)opts->dtype);
    return pipeline_load(path, opts, out);
}

void sc_model_free(sc_model *m) { pipeline_free(m); }

void sc_model_get_info(const sc_model *p, sc_model_info *info)
{
    const model *m = p->net;
    memset(info, 0, sizeof *info);
    info->family = m->family->name;
    info->layout = p->layout;
    info->dtype = m->dtype;
    info->depth = m->depth;
    info->hidden = m->hidden;
    info->latent = m->latent;
    info->in_channels = m->latent.dims[0];
    info->out_channels = m->out_channels;
    info->learned_sigma = m->learned_sigma;
    info->tokens = m->tokens;
    info->params = m->params;
    info->macs_per_forward = m->macs_forward;
    info->n_components = m->n_comp;
    for (int k = 0; k < m->n_comp; k++) {
        info->components[k] = m->comp[k].name;
        info->macs_component[k] = m->macs_comp[k];
    }
    info->scheduler = p->scheduler;
    info->compute_dtype = sc_dtype_name(m->be->dtype);
    info->weight_bytes = m->weight_bytes;
    info->weights_source = m->weights_source;
    info->default_steps = p->default_steps ? p->default_steps : m->family->default_steps;
    info->default_cfg = p->default_cfg > 0 ? p->default_cfg : m->family->default_cfg;
    info->default_sampler = p->sched.sampler >= 0 ? p->sched.sampler : m->family->default_sampler;
    if (m->family->text_len) info->text_len = m->family->text_len(p->pipeline_class[0] ? p->pipeline_class : NULL);
    m->family->describe(m, info);
}

size_t sc_latent_bytes(const sc_model *p, int n)
{
    uint64_t b;
    const size_t per = model_shape_count(&p->net->latent);
    if (n < 0 || !per || !ck_mul3((uint64_t)n, (uint64_t)per, sizeof(float), &b) || b > SIZE_MAX) return 0;
    return (size_t)b;
}

sc_status sc_model_forward(sc_model *p, const sc_cond *rows, const float *x, const float *t, float *out, int threads)
{
    return sc_model_forward_shape(p, rows, NULL, x, t, out, threads);
}

sc_status sc_model_forward_shape(sc_model *p, const sc_cond *rows, const sc_shape *shape, const float *x,
                                 const float *t, float *out, int threads)
{
    const model *m = p->net;
    if (shape && shape->rank && (shape->rank < 1 || shape->rank > SC_MAX_RANK || !m->family->accepts_shape(m, shape)))
        return err_fail(SC_ERR_ARG, "this model does not run latents of that shape (rank %d)", shape->rank);
    if (!rows || rows->n < 1 || rows->n > SC_MAX_FORWARD_ROWS)
        return err_fail(SC_ERR_ARG, "batch must be in 1..%d (got %d)", SC_MAX_FORWARD_ROWS, rows ? rows->n : 0);
    if (threads < 0) return err_fail(SC_ERR_ARG, "threads must be >= 1 (got %d)", threads);
    for (int i = 0; i < rows->n; i++)
        if (!(t[i] >= 0.0f && t[i] <= 1e4f)) return err_fail(SC_ERR_ARG, "timestep %g is out of range", (double)t[i]);
    model_cond c;
    sc_status s = m->family->conditioning(m, rows, 0, 1, &c);
    if (s) return s;
    m->be->set_threads(threads_resolve(threads));
    model_ws *ws;
    s = m->family->ws_create(m, rows->n, shape, &ws);
    if (!s) {
        s = pipeline_forward(m, ws, x, t, &c, out, NULL);
        m->family->ws_free(m, ws);
    }
    model_cond_free(&c);
    return s;
}

int sc_model_component_path(const sc_model *p, const char *component, char *path, size_t cap)
{
    if (!p->folder[0] || file_join(path, cap, p->folder, component) != SC_OK) return 0;
    return file_is_dir(path);
}

sc_status sc_convert_checkpoint(const char *in, const char *out, int force, size_t *tensors)
{
    return sc_convert_checkpoint_dtype(in, out, force, SC_DTYPE_AUTO, tensors);
}

sc_status sc_convert_checkpoint_dtype(const char *in, const char *out, int force, sc_dtype dtype, size_t *tensors)
{
    if (dtype == SC_DTYPE_INT8)
        return err_fail(SC_ERR_ARG, "int8 is a compute precision, not a file one: weights are quantised at load "
                                    "(--dtype int8 on the command that runs the model); convert writes f32 or bf16");
    if (!sc_dtype_name(dtype)) return err_fail(SC_ERR_ARG, "dtype %d is not a precision", (int)dtype);
    st_file *f;
    sc_status s = torch_or_safetensors_open(in, &f);
    if (s) return s;
    s = dtype == SC_DTYPE_BF16  ? st_write_floats_as(out, f, force, ST_BF16)
        : dtype == SC_DTYPE_F32 ? st_write_floats_as(out, f, force, ST_F32)
                                : st_write(out, f, force);
    if (!s && tensors) *tensors = st_count(f);
    if (!s && dtype == SC_DTYPE_BF16) {
        /* F16 -> bf16 keeps the size and drops 3 bits of each value's precision: worth a word */
        size_t f16 = 0;
        for (size_t i = 0; i < st_count(f); i++) f16 += st_at(f, i)->dtype == ST_F16;
        if (f16)
            err_warn("%s: %zu of its tensors were F16: as bf16 they take the same room and keep 3 bits less of each "
                     "value (bf16 halves float32 files; an F16 file is already 16-bit)", in, f16);
    }
    st_close(f);
    return s;
}
