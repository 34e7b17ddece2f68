/* Loading a T5 encoder: config.json, then every tensor by its transformers name with the shape
 * the configuration needs. Decoder and language-model-head tensors of a whole
 * T5ForConditionalGeneration checkpoint are passed over; anything else unused is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "models/model.h"
#include "models/t5/t5.h"

static sc_status own(t5_encoder *m, float *p)
{
    if (!p) return SC_OK;
    if (m->n_owned == m->cap_owned) {
        const int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        float **o = realloc(m->owned, (size_t)cap * sizeof *o);
        if (!o) {
            mem_free(p);
            return err_fail(SC_ERR_NOMEM, "out of memory");
        }
        m->owned = o;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return SC_OK;
}

static sc_status get(t5_encoder *m, const char *name, int rank, uint64_t d0, uint64_t d1, const float **out)
{
    const uint64_t dims[2] = {d0, d1};
    float *owned = NULL;
    sc_status s = weights_get(m->files, name, rank, dims, 0, out, &owned);
    if (!s) s = own(m, owned);
    return s;
}

/* Frees a converted copy, or gives a mapped view's pages back. */
static void release_plain(t5_encoder *m, const float *w, size_t bytes)
{
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == w) {
            mem_free(m->owned[i]);
            m->owned[i] = m->owned[--m->n_owned];
            return;
        }
    file_release_pages(w, bytes);
}

/* A linear layer; in bf16 or int8 it is prepared at once and its float32 copy released, so that
 * loading never holds more than one layer in float32 beside the low-precision copies (T5-XXL:
 * 19 GB in float32, 9.5 GB in bf16). In float32 the layers stay plain views: packed for
 * 128-row products they ran 1.25x slower on t5-base's shapes at 120 tokens here
 * (bench/bench_t5.py), at the same peak memory. */
static sc_status linear(t5_encoder *m, const char *name, int out, int in, be_linear *L)
{
    const float *w;
    sc_status s = get(m, name, 2, (uint64_t)out, (uint64_t)in, &w);
    if (s) return s;
    *L = (be_linear){.w = w, .b = NULL, .out = out, .in = in};
    if (m->base.be->dtype == SC_DTYPE_F32) return SC_OK;
    if ((s = m->base.be->linear_prepare(L, 128))) return s;
    if (L->prep) {
        release_plain(m, w, (size_t)out * in * sizeof(float));
        L->w = NULL;
    }
    return SC_OK;
}

/* The tensors a whole T5ForConditionalGeneration file adds, which an encoder never uses. */
static int not_encoder(const char *name)
{
    return !strncmp(name, "decoder.", 8) || !strcmp(name, "lm_head.weight") || !strcmp(name, "encoder.embed_tokens.weight");
}

static sc_status load_weights(t5_encoder *m)
{
    const t5_config *c = &m->cfg;
    const int D = c->d_model, inner = c->heads * c->d_kv;
    char name[256];
    sc_status s;
    /* The embedding: shared.weight (what transformers saves), else encoder.embed_tokens.weight. */
    const char *emb = weights_peek(m->files, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    if ((s = get(m, emb, 2, (uint64_t)c->vocab, (uint64_t)D, &m->embed))) return s;
    if ((s = get(m, "encoder.final_layer_norm.weight", 1, (uint64_t)D, 0, &m->ln_final))) return s;
    m->blocks = calloc((size_t)c->layers, sizeof *m->blocks);
    if (!m->blocks) return err_fail(SC_ERR_NOMEM, "out of memory");
    for (int l = 0; l < c->layers; l++) {
        t5_block *b = &m->blocks[l];
        const char *qkvo[4] = {"q", "k", "v", "o"};
        be_linear *dst[4] = {&b->q, &b->k, &b->v, &b->o};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "encoder.block.%d.layer.0.SelfAttention.%s.weight", l, qkvo[i]);
            if ((s = i < 3 ? linear(m, name, inner, D, dst[i]) : linear(m, name, D, inner, dst[i]))) return s;
        }
        if (l == 0 || c->bias_per_layer) {
            snprintf(name, sizeof name, "encoder.block.%d.layer.0.SelfAttention.relative_attention_bias.weight", l);
            if ((s = get(m, name, 2, (uint64_t)c->buckets, (uint64_t)c->heads, &b->rel))) return s;
        } else {
            b->rel = m->blocks[0].rel;
        }
        snprintf(name, sizeof name, "encoder.block.%d.layer.0.layer_norm.weight", l);
        if ((s = get(m, name, 1, (uint64_t)D, 0, &b->ln_att))) return s;
        snprintf(name, sizeof name, "encoder.block.%d.layer.1.layer_norm.weight", l);
        if ((s = get(m, name, 1, (uint64_t)D, 0, &b->ln_ff))) return s;
        if (c->gated) {
            snprintf(name, sizeof name, "encoder.block.%d.layer.1.DenseReluDense.wi_0.weight", l);
            if ((s = linear(m, name, c->d_ff, D, &b->wi))) return s;
            snprintf(name, sizeof name, "encoder.block.%d.layer.1.DenseReluDense.wi_1.weight", l);
            if ((s = linear(m, name, c->d_ff, D, &b->wi1))) return s;
        } else {
            snprintf(name, sizeof name, "encoder.block.%d.layer.1.DenseReluDense.wi.weight", l);
            if ((s = linear(m, name, c->d_ff, D, &b->wi))) return s;
        }
        snprintf(name, sizeof name, "encoder.block.%d.layer.1.DenseReluDense.wo.weight", l);
        if ((s = linear(m, name, D, c->d_ff, &b->wo))) return s;
    }
    const char *example = NULL;
    const size_t unused = weights_unused(m->files, not_encoder, &example);
    if (unused)
        err_warn("%s: %zu tensor%s this T5 encoder does not use (e.g. %s)", weights_path(m->files), unused,
                 unused == 1 ? "" : "s", example);
    return SC_OK;
}

