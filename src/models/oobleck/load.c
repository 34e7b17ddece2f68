/* Loading an Oobleck decoder from a diffusers folder (config.json + weights) or a pipeline's vae/:
 * every weight-normalised convolution folded (w = v g / |v|, the norm over all but the first
 * dimension, as torch's weight_norm with dim 0), laid out for one product per chunk, every Snake's
 * exp(alpha) and 1 / (exp(beta) + 1e-9) computed once. The file is closed before returning. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/oobleck/oobleck.h"

static float *own(oobleck *m, size_t n)
{
    if (m->n_owned == m->cap_owned) {
        const int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **o = realloc(m->owned, (size_t)cap * sizeof *o);
        if (!o) return NULL;
        m->owned = o;
        m->cap_owned = cap;
    }
    float *p = mem_alloc_array(n, sizeof(float), "Oobleck weights");
    if (p) m->owned[m->n_owned++] = p;
    return p;
}

/* The tensor `name` of exactly this shape copied into dst (the file's own copy, or its float32
 * conversion, is not kept: the file is closed after loading). */
static sc_status fetch(weights *w, const char *name, int rank, const uint64_t *dims, float *dst, size_t n)
{
    const float *data;
    float *tmp = NULL;
    sc_status s = weights_get(w, name, rank, dims, 0, &data, &tmp);
    if (!s) memcpy(dst, data, n * sizeof *dst);
    mem_free(tmp);
    return s;
}

/* The weight-normalised `name` (weight_g [rows, 1, 1], weight_v [rows, a, b]) folded into dst
 * [rows, a b]: w = v (g / |v_row|), the norm over all but the first dimension, as torch's
 * weight_norm with dim 0. */
static sc_status fetch_folded(weights *w, const char *name, int rows, int a, int b, float *dst)
{
    char n[256];
    const size_t rest = (size_t)a * b;
    const uint64_t dg[3] = {(uint64_t)rows, 1, 1}, dv[3] = {(uint64_t)rows, (uint64_t)a, (uint64_t)b};
    float *g = mem_alloc_array((size_t)rows, sizeof *g, "weight norm");
    if (!g) return SC_ERR_NOMEM;
    snprintf(n, sizeof n, "%s.weight_g", name);
    sc_status s = fetch(w, n, 3, dg, g, (size_t)rows);
    snprintf(n, sizeof n, "%s.weight_v", name);
    if (!s) s = fetch(w, n, 3, dv, dst, (size_t)rows * rest);
    for (int i = 0; !s && i < rows; i++) {
        float *v = dst + i * rest;
        double ss = 0;
        for (size_t k = 0; k < rest; k++) ss += (double)v[k] * v[k];
        const float scale = g[i] / (float)sqrt(ss);
        for (size_t k = 0; k < rest; k++) v[k] *= scale;
    }
    mem_free(g);
    return s;
}

/* A weight-normalised Conv1d `name` [out, in, k] (+ bias [out] when has_bias), as one product
 * [out, in k] (PyTorch's layout is im2col's: column c k + j). */
static sc_status load_conv(oobleck *m, weights *w, const char *name, int in, int out, int k, int dil, int has_bias,
                           oobleck_conv *c)
{
    char n[256];
    const uint64_t db[1] = {(uint64_t)out};
    float *W = own(m, (size_t)out * in * k), *B = has_bias ? own(m, (size_t)out) : NULL;
    if (!W || (has_bias && !B)) return SC_ERR_NOMEM;
    sc_status s = fetch_folded(w, name, out, in, k, W);
    snprintf(n, sizeof n, "%s.bias", name);
    if (!s && B) s = fetch(w, n, 1, db, B, (size_t)out);
    if (!s)
        *c = (oobleck_conv){.lin = {.w = W, .b = B, .out = out, .in = in * k}, .in = in, .out = out, .k = k,
                            .dilation = dil, .pad = (k - 1) * dil / 2};
    return s;
}

