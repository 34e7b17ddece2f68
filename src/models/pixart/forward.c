/* The PixArt forward pass (docs/FAMILIES.md, "PixArt") in the steps of models/model.h: patch
 * embed + the grid's position table, the timestep (and micro-condition) embedding, adaLN-single
 * and the caption projection (embed); each block's modulation = the shared projection + its
 * scale-shift table (block); self-attention, cross-attention and MLP before their gates
 * (component); the final layer modulated by the embedding itself, and unpatchify (final). The
 * runner adds self-attention and MLP with gates 2 and 5 and the cross-attention as is. */
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "models/pixart/pixart.h"

static pixart_ws *ws_of(model_ws *ws) { return (pixart_ws *)ws; }

static void free_text(const backend *be, pixart_ws *ws)
{
    float *all[] = {ws->y, ws->yhid, ws->xkv, ws->xscores, ws->text_seen, ws->bias_seen};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->release(all[i]);
    mem_free(ws->xkv_ready);
    ws->y = ws->yhid = ws->xkv = ws->xscores = ws->text_seen = ws->bias_seen = NULL;
    ws->xkv_ready = NULL;
    ws->text_cap = ws->seen_rows = ws->seen_len = 0;
}

void pixart_ws_free(const model *m, model_ws *base)
{
    if (!base) return;
    const backend *be = m->be;
    pixart_ws *ws = ws_of(base);
    free_text(be, ws);
    float *all[] = {base->h,       base->sub,    ws->pos,      ws->z,         ws->qkv,  ws->att,
                    ws->hid,       ws->scores,   ws->dense,    ws->patches,   ws->out_tok, ws->temb_freq,
                    ws->temb_hid,  ws->cond_part, ws->c,       ws->silu_c,    ws->shared, ws->mod,
                    ws->tvals};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->release(all[i]);
    if (base->ctx) be->ctx_free(base->ctx);
    free(ws);
}

sc_status pixart_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out)
{
    const pixart_config *c = &pixart_of(m)->cfg;
    const backend *be = m->be;
    if (!shape || !shape->rank) shape = &m->latent;
    SC_ASSERT(shape->rank == 3 && shape->dims[1] % c->patch == 0 && shape->dims[2] % c->patch == 0);
    pixart_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return err_fail(SC_ERR_NOMEM, "out of memory");
    model_ws *base = &ws->base;
    ws->gh = shape->dims[1] / c->patch;
    ws->gw = shape->dims[2] / c->patch;
    const size_t B = (size_t)rows, T = (size_t)ws->gh * ws->gw, D = (size_t)c->hidden;
    const size_t K = (size_t)c->in_channels * c->patch * c->patch;
    const size_t O = (size_t)c->out_channels * c->patch * c->patch;
    base->capacity = base->rows = rows;
    base->latent = *shape;
    base->tokens = (int)T;
    base->mod_stride = 6 * c->hidden;
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&base->h, B * T * D, "residual stream"},
        {&base->sub, B * T * D, "sub-layer output"},
        {&ws->pos, T * D, "position table"},
        {&ws->z, B * T * D, "modulated input"},
        {&ws->qkv, B * T * 3 * D, "qkv"},
        {&ws->att, B * T * D, "attention output"},
        {&ws->hid, B * T * 4 * D, "MLP hidden"},
        {&ws->scores, be->attention_scratch((int)B, (int)T, c->heads), "attention scores"},
        {&ws->dense, 3 * B * T * D, "attention inputs"},
        {&ws->patches, B * T * K, "patches"},
        {&ws->out_tok, B * T * O, "output tokens"},
        {&ws->temb_freq, 2 * B * 256, "timestep features"},
        {&ws->temb_hid, 2 * B * D, "timestep hidden"},
        {&ws->cond_part, 2 * B * D, "conditioning"},
        {&ws->c, B * D, "conditioning"},
        {&ws->silu_c, B * D, "conditioning"},
        {&ws->shared, B * 6 * D, "modulation"},
        {&ws->mod, B * 6 * D, "modulation"},
        {&ws->tvals, 2 * B, "timesteps"},
    };
    sc_status s = SC_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && !s; i++)
        if (!(*bufs[i].p = be->alloc(bufs[i].n, bufs[i].what))) s = SC_ERR_NOMEM;
    if (!s) s = be->ctx_create(&base->ctx);
    if (s) {
        pixart_ws_free(m, base);
        return s;
    }
    pixart_pos_embed(ws->pos, ws->gh, ws->gw, c->grid, c->interpolation_scale, c->hidden);
    base->mod = ws->mod;
    *out = base;
    return SC_OK;
}