sc_status t5_load(const encoder_probe *p, encoder **out)
{
    *out = NULL;
    t5_encoder *m = calloc(1, sizeof *m);
    if (!m) return err_fail(SC_ERR_NOMEM, "out of memory");
    extern const encoder_family encoder_family_t5;
    m->base.family = &encoder_family_t5;
    m->base.be = backend_cpu_f32();
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sc_status s = t5_config_from_json(&m->cfg, p->config, p->config_path);
    if (!s) s = weights_open_folder(p->path, &m->files);
    if (!s) {
        weights_set_role(m->files, "T5 encoder");
        m->base.be = model_pick_backend(p->opts, weights_stored_dtype(m->files), 1);
        s = load_weights(m);
    }
    if (!s) s = m->base.be->ctx_create(&m->ctx);
    if (s) {
        t5_free(&m->base);
        return s;
    }
    const t5_config *c = &m->cfg;
    m->base.vocab_size = c->vocab;
    m->base.width = c->d_model;
    m->base.depth = c->layers;
    m->base.params = weights_params(m->files);
    snprintf(m->base.dtype, sizeof m->base.dtype, "%s", weights_dtype(m->files));
    /* Bytes in memory: the linear layers as the backend holds them, the rest float32. */
    uint64_t bytes = 0, linear_params = 0;
    for (int l = 0; l < c->layers; l++) {
        t5_block *b = &m->blocks[l];
        const be_linear *all[7] = {&b->q, &b->k, &b->v, &b->o, &b->wi, &b->wi1, &b->wo};
        for (int i = 0; i < 7; i++)
            if (all[i]->w || all[i]->prep) {
                bytes += m->base.be->linear_bytes(all[i]);
                linear_params += (uint64_t)all[i]->out * all[i]->in;
            }
    }
    m->base.weight_bytes = bytes + (m->base.params > linear_params ? m->base.params - linear_params : 0) * sizeof(float);
    snprintf(m->base.variant, sizeof m->base.variant, "%s (%s)", c->bias_per_layer ? "umt5" : "t5", c->feed_forward);
    *out = &m->base;
    return SC_OK;
}

void t5_free(encoder *e)
{
    if (!e) return;
    t5_encoder *m = (t5_encoder *)e;
    if (m->ctx) m->base.be->ctx_free(m->ctx);
    for (int l = 0; m->blocks && l < m->cfg.layers; l++) {
        t5_block *b = &m->blocks[l];
        be_linear *all[7] = {&b->q, &b->k, &b->v, &b->o, &b->wi, &b->wi1, &b->wo};
        for (int i = 0; i < 7; i++) m->base.be->linear_drop(all[i]);
    }
    free(m->blocks);
    for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
    free(m->owned);
    weights_close(m->files);
    free(m);
}
