/* The DiT forward pass (FORMATS.md 1): patch embed, timestep + class conditioning, adaLN-Zero
 * blocks, final layer, unpatchify. Each block's attention and MLP sub-layers are separate calls
 * so that a caching policy can decide per step and per block to compute or reuse them. */
#include <math.h>
#include <string.h>

#include "cache/run.h"
#include "core/error.h"
#include "core/mem.h"
#include "model/dit.h"
#include "model/dit_attention.h"
#include "model/dit_ops.h"

sc_status dit_workspace_init(dit_workspace *ws, const sc_model *m, int rows)
{
    const dit_config *c = &m->cfg;
    const size_t B = (size_t)rows, T = (size_t)c->tokens, D = (size_t)c->hidden;
    const size_t K = (size_t)c->in_channels * c->patch * c->patch;
    const size_t O = (size_t)c->out_channels * c->patch * c->patch;
    memset(ws, 0, sizeof *ws);
    ws->rows = rows;
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&ws->h, B * T * D, "residual stream"},
        {&ws->z, B * T * D, "modulated input"},
        {&ws->qkv, B * T * 3 * D, "qkv"},
        {&ws->att, B * T * D, "attention output"},
        {&ws->sub, B * T * D, "sub-layer output"},
        {&ws->hid, B * T * 4 * D, "MLP hidden"},
        {&ws->scores, dit_attention_scratch((int)B, (int)T, c->heads), "attention scores"},
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
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) {
        *bufs[i].p = mem_alloc_array(bufs[i].n, sizeof(float), bufs[i].what);
        if (!*bufs[i].p) {
            dit_workspace_free(ws);
            return SC_ERR_NOMEM;
        }
    }
    ws->y = mem_alloc_array(B, sizeof(int), "labels");
    if (!ws->y) {
        dit_workspace_free(ws);
        return SC_ERR_NOMEM;
    }
    sc_status s = mm_create(&ws->mm);
    if (s) dit_workspace_free(ws);
    return s;
}

void dit_workspace_free(dit_workspace *ws)
{
    float *all[] = {ws->h, ws->z, ws->qkv, ws->att, ws->sub, ws->hid, ws->scores, ws->dense, ws->patches,
                    ws->out_tok, ws->temb_freq, ws->temb_hid, ws->c, ws->silu_c, ws->silu_cb, ws->mod};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) mem_free(all[i]);
    mem_free(ws->y);
    mm_destroy(ws->mm);
    memset(ws, 0, sizeof *ws);
}

static sc_status linear(mm_ctx *mm, int64_t M, const dit_linear *L, const float *x, float *y,
                        int64_t ldy, int post)
{
    if (L->packed) return mm_linear_packed(mm, M, L->out, L->in, x, L->in, L->packed, L->b, y, ldy, post);
    return mm_linear(mm, M, L->out, L->in, x, L->in, L->w, L->b, y, ldy, post);
}

/* out [B*T, D] = proj(Attn(LN(h) * (1 + scale_msa) + shift_msa)) (before the gate). */
sc_status dit_attn_sublayer(const sc_model *m, dit_workspace *ws, int l, float *out)
{
    const dit_config *c = &m->cfg;
    const dit_block *blk = &m->w.blocks[l];
    const int B = ws->rows, T = c->tokens, D = c->hidden;
    const int64_t M = (int64_t)B * T;
    ops_ln_modulate(ws->z, ws->h, B, T, D, c->eps_attn, ws->mod, ws->mod + D, 6 * D);
    sc_status s;
    const float *q, *k, *v;
    int64_t ld;
    if (blk->qkv.w || blk->qkv.packed) {
        s = linear(ws->mm, M, &blk->qkv, ws->z, ws->qkv, 3 * D, MM_POST_NONE);   /* [M, 3D] */
        q = ws->qkv, k = ws->qkv + D, v = ws->qkv + 2 * D, ld = 3 * D;
    } else {
        /* Separate q, k, v weights (diffusers) fill three dense [M, D] thirds of the buffer. */
        q = ws->qkv, k = ws->qkv + M * D, v = ws->qkv + 2 * M * D, ld = D;
        s = linear(ws->mm, M, &blk->q, ws->z, ws->qkv, D, MM_POST_NONE);
        if (!s) s = linear(ws->mm, M, &blk->k, ws->z, ws->qkv + M * D, D, MM_POST_NONE);
        if (!s) s = linear(ws->mm, M, &blk->v, ws->z, ws->qkv + 2 * M * D, D, MM_POST_NONE);
    }
    if (!s) s = dit_attention(ws->mm, q, k, v, ld, ws->att, ws->dense, ws->scores, B, T, c->heads, c->head_dim);
    if (!s) s = linear(ws->mm, M, &blk->proj, ws->att, out, D, MM_POST_NONE);      /* [M, D] */
    return s;
}

/* out [B*T, D] = fc2(GELU_tanh(fc1(LN(h) * (1 + scale_mlp) + shift_mlp))) (before the gate). */
sc_status dit_mlp_sublayer(const sc_model *m, dit_workspace *ws, int l, float *out)
{
    const dit_config *c = &m->cfg;
    const dit_block *blk = &m->w.blocks[l];
    const int B = ws->rows, T = c->tokens, D = c->hidden;
    const int64_t M = (int64_t)B * T;
    ops_ln_modulate(ws->z, ws->h, B, T, D, c->eps_mlp, ws->mod + 3 * D, ws->mod + 4 * D, 6 * D);
    sc_status s = linear(ws->mm, M, &blk->fc1, ws->z, ws->hid, 4 * D, MM_POST_GELU_TANH); /* [M, 4D] */
    if (!s) s = linear(ws->mm, M, &blk->fc2, ws->hid, out, D, MM_POST_NONE);                /* [M, D] */
    return s;
}