/* The text buffers for L tokens per row (kept while L does not grow). */
static sc_status text_buffers(const pixart_model *m, pixart_ws *ws, int L)
{
    if (L <= ws->text_cap) return SC_OK;
    const backend *be = m->base.be;
    const pixart_config *c = &m->cfg;
    free_text(be, ws);
    const size_t B = (size_t)ws->base.capacity, D = (size_t)c->hidden, T = (size_t)ws->base.tokens;
    uint64_t kv;
    if (!ck_mul3((uint64_t)c->depth * 2, B * (size_t)L, D, &kv) || kv > SIZE_MAX / sizeof(float))
        return err_fail(SC_ERR_NOMEM, "text of %d tokens: the cross-attention keys do not fit in memory", L);
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&ws->y, B * L * D, "caption"},
        {&ws->yhid, B * L * D, "caption hidden"},
        {&ws->xkv, (size_t)kv, "cross-attention keys and values"},
        {&ws->xscores, be->attention_cross_scratch((int)B, (int)T, L, c->heads), "cross-attention scores"},
        {&ws->text_seen, B * L * (size_t)c->caption_channels, "text"},
        {&ws->bias_seen, B * L, "text mask"},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (!(*bufs[i].p = be->alloc(bufs[i].n, bufs[i].what))) {
            free_text(be, ws);
            return SC_ERR_NOMEM;
        }
    if (!(ws->xkv_ready = mem_alloc_array((size_t)c->depth, 1, "cross-attention state"))) {
        free_text(be, ws);
        return SC_ERR_NOMEM;
    }
    ws->text_cap = L;
    return SC_OK;
}

/* y [B*L, D] = cap2(GELU_tanh(cap1(text))) when the text (or its mask) differs from the last one
 * seen; then every block's cross keys and values are stale. */
static sc_status caption(const pixart_model *m, pixart_ws *ws, const model_cond *c)
{
    const backend *be = m->base.be;
    const int B = ws->base.rows, L = c->text_len, D = m->cfg.hidden, Cc = m->cfg.caption_channels;
    sc_status s = text_buffers(m, ws, L);
    if (s) return s;
    const size_t nt = (size_t)B * L * Cc, nb = (size_t)B * L;
    if (ws->seen_len == L && ws->seen_rows >= B && !memcmp(ws->text_seen, c->text, nt * sizeof(float)) &&
        !memcmp(ws->bias_seen, c->text_bias, nb * sizeof(float)))
        return SC_OK;
    s = be->linear(ws->base.ctx, &m->w.cap1, (int64_t)B * L, c->text, ws->yhid, D, BE_POST_GELU_TANH); /* [B*L, D] */
    if (!s) s = be->linear(ws->base.ctx, &m->w.cap2, (int64_t)B * L, ws->yhid, ws->y, D, BE_POST_NONE); /* [B*L, D] */
    if (s) {
        ws->seen_rows = ws->seen_len = 0;
        return s;
    }
    memcpy(ws->text_seen, c->text, nt * sizeof(float));
    memcpy(ws->bias_seen, c->text_bias, nb * sizeof(float));
    ws->seen_rows = B;
    ws->seen_len = L;
    memset(ws->xkv_ready, 0, (size_t)m->cfg.depth);
    return SC_OK;
}

