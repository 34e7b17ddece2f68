/* st_write: any st_file (safetensors or torch origin) to a clean safetensors file. The layout is
 * the one the Python `safetensors` package writes, so both readers see the same tensors:
 *     u64 LE header length N | N bytes of JSON, space-padded so 8 + N is a multiple of 8 | data
 * with tensors packed without gaps from the widest dtype down, then by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/half.h"
#include "core/mem.h"
#include "io/safetensors.h"

typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n + 1 && cap <= ST_MAX_HEADER) cap *= 2;
        char *np = cap - b->n >= n + 1 ? realloc(b->p, cap) : NULL;
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt(strbuf *b, const char *fmt, unsigned long long v)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, fmt, v);
    sb_put(b, tmp, (size_t)k);
}

/* A JSON string: quotes, backslashes and control characters escaped, UTF-8 passed through. */
static void sb_json_string(strbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sb_put(b, e, 2);
        } else if (c < 0x20) {
            sb_fmt(b, "\\u%04llx", c);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* The dtype floating-point tensors (F32, F16, BF16) are written in: ST_BF16 or ST_F32, or
 * ST_NDTYPES for every tensor as stored (st_write). Set for one call on this thread (qsort's
 * comparison reads it). */
static _Thread_local st_dtype g_float_to = ST_NDTYPES;

static int converted(st_dtype d)
{
    return g_float_to != ST_NDTYPES && d != g_float_to && (d == ST_F32 || d == ST_F16 || d == ST_BF16);
}

static st_dtype out_dtype(const st_tensor *t) { return converted(t->dtype) ? g_float_to : t->dtype; }

/* Bytes written: as stored, or numel elements of the new dtype (numel was checked at open). */
static uint64_t tensor_bytes(const st_tensor *t)
{
    return converted(t->dtype) ? t->numel * (uint64_t)(st_dtype_bits(g_float_to) / 8) : t->end - t->begin;
}

static int cmp_layout(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    int bx = st_dtype_bits(out_dtype(x)), by = st_dtype_bits(out_dtype(y));
    if (bx != by) return bx > by ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A floating tensor written in g_float_to, a chunk at a time, little endian (the float32 view
 * comes from st_to_f32: zero-copy for aligned F32, one converted buffer otherwise). */
static sc_status write_converted(file_out *o, const st_file *src, const st_tensor *t)
{
    const float *v;
    float *owned = NULL;
    sc_status s = st_to_f32(src, t, &v, &owned);
    if (s) return s;
    uint8_t buf[4 * 8192];
    for (uint64_t i = 0; i < t->numel && !s; i += 8192) {
        const size_t k = t->numel - i < 8192 ? (size_t)(t->numel - i) : 8192;
        size_t n = 0;
        for (size_t j = 0; j < k; j++) {
            uint32_t u;
            if (g_float_to == ST_BF16) {
                u = float_to_bf16(v[i + j]);
                buf[n++] = (uint8_t)u, buf[n++] = (uint8_t)(u >> 8);
            } else {
                memcpy(&u, &v[i + j], 4);
                for (int b = 0; b < 4; b++) buf[n++] = (uint8_t)(u >> (8 * b));
            }
        }
        s = file_out_write(o, buf, n);
    }
    mem_free(owned);
    return s;
}

/* The header for tensors laid out in `order`; begin[i] is the data offset of st_at(src, i). */
static sc_status build_header(const st_file *src, const st_tensor **order, uint64_t *begin, strbuf *h)
{
    size_t n = st_count(src);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        begin[order[i] - st_at(src, 0)] = pos;
        if (!ck_add(pos, tensor_bytes(order[i]), &pos))
            return err_fail(SC_ERR_FORMAT, "%s: tensors too large to write", st_path(src));
    }
    sb_str(h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_at(src, i);
        sb_put(h, ",", 1);
        sb_json_string(h, t->name);
        sb_str(h, ":{\"dtype\":\"");
        sb_str(h, st_dtype_name(out_dtype(t)));
        sb_str(h, "\",\"shape\":[");
        for (int d = 0; d < t->rank; d++) sb_fmt(h, d ? ",%llu" : "%llu", t->shape[d]);
        sb_fmt(h, "],\"data_offsets\":[%llu,", begin[i]);
        sb_fmt(h, "%llu]}", begin[i] + tensor_bytes(t));
    }
    sb_put(h, "}", 1);
    while (!h->failed && h->n % 8) sb_put(h, " ", 1);
    if (h->failed || h->n > ST_MAX_HEADER)
        return err_fail(SC_ERR_NOMEM, "%s: the safetensors header would exceed %llu bytes", st_path(src),
                       (unsigned long long)ST_MAX_HEADER);
    return SC_OK;
}

static sc_status write_file(const char *path, const st_file *src, int force)
{
    size_t n = st_count(src);
    const st_tensor **order = malloc((n ? n : 1) * sizeof *order);
    uint64_t *begin = malloc((n ? n : 1) * sizeof *begin);
    strbuf h = {0};
    sc_status s = SC_OK;
    if (!order || !begin) s = err_fail(SC_ERR_NOMEM, "%s: out of memory", path);
    /* A name the format reserves would make a file no reader takes as written. */
    for (size_t i = 0; i < n && !s; i++)
        if (!strcmp(st_at(src, i)->name, "__metadata__"))
            s = err_fail(SC_ERR_FORMAT, "%s: a tensor is named \"__metadata__\", the name safetensors reserves for "
                                        "its metadata: it cannot be written as safetensors", st_path(src));
    if (!s) {
        for (size_t i = 0; i < n; i++) order[i] = st_at(src, i);
        qsort(order, n, sizeof *order, cmp_layout);
        s = build_header(src, order, begin, &h);
    }
    file_out o;
    if (!s) s = file_out_open(&o, path, force);
    if (!s) {
        uint8_t len[8];
        for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
        s = file_out_write(&o, len, 8);
        if (!s) s = file_out_write(&o, h.p, h.n);
        for (size_t i = 0; i < n && !s; i++) {
            size_t bytes;
            if (!ck_to_size(tensor_bytes(order[i]), &bytes)) {
                file_out_abort(&o);
                s = err_fail(SC_ERR_NOMEM, "%s: tensor \"%s\" too large", path, order[i]->name);
            } else if (converted(order[i]->dtype)) {
                s = write_converted(&o, src, order[i]);
                if (s) file_out_abort(&o);
            } else if (bytes) {
                s = file_out_write(&o, st_data(src, order[i]), bytes);
            }
        }
        /* Read back before it takes the final name: what is written must parse as it was meant. */
        st_file *back = NULL;
        if (!s && (s = st_open(o.tmp, &back))) {
            const sc_status why = s;
            char msg[512];
            snprintf(msg, sizeof msg, "%s", err_last_message());
            file_out_abort(&o);
            s = err_fail(why, "%s: the file written does not read back (%s); nothing was written", path, msg);
        } else if (!s && st_count(back) != n) {
            file_out_abort(&o);
            s = err_fail(SC_ERR_FORMAT, "%s: the file written reads back with %zu tensors, not %zu; nothing was written",
                         path, st_count(back), n);
        }
        st_close(back);
        if (!s) s = file_out_commit(&o);
    }
    free(h.p);
    free(order);
    free(begin);
    return s;
}

sc_status st_write(const char *path, const st_file *src, int force)
{
    g_float_to = ST_NDTYPES;
    return write_file(path, src, force);
}

sc_status st_write_floats_as(const char *path, const st_file *src, int force, st_dtype to)
{
    SC_ASSERT(to == ST_BF16 || to == ST_F32);
    g_float_to = to;
    const sc_status s = write_file(path, src, force);
    g_float_to = ST_NDTYPES;
    return s;
}
