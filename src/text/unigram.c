#include "text/unigram.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

/* Trie construction: children as linked lists first, then flattened into sorted edge runs. */
typedef struct {
    int32_t first_child, next_sibling, piece;
    uint8_t byte;
} build_node;

static int32_t child_of(const uni_node *nodes, const uni_edge *edges, uint32_t node, uint8_t b)
{
    const uni_node *nd = &nodes[node];
    uint32_t lo = nd->first_edge, hi = nd->first_edge + nd->n_edges;
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (edges[mid].byte < b) lo = mid + 1;
        else hi = mid;
    }
    return lo < nd->first_edge + nd->n_edges && edges[lo].byte == b ? (int32_t)edges[lo].child : -1;
}

static int cmp_edge(const void *a, const void *b)
{
    return (int)((const uni_edge *)a)->byte - (int)((const uni_edge *)b)->byte;
}

sc_status unigram_init(unigram *u, unigram_arith arith, int n, const char *const *pieces, const uint32_t *len,
                       const double *score, const uint8_t *flags, const uint8_t *normal, int unk_id, const char *what)
{
    memset(u, 0, sizeof *u);
    if (unk_id < 0 || unk_id >= n) return err_fail(SC_ERR_FORMAT, "%s: the unknown id %d is not in the vocabulary", what, unk_id);
    u->arith = arith;
    u->n = n;
    u->unk_id = unk_id;
    u->score = malloc((size_t)n * sizeof *u->score);
    u->flags = malloc((size_t)n);
    size_t total = 1;
    for (int i = 0; i < n; i++)
        if (flags[i] & UNI_IN_TRIE) total += len[i];
    build_node *bn = malloc(total * sizeof *bn);
    if (!u->score || !u->flags || !bn) {
        free(bn);
        unigram_free(u);
        return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    }
    memcpy(u->score, score, (size_t)n * sizeof *u->score);
    memcpy(u->flags, flags, (size_t)n);
    u->min_score = INFINITY;
    u->max_score = -INFINITY;
    if (arith == UNIGRAM_SENTENCEPIECE) { /* float min/max from FLT_MAX / FLT_MIN, as the C++ */
        float mn = FLT_MAX, mx = FLT_MIN;
        for (int i = 0; i < n; i++)
            if (normal && normal[i]) {
                if ((float)score[i] < mn) mn = (float)score[i];
                if ((float)score[i] > mx) mx = (float)score[i];
            }
        u->min_score = mn;
        u->max_score = mx;
    } else {
        for (int i = 0; i < n; i++)
            if (score[i] < u->min_score) u->min_score = score[i];
    }
    /* Insert: a later duplicate piece takes the node (a hash map's insert, as tokenizers). */
    uint32_t used = 1;
    bn[0] = (build_node){-1, -1, -1, 0};
    for (int i = 0; i < n; i++) {
        if (!(flags[i] & UNI_IN_TRIE)) continue;
        int32_t node = 0;
        for (uint32_t k = 0; k < len[i]; k++) {
            const uint8_t b = (uint8_t)pieces[i][k];
            int32_t c = bn[node].first_child;
            while (c >= 0 && bn[c].byte != b) c = bn[c].next_sibling;
            if (c < 0) {
                c = (int32_t)used++;
                bn[c] = (build_node){-1, bn[node].first_child, -1, b};
                bn[node].first_child = c;
            }
            node = c;
        }
        if (bn[node].piece >= 0 && arith == UNIGRAM_SENTENCEPIECE) {
            /* SentencePiece refuses a piece defined twice; tokenizers keeps the later one. */
            const int first = bn[node].piece;
            free(bn);
            unigram_free(u);
            return err_fail(SC_ERR_FORMAT, "%s: pieces %d and %d are the same text", what, first, i);
        }
        bn[node].piece = i;
    }
    u->n_nodes = used;
    u->nodes = malloc(used * sizeof *u->nodes);
    u->edges = malloc((used > 1 ? used - 1 : 1) * sizeof *u->edges);
    if (!u->nodes || !u->edges) {
        free(bn);
        unigram_free(u);
        return err_fail(SC_ERR_NOMEM, "out of memory for %s", what);
    }
    uint32_t e = 0;
    for (uint32_t i = 0; i < used; i++) {
        u->nodes[i].first_edge = e;
        u->nodes[i].piece = bn[i].piece;
        uint32_t k = 0;
        for (int32_t c = bn[i].first_child; c >= 0; c = bn[c].next_sibling, k++)
            u->edges[e + k] = (uni_edge){bn[c].byte, (uint32_t)c};
        qsort(u->edges + e, k, sizeof *u->edges, cmp_edge);
        u->nodes[i].n_edges = (uint16_t)k;
        e += k;
    }
    free(bn);
    return SC_OK;
}

