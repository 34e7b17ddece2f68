#define _GNU_SOURCE
/* Packing a loaded DiT's weights for the matrix library, once, at load time. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "model/dit.h"

void dit_release_pages(const void *p, size_t bytes)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(page - 1), hi = ((uintptr_t)p + bytes) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Forgets a plain weight buffer: frees it when the model converted it (F16/BF16 files), else
 * tells the kernel the mapped pages are no longer needed (they are re-read from the file if
 * ever touched again, so this is safe even for a shared mapping). */
static void release_plain(sc_model *m, const float *w, size_t bytes)
{
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i] == w) {
            mem_free(m->owned[i]);
            m->owned[i] = m->owned[--m->n_owned];
            return;
        }
    dit_release_pages(w, bytes);
}

static sc_status keep_pack(sc_model *m, mm_packed *p)
{
    if (m->n_packs == m->cap_packs) {
        int cap = m->cap_packs ? 2 * m->cap_packs : 64;
        mm_packed **np = realloc(m->packs, (size_t)cap * sizeof *np);
        if (!np) {
            mm_packed_free(p);
            return err_fail(SC_ERR_NOMEM, "out of memory");
        }
        m->packs = np;
        m->cap_packs = cap;
    }
    m->packs[m->n_packs++] = p;
    return SC_OK;
}

static sc_status pack_one(sc_model *m, int64_t m_hint, dit_linear *L)
{
    mm_packed *p;
    sc_status s = mm_pack(m_hint, L->out, L->in, L->w, &p);
    /* No packed layout on this CPU (or under an instruction-set limit): keep the plain weights,
     * which every product also accepts. */
    if (s == SC_ERR_UNSUPPORTED) return SC_OK;
    if (s || (s = keep_pack(m, p))) return s;
    release_plain(m, L->w, (size_t)L->out * L->in * sizeof(float));
    L->packed = p;
    L->w = NULL;
    return SC_OK;
}

/* diffusers' separate q, k, v [D, D] become one qkv [3D, D] product (one larger GEMM). */
static sc_status fuse_qkv(sc_model *m, dit_block *b)
{
    const int D = b->q.out;
    const size_t DD = (size_t)D * b->q.in;
    float *w = mem_alloc_array(3 * DD, sizeof(float), "qkv weights");
    float *bias = mem_alloc_array(3 * (size_t)D, sizeof(float), "qkv bias");
    if (!w || !bias) {
        mem_free(w);
        mem_free(bias);
        return SC_ERR_NOMEM;
    }
    const dit_linear *parts[3] = {&b->q, &b->k, &b->v};
    for (int i = 0; i < 3; i++) {
        memcpy(w + i * DD, parts[i]->w, DD * sizeof(float));                       /* rows [iD, iD+D) */
        memcpy(bias + (size_t)i * D, parts[i]->b, (size_t)D * sizeof(float));
    }
    sc_status s = dit_own(m, w);
    if (!s) s = dit_own(m, bias);
    if (s) return s;
    for (int i = 0; i < 3; i++) release_plain(m, parts[i]->w, DD * sizeof(float));
    b->qkv = (dit_linear){.w = w, .b = bias, .out = 3 * D, .in = b->q.in};
    memset(&b->q, 0, sizeof b->q);
    memset(&b->k, 0, sizeof b->k);
    memset(&b->v, 0, sizeof b->v);
    return SC_OK;
}

sc_status dit_pack(sc_model *m)
{
    const dit_config *c = &m->cfg;
    /* Pack for the common case, a guided batch of one image (2 rows); the layout serves every M. */
    const int64_t tok = 2 * (int64_t)c->tokens, rows = 2;
    dit_weights *w = &m->w;
    sc_status s = pack_one(m, tok, &w->x_embed);
    if (!s) s = pack_one(m, rows, &w->t1);
    if (!s) s = pack_one(m, rows, &w->t2);
    if (!s) s = pack_one(m, rows, &w->final_ada);
    if (!s) s = pack_one(m, tok, &w->final_lin);
    for (int l = 0; l < c->depth && !s; l++) {
        dit_block *b = &w->blocks[l];
        if (!b->qkv.w) s = fuse_qkv(m, b);
        if (!s) s = pack_one(m, rows, &b->ada);
        if (!s && b->t1.w) s = pack_one(m, rows, &b->t1);
        if (!s && b->t2.w) s = pack_one(m, rows, &b->t2);
        if (!s) s = pack_one(m, tok, &b->qkv);
        if (!s) s = pack_one(m, tok, &b->proj);
        if (!s) s = pack_one(m, tok, &b->fc1);
        if (!s) s = pack_one(m, tok, &b->fc2);
    }
    return s;
}