/* A weight-normalised ConvTranspose1d [in, out, k] (norm per input channel) + bias [out], as one
 * product [out k, in]. */
static sc_status load_convt(oobleck *m, weights *w, const char *name, int in, int out, int stride, oobleck_convt *c)
{
    char n[256];
    const int k = 2 * stride;
    const uint64_t db[1] = {(uint64_t)out};
    float *folded = mem_alloc_array((size_t)in * out * k, sizeof(float), "Oobleck weights");
    float *W = own(m, (size_t)in * out * k), *B = own(m, (size_t)out);
    sc_status s = folded && W && B ? SC_OK : SC_ERR_NOMEM;
    if (!s) s = fetch_folded(w, name, in, out, k, folded);                  /* [in, out, k] */
    snprintf(n, sizeof n, "%s.bias", name);
    if (!s) s = fetch(w, n, 1, db, B, (size_t)out);
    if (!s) {
        for (int ci = 0; ci < in; ci++)                                     /* -> [out k, in] */
            for (int r = 0; r < out * k; r++) W[(size_t)r * in + ci] = folded[(size_t)ci * out * k + r];
        *c = (oobleck_convt){.lin = {.w = W, .b = NULL, .out = out * k, .in = in}, .bias = B, .in = in, .out = out,
                             .k = k, .stride = stride, .pad = (stride + 1) / 2};
    }
    mem_free(folded);
    return s;
}

/* A Snake's exp(alpha) and 1 / (exp(beta) + 1e-9), from alpha and beta [1, C, 1]. */
static sc_status load_snake(oobleck *m, weights *w, const char *name, int C, oobleck_snake *sn)
{
    char n[256];
    const uint64_t d[3] = {1, (uint64_t)C, 1};
    sn->a = own(m, (size_t)C);
    sn->ib = own(m, (size_t)C);
    if (!sn->a || !sn->ib) return SC_ERR_NOMEM;
    snprintf(n, sizeof n, "%s.alpha", name);
    sc_status s = fetch(w, n, 3, d, sn->a, (size_t)C);
    snprintf(n, sizeof n, "%s.beta", name);
    if (!s) s = fetch(w, n, 3, d, sn->ib, (size_t)C);
    for (int c = 0; !s && c < C; c++) {
        sn->a[c] = expf(sn->a[c]);
        sn->ib[c] = 1.0f / (expf(sn->ib[c]) + 1e-9f);
        if (!isfinite(sn->a[c]) || !isfinite(sn->ib[c]))
            s = err_fail(SC_ERR_NUMERIC, "%s: a non-finite Snake parameter in %s", weights_path(w), name);
    }
    return s;
}

/* A product's weights in the backend's packed layout (for chunks of CHUNK rows); the plain copy
 * freed when a packed one was made. */
static sc_status pack(oobleck *m, be_linear *L)
{
    sc_status s = m->base.be->linear_prepare(L, 2048);
    if (s || !L->prep) return s;
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == (void *)L->w) {
            mem_free(m->owned[i]);
            m->owned[i] = m->owned[--m->n_owned];
            break;
        }
    L->w = NULL;
    return SC_OK;
}

static sc_status pack_all(oobleck *m)
{
    sc_status s = pack(m, &m->conv1.lin);
    for (int i = 0; i < m->cfg.n_blocks && !s; i++) {
        oobleck_block *b = &m->blocks[i];
        s = pack(m, &b->up.lin);
        for (int u = 0; u < 3 && !s; u++) {
            s = pack(m, &b->res[u].c1.lin);
            if (!s) s = pack(m, &b->res[u].c2.lin);
        }
    }
    if (!s) s = pack(m, &m->conv2.lin);
    return s;
}