void unigram_free(unigram *u)
{
    free(u->score);
    free(u->flags);
    free(u->nodes);
    free(u->edges);
    memset(u, 0, sizeof *u);
}

size_t unigram_user_prefix(const unigram *u, const uint8_t *s, size_t n)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        if ((node = child_of(u->nodes, u->edges, (uint32_t)node, s[i])) < 0) break;
        const int32_t p = u->nodes[node].piece;
        if (p >= 0 && (u->flags[p] & UNI_USER_DEFINED)) best = i + 1;
    }
    return best;
}

typedef struct {
    int32_t id;
    int32_t starts_at; /* -1: no path ends here yet */
    double score;      /* float-valued in SENTENCEPIECE arithmetic */
} best_node;

void unigram_encode(const unigram *u, const uint8_t *s, size_t n, id_buf *out)
{
    if (!n) return;
    best_node *best = malloc((n + 1) * sizeof *best);
    if (!best) {
        out->failed = 1;
        return;
    }
    for (size_t i = 0; i <= n; i++) best[i] = (best_node){-1, -1, 0.0};
    const int sp = u->arith == UNIGRAM_SENTENCEPIECE;
    const double unk_score = sp ? (double)((float)u->min_score - 10.0f) : u->min_score - 10.0;
    for (size_t start = 0; start < n;) {
        const double here = best[start].score;
        size_t mblen = (size_t)utf8_len_of_lead(s[start]);
        if (mblen > n - start) mblen = n - start;
        int single = 0;
        int32_t node = 0;
        for (size_t end = start; end < n;) {
            if ((node = child_of(u->nodes, u->edges, (uint32_t)node, s[end])) < 0) break;
            end++;
            const int32_t id = u->nodes[node].piece;
            if (id < 0) continue;
            if (u->flags[id] & UNI_SKIP) continue;
            const size_t length = end - start;
            /* SentencePiece 0.2: float32 throughout (the piece score, the sum, the comparison with
             * the stored float); a user-defined piece scores length * max - 0.1f. Ties between
             * equal-scoring splits fall where float rounding puts them. */
            double cand;
            if (sp) {
                const float score = (u->flags[id] & UNI_USER_DEFINED) ? (float)length * (float)u->max_score - 0.1f
                                                                       : (float)u->score[id];
                cand = (double)(score + (float)here);
            } else {
                cand = u->score[id] + here;
            }
            best_node *t = &best[end];
            if (t->starts_at < 0 || cand > t->score) {
                t->score = cand;
                t->starts_at = (int32_t)start;
                t->id = id;
            }
            if (!single && length == mblen) single = 1;
        }
        if (!single) {
            best_node *t = &best[start + mblen];
            const double cand = sp ? (double)((float)unk_score + (float)here) : unk_score + here;
            if (t->starts_at < 0 || cand > t->score) {
                t->score = cand;
                t->starts_at = (int32_t)start;
                t->id = u->unk_id;
            }
        }
        start += mblen;
    }
    /* Backtrack, then emit in order with runs of unknowns fused into one. */
    size_t count = 0;
    for (size_t end = n; end > 0; end = (size_t)best[end].starts_at) count++;
    int32_t *ids = malloc(count * sizeof *ids);
    if (!ids) {
        free(best);
        out->failed = 1;
        return;
    }
    size_t k = count;
    for (size_t end = n; end > 0; end = (size_t)best[end].starts_at) ids[--k] = best[end].id;
    for (size_t i = 0; i < count; i++)
        if (!(ids[i] == u->unk_id && i > 0 && ids[i - 1] == u->unk_id)) ib_add(out, ids[i]);
    free(ids);
    free(best);
}
