/* Growable buffers for the tokenizer's intermediate text and ids. An append that cannot grow
 * the buffer sets `failed` and the caller reports out-of-memory once at the end. */
#ifndef SC_TEXT_BUF_H
#define SC_TEXT_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int failed;
} text_buf;

typedef struct {
    int32_t *p;
    size_t n, cap;
    int failed;
} id_buf;

static inline int tb_reserve(text_buf *b, size_t more)
{
    if (b->failed) return 0;
    if (b->n + more + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + more + 1) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

/* Appends n bytes and keeps the text NUL-terminated. */
static inline void tb_add(text_buf *b, const void *s, size_t n)
{
    if (!tb_reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static inline void tb_free(text_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void ib_add(id_buf *b, int32_t id)
{
    if (b->failed) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        int32_t *p = realloc(b->p, cap * sizeof *p);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    b->p[b->n++] = id;
}

static inline void ib_free(id_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#endif