/* c [B, D] = timestep embedding (+ [emb(height) | emb(width) | emb(aspect ratio)]). */
static sc_status embedding(const pixart_model *m, pixart_ws *ws, const float *t, const model_cond *cond)
{
    const backend *be = m->base.be;
    const pixart_weights *w = &m->w;
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, D = m->cfg.hidden, D3 = D / 3;
    be->timestep_features(ws->temb_freq, t, B, 128);                                   /* [B, 256] */
    sc_status s = be->linear(ctx, &w->t1, B, ws->temb_freq, ws->temb_hid, D, BE_POST_NONE); /* [B, D] */
    if (s) return s;
    be->silu(ws->temb_hid, ws->temb_hid, (size_t)B * D);
    if ((s = be->linear(ctx, &w->t2, B, ws->temb_hid, ws->c, D, BE_POST_NONE))) return s; /* [B, D] */
    if (!m->cfg.micro) return SC_OK;
    /* Height and width (pixels) through the resolution embedder, two rows per sample. */
    for (int b = 0; b < B; b++) {
        if (cond->extra) {
            ws->tvals[2 * b] = cond->extra[(size_t)b * cond->n_extra];
            ws->tvals[2 * b + 1] = cond->extra[(size_t)b * cond->n_extra + 1];
        } else {
            ws->tvals[2 * b] = 8.0f * (float)ws->base.latent.dims[1];
            ws->tvals[2 * b + 1] = 8.0f * (float)ws->base.latent.dims[2];
        }
    }
    be->timestep_features(ws->temb_freq, ws->tvals, 2 * B, 128);                       /* [2B, 256] */
    if ((s = be->linear(ctx, &w->r1, 2 * B, ws->temb_freq, ws->temb_hid, D3, BE_POST_NONE))) return s; /* [2B, D/3] */
    be->silu(ws->temb_hid, ws->temb_hid, (size_t)2 * B * D3);
    if ((s = be->linear(ctx, &w->r2, 2 * B, ws->temb_hid, ws->cond_part, D3, BE_POST_NONE))) return s;
    /* [2B, D/3] is [B, 2D/3]: row b = [emb(height_b) | emb(width_b)]. */
    for (int b = 0; b < B; b++) be->add(ws->c + (size_t)b * D, ws->cond_part + (size_t)b * 2 * D3, (size_t)2 * D3);
    /* The aspect ratio height / width, as the pipelines compute it (in double, then float). */
    for (int b = 0; b < B; b++)
        ws->tvals[b] = cond->extra ? cond->extra[(size_t)b * cond->n_extra + 2]
                                   : (float)((double)ws->base.latent.dims[1] / ws->base.latent.dims[2]);
    be->timestep_features(ws->temb_freq, ws->tvals, B, 128);                           /* [B, 256] */
    if ((s = be->linear(ctx, &w->a1, B, ws->temb_freq, ws->temb_hid, D3, BE_POST_NONE))) return s; /* [B, D/3] */
    be->silu(ws->temb_hid, ws->temb_hid, (size_t)B * D3);
    if ((s = be->linear(ctx, &w->a2, B, ws->temb_hid, ws->cond_part, D3, BE_POST_NONE))) return s;
    for (int b = 0; b < B; b++) be->add(ws->c + (size_t)b * D + 2 * D3, ws->cond_part + (size_t)b * D3, (size_t)D3);
    return SC_OK;
}

sc_status pixart_embed(const model *base, model_ws *wsb, const float *x, const float *t, const model_cond *cond)
{
    const pixart_model *m = pixart_of(base);
    const backend *be = base->be;
    pixart_ws *ws = ws_of(wsb);
    const pixart_config *c = &m->cfg;
    const int B = wsb->rows, T = wsb->tokens, D = c->hidden;
    SC_ASSERT(cond->rows >= B && cond->text && cond->text_bias && cond->text_dim == c->caption_channels);
    be->patchify(ws->patches, x, B, c->in_channels, wsb->latent.dims[1], wsb->latent.dims[2], c->patch); /* [B*T, C p p] */
    sc_status s = be->linear(wsb->ctx, &m->w.x_embed, (int64_t)B * T, ws->patches, wsb->h, D, BE_POST_NONE);
    if (s) return s;
    be->add_pos(wsb->h, ws->pos, B, T, D);                                             /* h [B*T, D] */
    if ((s = embedding(m, ws, t, cond))) return s;                                     /* c [B, D] */
    be->silu(ws->silu_c, ws->c, (size_t)B * D);
    s = be->linear(wsb->ctx, &m->w.ada, B, ws->silu_c, ws->shared, 6 * D, BE_POST_NONE); /* [B, 6D] */
    if (s) return s;
    ws->bias = cond->text_bias;
    ws->text_len = cond->text_len;
    return caption(m, ws, cond);                                                       /* y [B*L, D] */
}

