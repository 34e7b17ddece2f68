/* The decoder forward pass, one image at a time in NHWC (docs/FORMATS.md, "The SD-VAE decoder"):
 *   post_quant_conv -> conv_in -> mid (resnet, attention, resnet) -> up blocks (resnets, then
 *   nearest x2 + conv, folded into one 2x2 conv) -> GroupNorm + SiLU -> conv_out.
 * Three activation buffers rotate: a resnet adds its second conv into the buffer that holds its
 * input (oneDNN's fused sum), so no residual copy is ever made. */
#include <math.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "models/sdvae/sdvae.h"

#define GN_EPS 1e-6f

static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* Largest of the per-image tensors at latent side S, in floats (0 on overflow). */
static size_t buffer_floats(const sdvae_config *c, int S)
{
    uint64_t need = 0, v;
    int s = S;
    const int top = c->block_out[c->blocks - 1];
    /* latents [S, S, L], mid [S, S, top] */
    uint64_t per_pixel = (uint64_t)(c->latent_channels > top ? c->latent_channels : top);
    if (!ck_mul3((uint64_t)S, (uint64_t)S, per_pixel, &need)) return 0;
    int prev = top;
    for (int b = 0; b < c->blocks; b++) {
        const int cout = c->block_out[c->blocks - 1 - b];
        const int widest = prev > cout ? prev : cout;
        /* resnets [s, s, max(cin, cout)] */
        if (!ck_mul3((uint64_t)s, (uint64_t)s, (uint64_t)widest, &v)) return 0;
        if (v > need) need = v;
        if (b < c->blocks - 1) {
            /* folded upsampling conv [s+1, s+1, 4 cout], then [2s, 2s, cout] */
            if (!ck_mul3((uint64_t)s + 1, (uint64_t)s + 1, 4 * (uint64_t)cout, &v)) return 0;
            if (v > need) need = v;
            s *= 2;
        }
        prev = cout;
    }
    /* conv_out [F, F, out] */
    if (!ck_mul3((uint64_t)s, (uint64_t)s, (uint64_t)c->out_channels, &v)) return 0;
    if (v > need) need = v;
    size_t r;
    return ck_to_size(need, &r) ? r : 0;
}

void sdvae_ws_free(sdvae *m)
{
    const backend *be = m->base.be;
    sdvae_ws *ws = &m->ws;
    for (int i = 0; i < 3; i++) be->release(ws->buf[i]);
    be->release(ws->q);
    be->release(ws->k);
    be->release(ws->v);
    be->release(ws->scores);
    mem_free(ws->stats);
    memset(ws, 0, sizeof *ws);
}

/* Buffers for latent side S, kept until a decode of another size. */
static sc_status workspace_prepare(sdvae *m, int S)
{
    const backend *be = m->base.be;
    sdvae_ws *ws = &m->ws;
    if (ws->size == S) return SC_OK;
    sdvae_ws_free(m);
    const sdvae_config *c = &m->cfg;
    const size_t floats = buffer_floats(c, S);
    if (!floats) return err_fail(SC_ERR_ARG, "latent size %d is too large for the VAE", S);
    int widest = c->latent_channels > c->out_channels ? c->latent_channels : c->out_channels;
    for (int b = 0; b < c->blocks; b++) widest = c->block_out[b] > widest ? c->block_out[b] : widest;
    for (int i = 0; i < 3; i++)
        if (!(ws->buf[i] = be->alloc(floats, "VAE activations"))) return SC_ERR_NOMEM;
    if (!(ws->stats = mem_alloc_array(3 * (size_t)widest, sizeof(double), "GroupNorm scratch"))) return SC_ERR_NOMEM;
    if (m->attn.c) {
        const size_t T = (size_t)S * S, C = (size_t)m->attn.c;
        if (!(ws->q = be->alloc(T * C, "attention queries")) || !(ws->k = be->alloc(T * C, "attention keys")) ||
            !(ws->v = be->alloc(T * C, "attention values")) ||
            !(ws->scores = be->alloc(be->attention_scratch(1, (int)T, 1), "attention scores")))
            return SC_ERR_NOMEM;
    }
    ws->size = S;
    ws->floats = floats;
    return SC_OK;
}

/* x [s, s, cin] -> x [s, s, cout] (the buffer may change: *x, *t1, *t2 rotate).
 * out = shortcut(x) + conv2(SiLU(GN2(conv1(SiLU(GN1(x)))))). */
static sc_status resnet(sdvae *m, const sdvae_resnet *R, int s, float **x, float **t1, float **t2)
{
    const backend *be = m->base.be;
    const long P = (long)s * s;
    const int G = m->cfg.groups;
    double *st = m->ws.stats;
    sc_status e;
    be->group_norm(*t1, *x, P, R->cin, G, GN_EPS, R->norm1.gamma, R->norm1.beta, 1, st);          /* t1 [P, cin] */
    if ((e = be->conv(m->ctx, R->conv1, 1, s, s, *t1, *t2, BE_CONV_OVERWRITE))) return e;          /* t2 [P, cout] */
    be->group_norm(*t1, *t2, P, R->cout, G, GN_EPS, R->norm2.gamma, R->norm2.beta, 1, st);        /* t1 [P, cout] */
    if (R->shortcut) {
        if ((e = be->conv(m->ctx, R->shortcut, 1, s, s, *x, *t2, BE_CONV_OVERWRITE))) return e;   /* t2 [P, cout] */
        if ((e = be->conv(m->ctx, R->conv2, 1, s, s, *t1, *t2, BE_CONV_ACCUMULATE))) return e;    /* t2 += conv2(t1) */
        swap(x, t2);
        return SC_OK;
    }
    return be->conv(m->ctx, R->conv2, 1, s, s, *t1, *x, BE_CONV_ACCUMULATE); /* x [P, cout] += conv2(t1) */
}

