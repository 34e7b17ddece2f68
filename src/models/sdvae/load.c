/* Loading an SD-VAE decoder: the configuration (config.json, or the shapes of a lone file), the
 * naming (names.c), and the shape check of every tensor before it is reordered into a convolution
 * layer of the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/model.h"
#include "models/sdvae/sdvae.h"

/* A conv `prefix`.weight [cout, cin, k, k] + .bias [cout], padding k / 2. */
static sc_status load_conv(sdvae *m, weights *w, const char *prefix, int cin, int cout, int k, be_conv **out)
{
    char name[320];
    uint64_t wd[4] = {(uint64_t)cout, (uint64_t)cin, (uint64_t)k, (uint64_t)k}, bd[1] = {(uint64_t)cout};
    const float *wt, *bias;
    float *wown = NULL, *bown = NULL;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = weights_get(w, name, 4, wd, WEIGHTS_POINTWISE_AS_LINEAR, &wt, &wown);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = weights_get(w, name, 1, bd, WEIGHTS_POINTWISE_AS_LINEAR, &bias, &bown);
    const int narrow = cin <= SDVAE_WINOGRAD_MAX_CHANNELS || cout <= SDVAE_WINOGRAD_MAX_CHANNELS;
    if (!s) s = m->base.be->conv_create(m->ctx, cin, cout, k, k / 2, wt, bias, k == 3 && narrow ? BE_CONV_WINOGRAD : BE_CONV_DIRECT, out);
    mem_free(wown);
    mem_free(bown);
    return s;
}

/* The upsampler's 3x3 conv c -> c, folded with the nearest x2 upsampling into a 2x2 conv
 * c -> 4c (sdvae_upsample_weights). */
static sc_status load_upsample(sdvae *m, weights *w, const char *prefix, int c, be_conv **out)
{
    char name[320];
    uint64_t wd[4] = {(uint64_t)c, (uint64_t)c, 3, 3}, bd[1] = {(uint64_t)c};
    const float *wt, *bias;
    float *wown = NULL, *bown = NULL;
    float *w2 = mem_alloc_array((size_t)16 * c * c, sizeof(float), "upsampling weights"); /* [4c, c, 2, 2] */
    float *b4 = mem_alloc_array((size_t)4 * c, sizeof(float), "upsampling bias");         /* [4c] */
    sc_status s = w2 && b4 ? SC_OK : SC_ERR_NOMEM;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!s) s = weights_get(w, name, 4, wd, WEIGHTS_POINTWISE_AS_LINEAR, &wt, &wown);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = weights_get(w, name, 1, bd, WEIGHTS_POINTWISE_AS_LINEAR, &bias, &bown);
    if (!s) {
        sdvae_upsample_weights(w2, wt, c, c);
        for (int p = 0; p < 4; p++) memcpy(b4 + (size_t)p * c, bias, (size_t)c * sizeof *b4);
        s = m->base.be->conv_create(m->ctx, c, 4 * c, 2, 1, w2, b4, BE_CONV_DIRECT, out);
    }
    mem_free(wown);
    mem_free(bown);
    mem_free(w2);
    mem_free(b4);
    return s;
}

static sc_status load_norm(weights *w, const char *prefix, int c, sdvae_norm *n)
{
    char name[320];
    uint64_t d[1] = {(uint64_t)c};
    const float *src;
    float *own = NULL;
    n->c = c;
    n->gamma = mem_alloc_array((size_t)c, sizeof(float), "GroupNorm weights");
    n->beta = mem_alloc_array((size_t)c, sizeof(float), "GroupNorm weights");
    if (!n->gamma || !n->beta) return SC_ERR_NOMEM;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = weights_get(w, name, 1, d, WEIGHTS_POINTWISE_AS_LINEAR, &src, &own);
    if (!s) memcpy(n->gamma, src, (size_t)c * sizeof(float));
    mem_free(own);
    own = NULL;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = weights_get(w, name, 1, d, WEIGHTS_POINTWISE_AS_LINEAR, &src, &own);
    if (!s) memcpy(n->beta, src, (size_t)c * sizeof(float));
    mem_free(own);
    return s;
}