/* c [B, D] = t2(SiLU(t1(features))) + E[y]; silu = SiLU(c). Uses ws->temb_freq and ws->y. */
static sc_status conditioning(dit_workspace *ws, const dit_linear *t1, const dit_linear *t2, const float *table,
                              int D, float *c, float *silu)
{
    const int B = ws->rows;
    sc_status s = linear(ws->mm, B, t1, ws->temb_freq, ws->temb_hid, D, MM_POST_NONE); /* [B, D] */
    if (s) return s;
    ops_silu(ws->temb_hid, ws->temb_hid, B * D);
    s = linear(ws->mm, B, t2, ws->temb_hid, c, D, MM_POST_NONE);                       /* [B, D] */
    if (s) return s;
    for (int b = 0; b < B; b++) {
        const float *e = table + (size_t)ws->y[b] * D;
        for (int i = 0; i < D; i++) c[(size_t)b * D + i] += e[i];
    }
    ops_silu(silu, c, B * D);
    return SC_OK;
}

/* mod [B, 6D] = adaLN_l(SiLU(c)): shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp. */
sc_status dit_block_modulation(const sc_model *m, dit_workspace *ws, int l)
{
    const dit_block *b = &m->w.blocks[l];
    const float *silu = ws->silu_c;
    if (m->w.per_block_cond && l > 0) {
        sc_status s = conditioning(ws, &b->t1, &b->t2, b->y_table, m->cfg.hidden, ws->silu_cb, ws->silu_cb);
        if (s) return s;
        silu = ws->silu_cb;
    }
    return linear(ws->mm, ws->rows, &b->ada, silu, ws->mod, 6 * m->cfg.hidden, MM_POST_NONE);
}

sc_status dit_embed(const sc_model *m, dit_workspace *ws, const float *x, const float *t, const int *y)
{
    const dit_config *c = &m->cfg;
    const dit_weights *w = &m->w;
    const int B = ws->rows, T = c->tokens, D = c->hidden;
    ops_patchify(ws->patches, x, B, c->in_channels, c->input_size, c->patch);        /* [B*T, C p p] */
    sc_status s = linear(ws->mm, (int64_t)B * T, &w->x_embed, ws->patches, ws->h, D, MM_POST_NONE);
    if (s) return s;
    ops_add_pos(ws->h, w->pos, B, T, D);                                             /* h [B*T, D] */

    ops_timestep_features(ws->temb_freq, t, B, c->freq_div);                        /* [B, 256] */
    for (int b = 0; b < B; b++) {
        SC_ASSERT(y[b] >= 0 && y[b] <= c->num_classes);
        ws->y[b] = y[b];
    }
    /* Block 0's embedders condition block 0 and the final layer (diffusers uses them there). */
    return conditioning(ws, &w->t1, &w->t2, w->y_table, D, ws->c, ws->silu_c);
}

sc_status dit_final(const sc_model *m, dit_workspace *ws, float *out)
{
    const dit_config *c = &m->cfg;
    const int B = ws->rows, T = c->tokens, D = c->hidden;
    /* [B, 2D] = shift | scale. */
    sc_status s = linear(ws->mm, B, &m->w.final_ada, ws->silu_c, ws->mod, 2 * D, MM_POST_NONE);
    if (s) return s;
    ops_ln_modulate(ws->z, ws->h, B, T, D, 1e-6f, ws->mod, ws->mod + D, 2 * D);
    const dit_linear *L = &m->w.final_lin;
    s = linear(ws->mm, (int64_t)B * T, L, ws->z, ws->out_tok, L->out, MM_POST_NONE); /* [B*T, p p Co] */
    if (s) return s;
    ops_unpatchify(out, ws->out_tok, B, c->out_channels, c->input_size, c->patch);
    return SC_OK;
}

sc_status dit_forward(const sc_model *m, dit_workspace *ws, const float *x, const float *t,
                      const int *y, float *out, cache_run *cache)
{
    typedef sc_status (*sublayer_fn)(const sc_model *, dit_workspace *, int, float *);
    static const sublayer_fn sublayer[COMP_N] = {dit_attn_sublayer, dit_mlp_sublayer};
    const dit_config *c = &m->cfg;
    const int B = ws->rows, T = c->tokens, D = c->hidden;
    sc_status s = dit_embed(m, ws, x, t, y);
    int l = 0;
    while (l < c->depth && !s) {
        s = dit_block_modulation(m, ws, l);
        if (s) break;
        /* A step-level policy may skip a run of blocks by adding its stored residual. */
        const int next = cache ? cache_run_boundary(cache, l, ws->h, ws->mod) : l;
        if (next > l) {
            l = next;
            continue;
        }
        for (int k = 0; k < COMP_N && !s; k++) {
            /* The raw output lives in the cache buffer when the policy may reuse it: computing
             * refreshes it in place, reusing reads it; LN, modulation and the sub-layer are
             * skipped on reuse, but the current step's gate and residual are always applied. */
            float *buf = NULL;
            int compute = cache ? cache_run_decide(cache, l, (cache_comp)k, &buf) : 1;
            if (!buf) buf = ws->sub;
            if (compute) {
                s = sublayer[k](m, ws, l, buf);
                if (s) break;
                if (cache) cache_run_observe(cache, l, (cache_comp)k, buf);
            }
            ops_gated_add(ws->h, buf, B, T, D, ws->mod + (k == COMP_ATTN ? 2 : 5) * D, 6 * D);
        }
        l++;
    }
    if (!s && cache) cache_run_boundary(cache, c->depth, ws->h, NULL);
    if (!s) s = dit_final(m, ws, out);
    if (!s && cache)
        cache_run_output(cache, out, (size_t)B * c->out_channels * c->input_size * c->input_size);
    return s;
}