/* mod [B, 6D] = shared + sst_l: shift, scale, gate (attention), shift, scale, gate (MLP). */
sc_status pixart_block_modulation(const model *base, model_ws *wsb, int l)
{
    const pixart_model *m = pixart_of(base);
    pixart_ws *ws = ws_of(wsb);
    const size_t n6 = 6 * (size_t)m->cfg.hidden;
    base->be->copy(ws->mod, ws->shared, (size_t)wsb->rows * n6);
    base->be->add_pos(ws->mod, m->w.blocks[l].sst, wsb->rows, 1, (int)n6);
    return SC_OK;
}

sc_status pixart_modulated_input(const model *base, model_ws *wsb, int l, float *out)
{
    const pixart_model *m = pixart_of(base);
    const pixart_ws *ws = ws_of(wsb);
    const int D = m->cfg.hidden;
    (void)l; /* ws->mod holds block l's modulation: block() was called for l */
    base->be->ln_modulate(out, wsb->h, wsb->rows, wsb->tokens, D, m->cfg.eps, ws->mod, ws->mod + D, 6 * D);
    return SC_OK;
}

/* out [B*T, D] = proj(Attn(LN(h) * (1 + scale_msa) + shift_msa)) (before the gate). */
static sc_status self_attention(const pixart_model *m, pixart_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const pixart_config *c = &m->cfg;
    const pixart_block *blk = &m->w.blocks[l];
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, T = ws->base.tokens, D = c->hidden;
    const int64_t M = (int64_t)B * T;
    const int fused = blk->qkv.w || blk->qkv.prep;
    be_rows z; /* LN(h) (1 + scale_msa) + shift_msa [M, D], as the products' input */
    sc_status s = be->ln_modulate_rows(ctx, fused ? &blk->qkv : &blk->q, ws->z, ws->base.h, B, T, D, c->eps, ws->mod,
                                       ws->mod + D, 6 * D, &z);
    const float *q, *k, *v;
    int64_t ld;
    if (fused) {
        if (!s) s = be->linear_rows(ctx, &blk->qkv, &z, ws->qkv, 3 * D, BE_POST_NONE);   /* [M, 3D] */
        q = ws->qkv, k = ws->qkv + D, v = ws->qkv + 2 * D, ld = 3 * D;
    } else {
        /* Separate q, k, v weights (kept as mapped) fill three dense [M, D] thirds. */
        q = ws->qkv, k = ws->qkv + M * D, v = ws->qkv + 2 * M * D, ld = D;
        if (!s) s = be->linear_rows(ctx, &blk->q, &z, ws->qkv, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->k, &z, ws->qkv + M * D, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->v, &z, ws->qkv + 2 * M * D, D, BE_POST_NONE);
    }
    if (!s) s = be->attention(ctx, q, k, v, ld, ws->att, ws->dense, ws->scores, B, T, c->heads, c->head_dim);
    if (!s) s = be->linear(ctx, &blk->proj, M, ws->att, out, D, BE_POST_NONE);      /* [M, D] */
    return s;
}

/* out [B*T, D] = xproj(softmax(xq(h) xk(y)^T / sqrt(hd) + bias) xv(y)): the raw stream queries the
 * caption, no norm, no gate. The keys and values [B*L, D] of block l are computed once per text. */
