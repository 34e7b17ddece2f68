/* The Oobleck decoder's forward on activations [time, channels]: each convolution one product per
 * chunk of time steps over its im2col rows (a transposed one: the product, then col2im with its
 * stride), Snake element-wise, the residual adds. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/oobleck/oobleck.h"

#define CHUNK 2048 /* time steps per product */

static int64_t up_length(int64_t L, const oobleck_convt *t) { return (L - 1) * t->stride - 2 * t->pad + t->k; }

int64_t oobleck_out_length(const decoder *d, int64_t frames)
{
    const oobleck *m = (const oobleck *)d;
    int64_t L = frames;
    for (int i = 0; i < m->cfg.n_blocks; i++) L = up_length(L, &m->blocks[i].up);
    return L;
}

typedef struct {
    float *a, *b, *c;   /* activations [L, C], the largest stage's size each */
    float *col;         /* [CHUNK, C k] */
} bufs;

/* y [L, out] = conv(x [L, in]). */
static sc_status conv(const oobleck *m, const oobleck_conv *cv, const float *x, int64_t L, float *y, float *col)
{
    const backend *be = m->base.be;
    for (int64_t t0 = 0; t0 < L; t0 += CHUNK) {
        const int64_t n = L - t0 < CHUNK ? L - t0 : CHUNK;
        const float *rows = x + t0 * cv->in;
        if (cv->k != 1) {
            be->im2col1d(col, x, L, cv->in, cv->k, cv->dilation, cv->pad, t0, n);  /* [n, in k] */
            rows = col;
        }
        sc_status s = be->linear(m->ctx, &cv->lin, n, rows, y + t0 * cv->out, cv->out, BE_POST_NONE); /* [n, out] */
        if (s) return s;
    }
    return SC_OK;
}

/* y [Lo, out] = convT(x [L, in]) + bias. */
static sc_status conv_t(const oobleck *m, const oobleck_convt *cv, const float *x, int64_t L, float *y, float *z)
{
    const backend *be = m->base.be;
    const int64_t Lo = up_length(L, cv);
    memset(y, 0, (size_t)Lo * cv->out * sizeof *y);
    for (int64_t i0 = 0; i0 < L; i0 += CHUNK) {
        const int64_t n = L - i0 < CHUNK ? L - i0 : CHUNK;
        sc_status s = be->linear(m->ctx, &cv->lin, n, x + i0 * cv->in, z, (int64_t)cv->out * cv->k, BE_POST_NONE);
        if (s) return s;                                                              /* z [n, out k] */
        be->col2im1d_add(y, Lo, z, cv->out, cv->k, cv->stride, cv->pad, i0, n);
    }
    be->add_pos(y, cv->bias, (int)Lo, 1, cv->out);                                    /* + bias per row */
    return SC_OK;
}

/* One sample: x [S, Cin] in b->a -> waveform rows [Lout, audio] in b->a. */
static sc_status run(const oobleck *m, bufs *b, int64_t S)
{
    const backend *be = m->base.be;
    const oobleck_config *c = &m->cfg;
    int64_t L = S;
    sc_status s = conv(m, &m->conv1, b->a, L, b->b, b->col);                          /* [S, C0] */
    float *h = b->b, *t = b->a, *u = b->c;
    for (int i = 0; i < c->n_blocks && !s; i++) {
        const oobleck_block *blk = &m->blocks[i];
        be->snake(t, h, L, blk->up.in, blk->snake.a, blk->snake.ib);
        s = conv_t(m, &blk->up, t, L, h, b->col);                                     /* [Lo, out] */
        L = up_length(L, &blk->up);
        const int C = blk->up.out;
        for (int r = 0; r < 3 && !s; r++) {
            const oobleck_res *ru = &blk->res[r];
            be->snake(t, h, L, C, ru->s1.a, ru->s1.ib);
            s = conv(m, &ru->c1, t, L, u, b->col);                                    /* [L, C] */
            if (s) break;
            be->snake(u, u, L, C, ru->s2.a, ru->s2.ib);
            s = conv(m, &ru->c2, u, L, t, b->col);
            if (!s) be->add(h, t, (size_t)L * C);                                     /* residual */
        }
    }
    if (s) return s;
    be->snake(t, h, L, c->channels, m->snake.a, m->snake.ib);
    s = conv(m, &m->conv2, t, L, u, b->col);                                          /* [L, audio] */
    if (!s) be->copy(b->a, u, (size_t)L * c->audio_channels);
    return s;
}

sc_status oobleck_decode_seq(decoder *d, int n, int64_t frames, const float *latents, float *out, int threads)
{
    oobleck *m = (oobleck *)d;
    const backend *be = m->base.be;
    const oobleck_config *c = &m->cfg;
    if (threads > 0) be->set_threads(threads);
    /* The largest activation and im2col / product chunk over the stages. */
    uint64_t most = (uint64_t)frames * (uint64_t)(c->input_channels > m->conv1.out ? c->input_channels : m->conv1.out);
    uint64_t col = (uint64_t)CHUNK * (uint64_t)c->input_channels * 7;
    int64_t L = frames;
    for (int i = 0; i < c->n_blocks; i++) {
        const oobleck_convt *up = &m->blocks[i].up;
        const uint64_t before = (uint64_t)L * up->in;
        L = up_length(L, up);
        const uint64_t after = (uint64_t)L * up->out;
        most = before > most ? before : most;
        most = after > most ? after : most;
        const uint64_t z = (uint64_t)CHUNK * up->out * up->k, cc = (uint64_t)CHUNK * up->out * 7;
        col = z > col ? z : col;
        col = cc > col ? cc : col;
    }
    const uint64_t last = (uint64_t)CHUNK * c->channels * 7;
    col = last > col ? last : col;
    if (most > (uint64_t)1 << 34)
        return err_fail(SC_ERR_ARG, "%lld latent frames: the decoder's activations would not fit in memory",
                        (long long)frames);
    bufs b = {be->alloc(most, "decoder activations"), be->alloc(most, "decoder activations"),
              be->alloc(most, "decoder activations"), be->alloc(col, "decoder columns")};
    sc_status s = b.a && b.b && b.c && b.col ? SC_OK : SC_ERR_NOMEM;
    const size_t lat = (size_t)c->input_channels * frames, wav = (size_t)c->audio_channels * L;
    for (int i = 0; i < n && !s; i++) {
        be->patchify(b.a, latents + i * lat, 1, c->input_channels, 1, (int)frames, 1);  /* [S, Cin] */
        s = run(m, &b, frames);
        if (!s) be->unpatchify(out + i * wav, b.a, 1, c->audio_channels, 1, (int)L, 1); /* [audio, L] */
    }
    be->release(b.a);
    be->release(b.b);
    be->release(b.c);
    be->release(b.col);
    return s;
}
