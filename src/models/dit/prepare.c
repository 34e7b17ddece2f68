/* A loaded DiT's weights into the backend's layout, once, at load time: diffusers' separate q, k,
 * v become one qkv product (one larger GEMM), then every linear layer is prepared and its plain
 * copy released (mapped pages given back, converted buffers freed). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/dit/dit.h"

static sc_status prepare_one(dit_model *m, int64_t m_hint, be_linear *L)
{
    sc_status s = m->base.be->linear_prepare(L, m_hint);
    if (s || !L->prep) return s; /* no prepared layout here: the plain weights serve */
    model_release_plain(&m->base, L->w, (size_t)L->out * L->in * sizeof(float));
    L->w = NULL;
    return SC_OK;
}

/* q, k, v [D, D] -> qkv [3D, D] (rows [iD, iD + D) from part i), biases likewise. */
static sc_status fuse_qkv(dit_model *m, dit_block *b)
{
    be_linear *const parts[3] = {&b->q, &b->k, &b->v};
    return model_fuse_linears(&m->base, parts, 3, &b->qkv);
}

/* The conditioning projections the int8 backend keeps in bf16 (docs/PRECISION.md): the patch
 * and timestep/label embedders, every adaLN modulation and the final layer. */
static void mark_precise(dit_model *m)
{
    dit_weights *w = &m->w;
    w->x_embed.precise = w->t1.precise = w->t2.precise = w->final_ada.precise = w->final_lin.precise = 1;
    for (int l = 0; l < m->cfg.depth; l++) {
        dit_block *b = &w->blocks[l];
        b->ada.precise = b->t1.precise = b->t2.precise = 1;
    }
}

sc_status dit_prepare(dit_model *m)
{
    mark_precise(m);
    const dit_config *c = &m->cfg;
    /* Prepared for the common case, a guided batch of one image (2 rows); the layout serves
     * every row count. */
    const int64_t tok = 2 * (int64_t)c->tokens, rows = 2;
    dit_weights *w = &m->w;
    sc_status s = prepare_one(m, tok, &w->x_embed);
    if (!s) s = prepare_one(m, rows, &w->t1);
    if (!s) s = prepare_one(m, rows, &w->t2);
    if (!s) s = prepare_one(m, rows, &w->final_ada);
    if (!s) s = prepare_one(m, tok, &w->final_lin);
    for (int l = 0; l < c->depth && !s; l++) {
        dit_block *b = &w->blocks[l];
        if (!b->qkv.w) s = fuse_qkv(m, b);
        if (!s) s = prepare_one(m, rows, &b->ada);
        if (!s && b->t1.w) s = prepare_one(m, rows, &b->t1);
        if (!s && b->t2.w) s = prepare_one(m, rows, &b->t2);
        if (!s) s = prepare_one(m, tok, &b->qkv);
        if (!s) s = prepare_one(m, tok, &b->proj);
        if (!s) s = prepare_one(m, tok, &b->fc1);
        if (!s) s = prepare_one(m, tok, &b->fc2);
    }
    return s;
}

/* Every prepared copy the backend made (dit_free). */
void dit_drop_prepared(dit_model *m)
{
    dit_weights *w = &m->w;
    be_linear *top[] = {&w->x_embed, &w->t1, &w->t2, &w->final_ada, &w->final_lin};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) m->base.be->linear_drop(top[i]);
    for (int l = 0; w->blocks && l < m->cfg.depth; l++) {
        dit_block *b = &w->blocks[l];
        be_linear *all[] = {&b->t1, &b->t2, &b->ada, &b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->fc1, &b->fc2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) m->base.be->linear_drop(all[i]);
    }
}

void dit_count_weights(dit_model *m)
{
    dit_weights *w = &m->w;
    const be_linear **all = malloc((5 + 10 * (size_t)m->cfg.depth) * sizeof *all);
    int n = 0;
    if (!all) return; /* only a description: left at zero */
    uint64_t linear_params = 0;
    const be_linear *top[] = {&w->x_embed, &w->t1, &w->t2, &w->final_ada, &w->final_lin};
    for (size_t i = 0; i < 5; i++) all[n++] = top[i];
    for (int l = 0; l < m->cfg.depth; l++) {
        dit_block *b = &w->blocks[l];
        const be_linear *bl[] = {&b->t1, &b->t2, &b->ada, &b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->fc1, &b->fc2};
        for (size_t i = 0; i < 10; i++) all[n++] = bl[i];
    }
    for (int i = 0; i < n; i++)
        if (all[i]->w || all[i]->prep) linear_params += (uint64_t)all[i]->out * all[i]->in + (uint64_t)all[i]->out;
    /* Every other tensor (label tables, position table) stays float32 as loaded. */
    const uint64_t other = m->base.params > linear_params ? (m->base.params - linear_params) * sizeof(float) : 0;
    model_count_weights(&m->base, all, n, other);
    free(all);
}
