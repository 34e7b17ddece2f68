/* Bookkeeping every family shares: buffers a model owns, plain weights given back once the
 * backend holds its own copy, the weight files a model's views point into. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "models/model.h"

sc_status model_own(model *m, void *p)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **np = realloc(m->owned, (size_t)cap * sizeof *np);
        if (!np) {
            mem_free(p);
            return err_fail(SC_ERR_NOMEM, "out of memory");
        }
        m->owned = np;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return SC_OK;
}

const backend *model_pick_backend(const sc_load_opts *o, const char *file_dtype, int text_encoder)
{
    const sc_dtype d = o ? o->dtype : SC_DTYPE_AUTO;
    if (d != SC_DTYPE_AUTO) return backend_cpu(d);
    /* Text encoders from 16-bit files compute in bf16 (T5-XXL only fits so); denoisers and
     * decoders in float32 whatever the file holds, as diffusers loads them by default. */
    const int sixteen = text_encoder && (!strcmp(file_dtype, "BF16") || !strcmp(file_dtype, "F16"));
    return sixteen && backend_cpu_has(SC_DTYPE_BF16) ? backend_cpu_bf16() : backend_cpu_f32();
}

void model_count_weights(model *m, const be_linear *const *layers, int n, uint64_t other_bytes)
{
    uint64_t bytes = other_bytes;
    int prepared = 0, plain = 0;
    for (int i = 0; i < n; i++) {
        const be_linear *L = layers[i];
        if (!L->w && !L->prep) continue;
        bytes += m->be->linear_bytes(L);
        if (L->prep) prepared++;
        else plain++;
    }
    m->weight_bytes = bytes;
    /* Plain layers are views of the file only when it holds float32 (others were converted). */
    const int views = plain && !strcmp(m->dtype, "F32");
    snprintf(m->weights_source, sizeof m->weights_source, "%s", !views ? "converted" : !prepared ? "mapped" : "mixed");
}

void model_release_plain(model *m, const float *w, size_t bytes)
{
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == w) {
            mem_free(m->owned[i]);
            m->owned[i] = m->owned[--m->n_owned];
            return;
        }
    /* A view into a mapped file: its pages are re-read from the file if ever touched again, so
     * this is safe even for a shared mapping. */
    file_release_pages(w, bytes);
}

sc_status model_prepare_linear(model *m, be_linear *L, int64_t rows_hint)
{
    sc_status s = m->be->linear_prepare(L, rows_hint);
    if (s || !L->prep) return s;
    model_release_plain(m, L->w, (size_t)L->out * L->in * sizeof(float));
    L->w = NULL;
    return SC_OK;
}

sc_status model_get_tensor(model *m, weights *w, const char *name, int rank, const uint64_t *dims, const float **dst)
{
    const float *data;
    float *owned;
    sc_status s = weights_get(w, name, rank, dims, 0, &data, &owned);
    if (!s && owned) s = model_own(m, owned);
    if (!s) *dst = data;
    return s;
}

sc_status model_fuse_linears(model *m, be_linear *const *parts, int n, be_linear *out)
{
    const int in = parts[0]->in, has_bias = parts[0]->b != NULL;
    size_t rows = 0;
    for (int i = 0; i < n; i++) {
        SC_ASSERT(parts[i]->in == in && parts[i]->w && (parts[i]->b != NULL) == has_bias);
        rows += (size_t)parts[i]->out;
    }
    float *w = mem_alloc_array(rows * (size_t)in, sizeof(float), "fused weights");
    float *bias = has_bias ? mem_alloc_array(rows, sizeof(float), "fused bias") : NULL;
    if (!w || (has_bias && !bias)) {
        mem_free(w);
        mem_free(bias);
        return SC_ERR_NOMEM;
    }
    sc_status s = model_own(m, w);
    if (s) {
        mem_free(bias);
        return s;
    }
    if (has_bias && (s = model_own(m, bias))) return s;
    size_t r = 0;
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)parts[i]->out;
        memcpy(w + r * in, parts[i]->w, o * in * sizeof(float));
        if (has_bias) memcpy(bias + r, parts[i]->b, o * sizeof(float));
        r += o;
    }
    const int precise = parts[0]->precise;
    for (int i = 0; i < n; i++) {
        model_release_plain(m, parts[i]->w, (size_t)parts[i]->out * in * sizeof(float));
        memset(parts[i], 0, sizeof *parts[i]);
    }
    *out = (be_linear){.w = w, .b = bias, .out = (int)rows, .in = in, .precise = precise};
    return SC_OK;
}

void model_release(model *m)
{
    for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
    free(m->owned);
    m->owned = NULL;
    m->n_owned = m->cap_owned = 0;
    weights_close(m->files);
    m->files = NULL;
}

void model_cond_free(model_cond *c)
{
    free(c->classes);
    free(c->text);
    free(c->text_bias);
    free(c->text_mask);
    free(c->extra);
    memset(c, 0, sizeof *c);
}

size_t model_shape_count(const sc_shape *s)
{
    if (s->rank < 1 || s->rank > SC_MAX_RANK) return 0;
    uint64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        if (s->dims[i] < 1 || !ck_mul(n, (uint64_t)s->dims[i], &n)) return 0;
    return n <= SIZE_MAX ? (size_t)n : 0;
}

sc_status model_block_run(const weights *w, const char *path, const char *marker, int (*known)(const char *rest),
                          const char *unknown_why, int *depth)
{
    int d = 0;
    for (;;) {
        char name[128];
        snprintf(name, sizeof name, "blocks.%d.%s", d, marker);
        if (d >= 1024 || !weights_peek(w, name)) break;
        d++;
    }
    for (size_t k = 0; k < weights_count(w); k++) {
        const char *name = weights_name_at(w, k);
        if (strncmp(name, "blocks.", 7)) continue;
        char *end;
        const long idx = strtol(name + 7, &end, 10);
        if (end == name + 7 || *end != '.' || name[7] < '0' || name[7] > '9' || idx >= d)
            return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is stray: the file's blocks are %s%d (those with "
                                           "blocks.N.%s)", path, name, d ? "0.." : "none of ", d ? d - 1 : 0, marker);
        if (known && !known(end + 1))
            return err_fail(SC_ERR_UNSUPPORTED, "%s: tensor \"%s\" is not part of the block this engine runs (%s)",
                            path, name, unknown_why);
    }
    if (d == 0) return err_fail(SC_ERR_FORMAT, "%s: no \"blocks.N.%s\" tensors: no blocks", path, marker);
    *depth = d;
    return SC_OK;
}