/* x [T, C] += out(softmax(q k^T / sqrt(C)) v), q, k, v = linears of GN(x); T = s^2, one head,
 * through the backend's attention (which bounds the scores it holds at once). t1 is scratch
 * [T, C]. */
static sc_status attention(sdvae *m, int s, float *x, float *t1)
{
    const backend *be = m->base.be;
    const sdvae_attention *A = &m->attn;
    sdvae_ws *ws = &m->ws;
    const int T = s * s, C = A->c;
    sc_status e;
    be->group_norm(t1, x, (long)T, C, m->cfg.groups, GN_EPS, A->norm.gamma, A->norm.beta, 0, ws->stats); /* t1 [T, C] */
    if ((e = be->conv(m->ctx, A->q, 1, s, s, t1, ws->q, BE_CONV_OVERWRITE)) ||  /* q [T, C] */
        (e = be->conv(m->ctx, A->k, 1, s, s, t1, ws->k, BE_CONV_OVERWRITE)) ||  /* k [T, C] */
        (e = be->conv(m->ctx, A->v, 1, s, s, t1, ws->v, BE_CONV_OVERWRITE)))    /* v [T, C] */
        return e;
    /* t1 [T, C] = softmax(q k^T / sqrt(C)) v */
    if ((e = be->attention(m->ctx, ws->q, ws->k, ws->v, C, t1, NULL, ws->scores, 1, T, 1, C))) return e;
    return be->conv(m->ctx, A->out, 1, s, s, t1, x, BE_CONV_ACCUMULATE); /* x [T, C] += out(t1) */
}

/* latent [L, S, S] -> image [out, F, F], F = S * 2^(blocks - 1). */
static sc_status decode_one(sdvae *m, int S, const float *latent, float *image)
{
    const backend *be = m->base.be;
    const sdvae_config *c = &m->cfg;
    float *x = m->ws.buf[0], *t1 = m->ws.buf[1], *t2 = m->ws.buf[2];
    const int L = c->latent_channels;
    int s = S;
    sc_status e;
    be->planes_to_pixels(t1, latent, L, (long)S * S, (float)c->scaling_factor, (float)c->shift_factor); /* t1 [S, S, L] */
    if (m->post_quant) {
        if ((e = be->conv(m->ctx, m->post_quant, 1, S, S, t1, t2, BE_CONV_OVERWRITE))) return e; /* t2 [S, S, L] */
        swap(&t1, &t2);
    }
    if ((e = be->conv(m->ctx, m->conv_in, 1, S, S, t1, x, BE_CONV_OVERWRITE))) return e; /* x [S, S, top] */
    if ((e = resnet(m, &m->mid[0], s, &x, &t1, &t2))) return e;
    if (m->attn.c && (e = attention(m, s, x, t1))) return e;
    if ((e = resnet(m, &m->mid[1], s, &x, &t1, &t2))) return e;
    for (int b = 0; b < c->blocks; b++) {
        const sdvae_up_block *U = &m->up[b];
        for (int r = 0; r < U->n_resnets; r++)
            if ((e = resnet(m, &U->resnets[r], s, &x, &t1, &t2))) return e; /* x [s, s, cout] */
        if (U->upsample) {
            if ((e = be->conv(m->ctx, U->upsample, 1, s, s, x, t1, BE_CONV_OVERWRITE))) return e; /* t1 [s+1, s+1, 4 cout] */
            be->upsample_shuffle(t2, t1, s, U->cout); /* t2 [2s, 2s, cout] */
            swap(&x, &t2);
            s *= 2;
        }
    }
    const int c0 = c->block_out[0];
    be->group_norm(t1, x, (long)s * s, c0, c->groups, GN_EPS, m->norm_out.gamma, m->norm_out.beta, 1, m->ws.stats); /* t1 [F, F, c0] */
    if ((e = be->conv(m->ctx, m->conv_out, 1, s, s, t1, t2, BE_CONV_OVERWRITE))) return e; /* t2 [F, F, out] */
    be->pixels_to_planes(image, t2, c->out_channels, (long)s * s); /* image [out, F, F] */
    return SC_OK;
}

sc_status sdvae_decode(decoder *d, int n, int size, const float *latents, float *images, int threads)
{
    sdvae *m = (sdvae *)d;
    if (n < 1) return err_fail(SC_ERR_ARG, "VAE decode: batch size %d must be positive", n);
    if (size < 1 || size > 1024) return err_fail(SC_ERR_ARG, "VAE decode: latent size %d is outside [1, 1024]", size);
    if (threads > 0) d->be->set_threads(threads);
    sc_status e = workspace_prepare(m, size);
    if (e) return e;
    const int F = size * d->upscale;
    const size_t per_latent = (size_t)m->cfg.latent_channels * size * size;
    const size_t per_image = (size_t)m->cfg.out_channels * F * F;
    for (int i = 0; i < n; i++)
        if ((e = decode_one(m, size, latents + i * per_latent, images + i * per_image))) return e;
    return SC_OK;
}