static sc_status load_resnet(sdvae *m, weights *w, const sdvae_names *n, const char *prefix, int cin, int cout,
                             sdvae_resnet *R)
{
    char p[300];
    R->cin = cin;
    R->cout = cout;
    snprintf(p, sizeof p, "%s.norm1", prefix);
    sc_status s = load_norm(w, p, cin, &R->norm1);
    snprintf(p, sizeof p, "%s.conv1", prefix);
    if (!s) s = load_conv(m, w, p, cin, cout, 3, &R->conv1);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    if (!s) s = load_norm(w, p, cout, &R->norm2);
    snprintf(p, sizeof p, "%s.conv2", prefix);
    if (!s) s = load_conv(m, w, p, cout, cout, 3, &R->conv2);
    snprintf(p, sizeof p, "%s.%s", prefix, sdvae_shortcut_name(n));
    if (!s && cin != cout) s = load_conv(m, w, p, cin, cout, 1, &R->shortcut);
    return s;
}

static sc_status load_attention(sdvae *m, weights *w, const sdvae_names *n, int c)
{
    sdvae_attention *A = &m->attn;
    char p[300];
    A->c = c;
    sdvae_attention_name(p, sizeof p, n, SDVAE_ATT_NORM);
    sc_status s = load_norm(w, p, c, &A->norm);
    be_conv **dst[4] = {&A->q, &A->k, &A->v, &A->out};
    for (int i = 0; i < 4 && !s; i++) {
        sdvae_attention_name(p, sizeof p, n, SDVAE_ATT_Q + i);
        s = load_conv(m, w, p, c, c, 1, dst[i]);
    }
    return s;
}

static sc_status load_weights(sdvae *m, weights *w, const sdvae_names *n)
{
    const sdvae_config *c = &m->cfg;
    const int top = c->block_out[c->blocks - 1];
    char p[300];
    sc_status s = SC_OK;
    if (c->post_quant_conv)
        s = load_conv(m, w, "post_quant_conv", c->latent_channels, c->latent_channels, 1, &m->post_quant);
    if (!s) s = load_conv(m, w, "decoder.conv_in", c->latent_channels, top, 3, &m->conv_in);
    for (int i = 0; i < 2 && !s; i++) {
        sdvae_mid_resnet_name(p, sizeof p, n, i);
        s = load_resnet(m, w, n, p, top, top, &m->mid[i]);
    }
    if (!s && c->mid_attention) s = load_attention(m, w, n, top);
    int prev = top;
    for (int b = 0; b < c->blocks && !s; b++) {
        sdvae_up_block *U = &m->up[b];
        U->cout = c->block_out[c->blocks - 1 - b];
        U->n_resnets = c->layers_per_block + 1;
        U->resnets = calloc((size_t)U->n_resnets, sizeof *U->resnets);
        if (!U->resnets) return err_fail(SC_ERR_NOMEM, "out of memory");
        for (int r = 0; r < U->n_resnets && !s; r++) {
            sdvae_up_resnet_name(p, sizeof p, n, c->blocks, b, r);
            s = load_resnet(m, w, n, p, r == 0 ? prev : U->cout, U->cout, &U->resnets[r]);
        }
        if (!s && b < c->blocks - 1) {
            sdvae_upsample_name(p, sizeof p, n, c->blocks, b);
            s = load_upsample(m, w, p, U->cout, &U->upsample);
        }
        prev = U->cout;
    }
    if (!s) s = load_norm(w, sdvae_norm_out_name(n), c->block_out[0], &m->norm_out);
    if (!s) s = load_conv(m, w, "decoder.conv_out", c->block_out[0], c->out_channels, 3, &m->conv_out);
    return s;
}

/* Decoder tensors the configuration did not use are worth a warning (the encoder never is). */
static int not_decoder(const char *name)
{
    return strncmp(name, "decoder.", 8) && strncmp(name, "post_quant_conv.", 16);
}