static void drop_all(oobleck *m)
{
    const backend *be = m->base.be;
    be->linear_drop(&m->conv1.lin);
    be->linear_drop(&m->conv2.lin);
    for (int i = 0; i < m->cfg.n_blocks; i++) {
        oobleck_block *b = &m->blocks[i];
        be->linear_drop(&b->up.lin);
        for (int u = 0; u < 3; u++) {
            be->linear_drop(&b->res[u].c1.lin);
            be->linear_drop(&b->res[u].c2.lin);
        }
    }
}

static sc_status load_weights(oobleck *m, weights *w)
{
    const oobleck_config *c = &m->cfg;
    const int nb = c->n_blocks, ch = c->channels;
    char name[128];
    sc_status s = load_conv(m, w, "decoder.conv1", c->input_channels, ch * c->multiples[nb], 7, 1, 1, &m->conv1);
    for (int i = 0; i < nb && !s; i++) {
        oobleck_block *b = &m->blocks[i];
        const int in = ch * c->multiples[nb - i], out = ch * c->multiples[nb - i - 1];
        snprintf(name, sizeof name, "decoder.block.%d.snake1", i);
        s = load_snake(m, w, name, in, &b->snake);
        snprintf(name, sizeof name, "decoder.block.%d.conv_t1", i);
        if (!s) s = load_convt(m, w, name, in, out, c->ratios[i], &b->up);
        static const int dil[3] = {1, 3, 9};
        for (int u = 0; u < 3 && !s; u++) {
            snprintf(name, sizeof name, "decoder.block.%d.res_unit%d.snake1", i, u + 1);
            s = load_snake(m, w, name, out, &b->res[u].s1);
            snprintf(name, sizeof name, "decoder.block.%d.res_unit%d.conv1", i, u + 1);
            if (!s) s = load_conv(m, w, name, out, out, 7, dil[u], 1, &b->res[u].c1);
            snprintf(name, sizeof name, "decoder.block.%d.res_unit%d.snake2", i, u + 1);
            if (!s) s = load_snake(m, w, name, out, &b->res[u].s2);
            snprintf(name, sizeof name, "decoder.block.%d.res_unit%d.conv2", i, u + 1);
            if (!s) s = load_conv(m, w, name, out, out, 1, 1, 1, &b->res[u].c2);
        }
    }
    if (!s) s = load_snake(m, w, "decoder.snake1", ch, &m->snake);
    if (!s) s = load_conv(m, w, "decoder.conv2", ch, c->audio_channels, 7, 1, 0, &m->conv2);
    return s;
}

sc_status oobleck_load(const decoder_probe *p, decoder **out)
{
    *out = NULL;
    weights *w = p->w;
    oobleck *m = calloc(1, sizeof *m);
    if (!m) {
        weights_close(w);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    m->base.family = &decoder_family_oobleck;
    m->base.be = backend_cpu_f32();
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sc_status s = SC_OK;
    if (!p->config)
        s = err_fail(SC_ERR_FORMAT, "%s: an Oobleck decoder needs its config.json (load the diffusers folder)", p->path);
    if (!s) s = oobleck_config_from_object(&m->cfg, p->config, p->config_path);
    if (!s && !w) s = weights_open_folder(p->path, &w);
    if (!s) {
        weights_set_role(w, "VAE");
        s = load_weights(m, w);
    }
    if (!s) s = pack_all(m);
    if (!s) s = m->base.be->ctx_create(&m->ctx);
    if (!s) {
        m->base.latent_channels = m->cfg.input_channels;
        m->base.out_channels = m->cfg.audio_channels;
        m->base.upscale = m->cfg.hop;
        m->base.sample_rate = m->cfg.sampling_rate;
        m->base.fingerprint = weights_fingerprint(w);
    }
    weights_close(w);
    if (s) {
        oobleck_free(&m->base);
        return s;
    }
    *out = &m->base;
    return SC_OK;
}

void oobleck_free(decoder *d)
{
    if (!d) return;
    oobleck *m = (oobleck *)d;
    drop_all(m);
    if (m->ctx) m->base.be->ctx_free(m->ctx);
    for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
    free(m->owned);
    free(m);
}
