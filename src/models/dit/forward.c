/* The DiT forward pass (docs/FORMATS.md) in the steps of models/model.h: patch embed, timestep
 * + class conditioning (embed), each block's adaLN modulation (block), its attention and MLP
 * sub-layers before their gates (component), final layer and unpatchify (final). The runner adds
 * each component's output to the stream with its gate (mod rows 2 and 5). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/dit/dit.h"

static dit_ws *ws_of(model_ws *ws) { return (dit_ws *)ws; }

void dit_ws_free(const model *m, model_ws *base)
{
    if (!base) return;
    const backend *be = m->be;
    dit_ws *ws = ws_of(base);
    float *all[] = {base->h, base->sub, ws->z, ws->qkv, ws->att, ws->hid, ws->scores, ws->dense, ws->patches,
                    ws->out_tok, ws->temb_freq, ws->temb_hid, ws->c, ws->silu_c, ws->silu_cb, ws->mod};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->release(all[i]);
    mem_free(ws->y);
    if (base->ctx) be->ctx_free(base->ctx);
    free(ws);
}

sc_status dit_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out)
{
    (void)shape; /* DiT runs its own latent shape only (accepts_shape) */
    const dit_config *c = &dit_of(m)->cfg;
    const backend *be = m->be;
    const size_t B = (size_t)rows, T = (size_t)c->tokens, D = (size_t)c->hidden;
    const size_t K = (size_t)c->in_channels * c->patch * c->patch;
    const size_t O = (size_t)c->out_channels * c->patch * c->patch;
    dit_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return err_fail(SC_ERR_NOMEM, "out of memory");
    model_ws *base = &ws->base;
    base->capacity = base->rows = rows;
    base->latent = m->latent;
    base->tokens = m->tokens;
    base->mod_stride = 6 * c->hidden;
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&base->h, B * T * D, "residual stream"},
        {&ws->z, B * T * D, "modulated input"},
        {&ws->qkv, B * T * 3 * D, "qkv"},
        {&ws->att, B * T * D, "attention output"},
        {&base->sub, B * T * D, "sub-layer output"},
        {&ws->hid, B * T * 4 * D, "MLP hidden"},
        {&ws->scores, be->attention_scratch((int)B, (int)T, c->heads), "attention scores"},
        {&ws->dense, 3 * B * T * D, "attention inputs"},
        {&ws->patches, B * T * K, "patches"},
        {&ws->out_tok, B * T * O, "output tokens"},
        {&ws->temb_freq, B * 256, "timestep features"},
        {&ws->temb_hid, B * D, "timestep hidden"},
        {&ws->c, B * D, "conditioning"},
        {&ws->silu_c, B * D, "conditioning"},
        {&ws->silu_cb, B * D, "conditioning"},
        {&ws->mod, B * 6 * D, "modulation"},
    };
    sc_status s = SC_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && !s; i++)
        if (!(*bufs[i].p = be->alloc(bufs[i].n, bufs[i].what))) s = SC_ERR_NOMEM;
    if (!s && !(ws->y = mem_alloc_array(B, sizeof(int), "labels"))) s = SC_ERR_NOMEM;
    if (!s) s = be->ctx_create(&base->ctx);
    if (s) {
        dit_ws_free(m, base);
        return s;
    }
    base->mod = ws->mod;
    *out = base;
    return SC_OK;
}

/* out [B*T, D] = proj(Attn(LN(h) * (1 + scale_msa) + shift_msa)) (before the gate). */
static sc_status attn_sublayer(const dit_model *m, dit_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const dit_config *c = &m->cfg;
    const dit_block *blk = &m->w.blocks[l];
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, T = c->tokens, D = c->hidden;
    const int64_t M = (int64_t)B * T;
    const int fused = blk->qkv.w || blk->qkv.prep;
    be_rows z; /* LN(h) (1 + scale_msa) + shift_msa [M, D], as the products' input */
    sc_status s = be->ln_modulate_rows(ctx, fused ? &blk->qkv : &blk->q, ws->z, ws->base.h, B, T, D, c->eps_attn,
                                       ws->mod, ws->mod + D, 6 * D, &z);
    const float *q, *k, *v;
    int64_t ld;
    if (fused) {
        if (!s) s = be->linear_rows(ctx, &blk->qkv, &z, ws->qkv, 3 * D, BE_POST_NONE);   /* [M, 3D] */
        q = ws->qkv, k = ws->qkv + D, v = ws->qkv + 2 * D, ld = 3 * D;
    } else {
        /* Separate q, k, v weights (diffusers, unprepared) fill three dense [M, D] thirds. */
        q = ws->qkv, k = ws->qkv + M * D, v = ws->qkv + 2 * M * D, ld = D;
        if (!s) s = be->linear_rows(ctx, &blk->q, &z, ws->qkv, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->k, &z, ws->qkv + M * D, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->v, &z, ws->qkv + 2 * M * D, D, BE_POST_NONE);
    }
    if (!s) s = be->attention(ctx, q, k, v, ld, ws->att, ws->dense, ws->scores, B, T, c->heads, c->head_dim);
    if (!s) s = be->linear(ctx, &blk->proj, M, ws->att, out, D, BE_POST_NONE);      /* [M, D] */
    return s;
}

