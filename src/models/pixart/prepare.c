/* A loaded PixArt's weights into the backend's layout, once, at load time: self-attention's q, k,
 * v become one product, every linear layer is prepared and its plain copy released. */
#include <stdlib.h>

#include "core/error.h"
#include "models/pixart/pixart.h"

void pixart_each_linear(pixart_model *m, void (*f)(be_linear *L, void *user), void *user)
{
    pixart_weights *w = &m->w;
    be_linear *top[] = {&w->x_embed, &w->t1, &w->t2, &w->r1, &w->r2, &w->a1, &w->a2, &w->ada, &w->cap1, &w->cap2,
                        &w->final_lin};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) f(top[i], user);
    for (int l = 0; w->blocks && l < m->cfg.depth; l++) {
        pixart_block *b = &w->blocks[l];
        be_linear *all[] = {&b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->xq, &b->xk, &b->xv, &b->xproj, &b->fc1, &b->fc2};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) f(all[i], user);
    }
}

typedef struct {
    pixart_model *m;
    int64_t tok;   /* rows of the image-token products of a guided image */
    sc_status s;
} prep_state;

/* The conditioning projections the int8 backend keeps in bf16 (docs/PRECISION.md): the patch
 * embedding, the embedders, adaLN-single, the caption projection and the final layer. */
static int is_precise(const pixart_model *m, const be_linear *L)
{
    const pixart_weights *w = &m->w;
    return L == &w->x_embed || L == &w->t1 || L == &w->t2 || L == &w->r1 || L == &w->r2 || L == &w->a1 ||
           L == &w->a2 || L == &w->ada || L == &w->cap1 || L == &w->cap2 || L == &w->final_lin;
}

/* The rows a layer's products have in a guided batch of one image: 2 for the embedders and
 * adaLN-single, the text tokens for the caption projection and the cross keys and values, the
 * image tokens for the rest. */
static int64_t rows_hint(const pixart_model *m, const be_linear *L, int64_t tok)
{
    const pixart_weights *w = &m->w;
    if (L == &w->t1 || L == &w->t2 || L == &w->r1 || L == &w->r2 || L == &w->a1 || L == &w->a2 || L == &w->ada)
        return 2;
    if (L == &w->cap1 || L == &w->cap2) return 2 * PIXART_NOMINAL_TEXT_LEN;
    for (int l = 0; l < m->cfg.depth; l++)
        if (L == &w->blocks[l].xk || L == &w->blocks[l].xv) return 2 * PIXART_NOMINAL_TEXT_LEN;
    return tok;
}

static void prepare_one(be_linear *L, void *user)
{
    prep_state *p = user;
    if (p->s || !L->w) return;
    L->precise = is_precise(p->m, L);
    p->s = model_prepare_linear(&p->m->base, L, rows_hint(p->m, L, p->tok));
}

sc_status pixart_prepare(pixart_model *m)
{
    for (int l = 0; l < m->cfg.depth; l++) {
        pixart_block *b = &m->w.blocks[l];
        if (b->qkv.w || b->qkv.prep) continue;
        be_linear *const parts[3] = {&b->q, &b->k, &b->v};
        sc_status s = model_fuse_linears(&m->base, parts, 3, &b->qkv);
        if (s) return s;
    }
    /* Prepared for the common case, a guided batch of one image; the layout serves every row
     * count. */
    prep_state p = {m, 2 * (int64_t)m->cfg.tokens, SC_OK};
    pixart_each_linear(m, prepare_one, &p);
    return p.s;
}

static void drop_one(be_linear *L, void *user)
{
    const backend *be = user;
    be->linear_drop(L);
}

void pixart_drop_prepared(pixart_model *m) { pixart_each_linear(m, drop_one, (void *)m->base.be); }

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
    c->params += (uint64_t)L->out * L->in + (uint64_t)L->out;
}

void pixart_count_weights(pixart_model *m)
{
    count_state c = {malloc((11 + 11 * (size_t)m->cfg.depth) * sizeof *c.all), 0, 0};
    if (!c.all) return; /* only a description: left at zero */
    pixart_each_linear(m, count_one, &c);
    /* The scale-shift tables stay float32 as loaded. */
    const uint64_t other = m->base.params > c.params ? (m->base.params - c.params) * sizeof(float) : 0;
    model_count_weights(&m->base, c.all, c.n, other);
    free(c.all);
}