sc_status sdvae_load(const decoder_probe *p, decoder **out)
{
    *out = NULL;
    weights *w = p->w;
    sdvae *m = calloc(1, sizeof *m);
    if (!m) {
        weights_close(w);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    m->base.family = &decoder_family_sdvae;
    m->base.be = backend_cpu_f32();
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sdvae_names n;
    /* A folder: its config first, then its weights; a lone file: the config off its shapes. */
    sc_status s = p->config ? sdvae_config_from_object(&m->cfg, p->config, p->config_path) : SC_OK;
    if (!s && !w) s = weights_open_folder(p->path, &w);
    if (!s) {
        weights_set_role(w, "VAE");
        s = sdvae_detect_naming(w, &n);
    }
    if (!s && !p->config) s = sdvae_config_from_shapes(&m->cfg, w, &n);
    if (!s) {
        m->cfg.naming = n.naming;
        /* Its convolutions in bf16 when asked (int8: bf16 too); float32 otherwise, whatever the
         * file holds: a decode is ~1% of a generation's time and its output is the picture. */
        const sc_dtype d = p->opts ? p->opts->dtype : SC_DTYPE_AUTO;
        m->base.be = backend_cpu(d == SC_DTYPE_INT8 ? SC_DTYPE_BF16 : d == SC_DTYPE_AUTO ? SC_DTYPE_F32 : d);
        s = m->base.be->ctx_create(&m->ctx);
    }
    if (!s) s = load_weights(m, w, &n);
    if (!s) {
        const char *example;
        const size_t unused = weights_unused(w, not_decoder, &example);
        if (unused)
            err_warn("%s: %zu decoder tensor(s) not used by the configuration, e.g. \"%s\"", p->path, unused, example);
        m->base.latent_channels = m->cfg.latent_channels;
        m->base.out_channels = m->cfg.out_channels;
        m->base.upscale = 1 << (m->cfg.blocks - 1);
        m->base.fingerprint = weights_fingerprint(w); /* the files close here: taken now */
    }
    weights_close(w);
    if (s) {
        sdvae_free(&m->base);
        return s;
    }
    *out = &m->base;
    return SC_OK;
}

static void free_norm(sdvae_norm *n)
{
    mem_free(n->gamma);
    mem_free(n->beta);
}

static void free_resnet(const backend *be, sdvae_resnet *R)
{
    free_norm(&R->norm1);
    free_norm(&R->norm2);
    be->conv_free(R->conv1);
    be->conv_free(R->conv2);
    be->conv_free(R->shortcut);
}

void sdvae_free(decoder *d)
{
    if (!d) return;
    sdvae *m = (sdvae *)d;
    const backend *be = d->be;
    be->conv_free(m->post_quant);
    be->conv_free(m->conv_in);
    for (int i = 0; i < 2; i++) free_resnet(be, &m->mid[i]);
    free_norm(&m->attn.norm);
    be->conv_free(m->attn.q);
    be->conv_free(m->attn.k);
    be->conv_free(m->attn.v);
    be->conv_free(m->attn.out);
    for (int b = 0; b < SDVAE_MAX_BLOCKS; b++) {
        for (int r = 0; m->up[b].resnets && r < m->up[b].n_resnets; r++) free_resnet(be, &m->up[b].resnets[r]);
        free(m->up[b].resnets);
        be->conv_free(m->up[b].upsample);
    }
    free_norm(&m->norm_out);
    be->conv_free(m->conv_out);
    sdvae_ws_free(m);
    if (m->ctx) be->ctx_free(m->ctx);
    free(m);
}

void sdvae_upsample_weights(float *w2, const float *w3, int co, int ci)
{
    /* fold[a][u][y]: weight of 3x3 tap row y in 2x2 tap row u for phase a. */
    static const int fold[2][2][3] = {{{1, 0, 0}, {0, 1, 1}}, {{1, 1, 0}, {0, 0, 1}}};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int o = 0; o < co; o++)
                for (int i = 0; i < ci; i++) {
                    const float *k3 = w3 + ((size_t)o * ci + i) * 9;                     /* [3, 3] */
                    float *k2 = w2 + (((size_t)(2 * a + b) * co + o) * ci + i) * 4;      /* [2, 2] */
                    for (int u = 0; u < 2; u++)
                        for (int v = 0; v < 2; v++) {
                            double acc = 0;
                            for (int y = 0; y < 3; y++)
                                for (int x = 0; x < 3; x++)
                                    if (fold[a][u][y] && fold[b][v][x]) acc += k3[y * 3 + x];
                            k2[u * 2 + v] = (float)acc;
                        }
                }
}
