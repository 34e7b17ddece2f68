/* A loaded Stable Audio's weights into the backend's layout, once, at load time: self-attention's
 * q, k, v become one product, every linear layer is prepared and its plain copy released. */
#include <stdlib.h>

#include "core/error.h"
#include "models/stableaudio/stableaudio.h"

void sa_each_linear(sa_model *m, void (*f)(be_linear *L, void *user), void *user)
{
    sa_weights *w = &m->w;
    be_linear *top[] = {&w->t1, &w->t2, &w->g1, &w->g2, &w->c1, &w->c2, &w->pre, &w->proj_in, &w->proj_out,
                        &w->post, &w->text_proj, &w->start_lin, &w->end_lin};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) f(top[i], user);
    for (int l = 0; w->blocks && l < m->cfg.depth; l++) {
        sa_block *b = &w->blocks[l];
        be_linear *all[] = {&b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->xq, &b->xk, &b->xv, &b->xproj, &b->fc1, &b->fc2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) f(all[i], user);
    }
}

#define N_TOP 13
#define N_PER_BLOCK 11

typedef struct {
    sa_model *m;
    int64_t tok;   /* rows of the frame-token products of a guided clip */
    sc_status s;
} prep_state;

/* The layers outside the blocks: the conditioning paths and the 1x1 convolutions around the
 * stack, which the int8 backend keeps in bf16 (docs/PRECISION.md). */
static int is_precise(const sa_model *m, const be_linear *L)
{
    const sa_weights *w = &m->w;
    const be_linear *top[] = {&w->t1, &w->t2, &w->g1, &w->g2, &w->c1, &w->c2, &w->pre, &w->proj_in, &w->proj_out,
                              &w->post, &w->text_proj, &w->start_lin, &w->end_lin};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (L == top[i]) return 1;
    return 0;
}

static int64_t rows_hint(const sa_model *m, const be_linear *L, int64_t tok)
{
    const sa_weights *w = &m->w;
    if (L == &w->t1 || L == &w->t2 || L == &w->g1 || L == &w->g2 || L == &w->start_lin || L == &w->end_lin) return 2;
    if (L == &w->c1 || L == &w->c2 || L == &w->text_proj) return 2 * (SA_NOMINAL_TEXT_LEN + 2);
    for (int l = 0; l < m->cfg.depth; l++)
        if (L == &w->blocks[l].xk || L == &w->blocks[l].xv) return 2 * (SA_NOMINAL_TEXT_LEN + 2);
    return tok;
}

static void prepare_one(be_linear *L, void *user)
{
    prep_state *p = user;
    if (p->s || !L->w) return;
    L->precise = is_precise(p->m, L);
    p->s = model_prepare_linear(&p->m->base, L, rows_hint(p->m, L, p->tok));
}

sc_status sa_prepare(sa_model *m)
{
    for (int l = 0; l < m->cfg.depth; l++) {
        sa_block *b = &m->w.blocks[l];
        if (b->qkv.w || b->qkv.prep) continue;
        be_linear *const parts[3] = {&b->q, &b->k, &b->v};
        sc_status s = model_fuse_linears(&m->base, parts, 3, &b->qkv);
        if (s) return s;
    }
    prep_state p = {m, 2 * (int64_t)(m->cfg.sample_size + 1), SC_OK};
    sa_each_linear(m, prepare_one, &p);
    return p.s;
}

static void drop_one(be_linear *L, void *user)
{
    const backend *be = user;
    be->linear_drop(L);
}

void sa_drop_prepared(sa_model *m) { sa_each_linear(m, drop_one, (void *)m->base.be); }

typedef struct {
    const be_linear **all;
    int n;
    uint64_t params;
} count_state;

static void count_one(be_linear *L, void *user)
{
    count_state *c = user;
    if (!L->w && !L->prep) return;
    c->all[c->n++] = L;
    c->params += (uint64_t)L->out * L->in + (L->b ? (uint64_t)L->out : 0);
}

void sa_count_weights(sa_model *m)
{
    count_state c = {malloc((N_TOP + N_PER_BLOCK * (size_t)m->cfg.depth) * sizeof *c.all), 0, 0};
    if (!c.all) return; /* only a description: left at zero */
    sa_each_linear(m, count_one, &c);
    /* The LayerNorms and Fourier tables stay float32 as loaded. */
    const uint64_t other = m->base.params > c.params ? (m->base.params - c.params) * sizeof(float) : 0;
    model_count_weights(&m->base, c.all, c.n, other);
    free(c.all);
}