/* out [B*T, D] = fc2(GELU_tanh(fc1(LN(h) * (1 + scale_mlp) + shift_mlp))) (before the gate). */
static sc_status mlp_sublayer(const dit_model *m, dit_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const dit_config *c = &m->cfg;
    const dit_block *blk = &m->w.blocks[l];
    const int B = ws->base.rows, T = c->tokens, D = c->hidden;
    be_rows z; /* LN(h) (1 + scale_mlp) + shift_mlp [M, D], as fc1's input */
    sc_status s = be->ln_modulate_rows(ws->base.ctx, &blk->fc1, ws->z, ws->base.h, B, T, D, c->eps_mlp,
                                       ws->mod + 3 * D, ws->mod + 4 * D, 6 * D, &z);
    /* out [M, D] = fc2(GELU(fc1(z))), the hidden [M, 4D] kept in fc2's input type */
    if (!s) s = be->mlp(ws->base.ctx, &blk->fc1, &blk->fc2, &z, ws->hid, out, D, BE_POST_GELU_TANH);
    return s;
}

sc_status dit_component(const model *m, model_ws *ws, int l, int k, float *out)
{
    SC_ASSERT(k == 0 || k == 1);
    return k == 0 ? attn_sublayer(dit_of(m), ws_of(ws), l, out) : mlp_sublayer(dit_of(m), ws_of(ws), l, out);
}

/* c [B, D] = t2(SiLU(t1(features))) + E[y]; silu = SiLU(c). Uses ws->temb_freq and ws->y. */
static sc_status conditioning(const backend *be, dit_ws *ws, const be_linear *t1, const be_linear *t2,
                              const float *table, int D, float *c, float *silu)
{
    const int B = ws->base.rows;
    sc_status s = be->linear(ws->base.ctx, t1, B, ws->temb_freq, ws->temb_hid, D, BE_POST_NONE); /* [B, D] */
    if (s) return s;
    be->silu(ws->temb_hid, ws->temb_hid, (size_t)B * D);
    s = be->linear(ws->base.ctx, t2, B, ws->temb_hid, c, D, BE_POST_NONE);                       /* [B, D] */
    if (s) return s;
    be->add_rows(c, table, ws->y, B, D);                                                          /* + E[y] */
    be->silu(silu, c, (size_t)B * D);
    return SC_OK;
}

/* mod [B, 6D] = adaLN_l(SiLU(c)): shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp. */
sc_status dit_block_modulation(const model *base, model_ws *wsb, int l)
{
    const dit_model *m = dit_of(base);
    dit_ws *ws = ws_of(wsb);
    const dit_block *b = &m->w.blocks[l];
    const float *silu = ws->silu_c;
    if (m->w.per_block_cond && l > 0) {
        sc_status s = conditioning(base->be, ws, &b->t1, &b->t2, b->y_table, m->cfg.hidden, ws->silu_cb, ws->silu_cb);
        if (s) return s;
        silu = ws->silu_cb;
    }
    return base->be->linear(wsb->ctx, &b->ada, wsb->rows, silu, ws->mod, 6 * m->cfg.hidden, BE_POST_NONE);
}

sc_status dit_modulated_input(const model *base, model_ws *wsb, int l, float *out)
{
    const dit_model *m = dit_of(base);
    const dit_ws *ws = ws_of(wsb);
    const int D = m->cfg.hidden;
    (void)l; /* ws->mod holds block l's modulation: block() was called for l */
    /* [B*T, D] with the block's shift_msa (mod + 0) and scale_msa (mod + D). */
    base->be->ln_modulate(out, wsb->h, wsb->rows, m->cfg.tokens, D, m->cfg.eps_attn, ws->mod, ws->mod + D, 6 * D);
    return SC_OK;
}

sc_status dit_embed(const model *base, model_ws *wsb, const float *x, const float *t, const model_cond *cond)
{
    const dit_model *m = dit_of(base);
    const backend *be = base->be;
    dit_ws *ws = ws_of(wsb);
    const dit_config *c = &m->cfg;
    const dit_weights *w = &m->w;
    const int B = wsb->rows, T = c->tokens, D = c->hidden;
    SC_ASSERT(cond->rows >= B);
    be->patchify(ws->patches, x, B, c->in_channels, c->input_size, c->input_size, c->patch);        /* [B*T, C p p] */
    sc_status s = be->linear(wsb->ctx, &w->x_embed, (int64_t)B * T, ws->patches, wsb->h, D, BE_POST_NONE);
    if (s) return s;
    be->add_pos(wsb->h, w->pos, B, T, D);                                             /* h [B*T, D] */

    be->timestep_features(ws->temb_freq, t, B, c->freq_div);                        /* [B, 256] */
    for (int b = 0; b < B; b++) {
        SC_ASSERT(cond->classes[b] >= 0 && cond->classes[b] <= c->num_classes);
        ws->y[b] = cond->classes[b];
    }
    /* Block 0's embedders condition block 0 and the final layer (diffusers uses them there). */
    return conditioning(be, ws, &w->t1, &w->t2, w->y_table, D, ws->c, ws->silu_c);
}

sc_status dit_final(const model *base, model_ws *wsb, float *out)
{
    const dit_model *m = dit_of(base);
    const backend *be = base->be;
    dit_ws *ws = ws_of(wsb);
    const dit_config *c = &m->cfg;
    const int B = wsb->rows, T = c->tokens, D = c->hidden;
    /* [B, 2D] = shift | scale. */
    sc_status s = be->linear(wsb->ctx, &m->w.final_ada, B, ws->silu_c, ws->mod, 2 * D, BE_POST_NONE);
    if (s) return s;
    be->ln_modulate(ws->z, wsb->h, B, T, D, 1e-6f, ws->mod, ws->mod + D, 2 * D);
    const be_linear *L = &m->w.final_lin;
    s = be->linear(wsb->ctx, L, (int64_t)B * T, ws->z, ws->out_tok, L->out, BE_POST_NONE); /* [B*T, p p Co] */
    if (s) return s;
    be->unpatchify(out, ws->out_tok, B, c->out_channels, c->input_size, c->input_size, c->patch);
    return SC_OK;
}