static sc_status cross_attention(const pixart_model *m, pixart_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const pixart_config *c = &m->cfg;
    const pixart_block *blk = &m->w.blocks[l];
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, T = ws->base.tokens, D = c->hidden, L = ws->text_len;
    const int64_t M = (int64_t)B * T, ML = (int64_t)B * L;
    /* Block l's [2, capacity * text_cap, D]: keys, then values. */
    const size_t half = (size_t)ws->base.capacity * ws->text_cap * D;
    float *kx = ws->xkv + (size_t)l * 2 * half, *vx = kx + half;
    sc_status s = SC_OK;
    if (!ws->xkv_ready[l]) {
        s = be->linear(ctx, &blk->xk, ML, ws->y, kx, D, BE_POST_NONE);                 /* [B*L, D] */
        if (!s) s = be->linear(ctx, &blk->xv, ML, ws->y, vx, D, BE_POST_NONE);         /* [B*L, D] */
        if (s) return s;
        ws->xkv_ready[l] = 1;
    }
    s = be->linear(ctx, &blk->xq, M, ws->base.h, ws->qkv, D, BE_POST_NONE);           /* [M, D] */
    if (!s) s = be->attention_cross(ctx, ws->qkv, kx, vx, ws->att, ws->xscores, B, T, L, c->heads, c->head_dim,
                                    ws->bias);                                         /* [M, D] */
    if (!s) s = be->linear(ctx, &blk->xproj, M, ws->att, out, D, BE_POST_NONE);       /* [M, D] */
    return s;
}

/* out [B*T, D] = fc2(GELU_tanh(fc1(LN(h) * (1 + scale_mlp) + shift_mlp))) (before the gate). */
static sc_status mlp(const pixart_model *m, pixart_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const pixart_config *c = &m->cfg;
    const pixart_block *blk = &m->w.blocks[l];
    const int B = ws->base.rows, T = ws->base.tokens, D = c->hidden;
    be_rows z; /* LN(h) (1 + scale_mlp) + shift_mlp [M, D], as fc1's input */
    sc_status s = be->ln_modulate_rows(ws->base.ctx, &blk->fc1, ws->z, ws->base.h, B, T, D, c->eps, ws->mod + 3 * D,
                                       ws->mod + 4 * D, 6 * D, &z);
    /* out [M, D] = fc2(GELU(fc1(z))), the hidden [M, 4D] kept in fc2's input type */
    if (!s) s = be->mlp(ws->base.ctx, &blk->fc1, &blk->fc2, &z, ws->hid, out, D, BE_POST_GELU_TANH);
    return s;
}

sc_status pixart_component(const model *m, model_ws *ws, int l, int k, float *out)
{
    SC_ASSERT(k >= 0 && k <= 2);
    const pixart_model *p = pixart_of(m);
    return k == 0 ? self_attention(p, ws_of(ws), l, out)
           : k == 1 ? cross_attention(p, ws_of(ws), l, out)
                    : mlp(p, ws_of(ws), l, out);
}

sc_status pixart_final(const model *base, model_ws *wsb, float *out)
{
    const pixart_model *m = pixart_of(base);
    const backend *be = base->be;
    pixart_ws *ws = ws_of(wsb);
    const pixart_config *c = &m->cfg;
    const int B = wsb->rows, T = wsb->tokens, D = c->hidden;
    /* [B, 2D] = shift | scale = final scale-shift table + c (the embedding, not its projection). */
    for (int b = 0; b < B; b++) {
        be->copy(ws->mod + (size_t)b * 2 * D, ws->c + (size_t)b * D, (size_t)D);
        be->copy(ws->mod + (size_t)b * 2 * D + D, ws->c + (size_t)b * D, (size_t)D);
    }
    be->add_pos(ws->mod, m->w.final_sst, B, 1, 2 * D);
    be->ln_modulate(ws->z, wsb->h, B, T, D, 1e-6f, ws->mod, ws->mod + D, 2 * D);
    const be_linear *L = &m->w.final_lin;
    sc_status s = be->linear(wsb->ctx, L, (int64_t)B * T, ws->z, ws->out_tok, L->out, BE_POST_NONE); /* [B*T, p p Co] */
    if (s) return s;
    be->unpatchify(out, ws->out_tok, B, c->out_channels, wsb->latent.dims[1], wsb->latent.dims[2], c->patch);
    return SC_OK;
}
