#include "io/npy.h"
#include "io/sniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"

#define NPY_MAX_HEADER 65536

typedef enum { NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_U1 } npy_dtype;

/* The header is the Python dict literal numpy writes, parsed as such (not searched for keys):
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } then spaces and a newline.
 * Exactly the three keys, each once, at the top level; strings without escapes; no NUL byte. */
typedef struct {
    const char *start, *p, *end;
    const char *what;
} hdr;

static void ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int eat(hdr *h, char c)
{
    ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted string (' or ") without backslashes, into out. */
static sc_status string(hdr *h, char *out, size_t cap, const char *role)
{
    ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return err_fail(SC_ERR_FORMAT, "%s: .npy header: expected a quoted %s at offset %td", h->what, role,
                        h->p - h->start);
    const char q = *h->p++;
    const char *start = h->p;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || *h->p == '\n')
            return err_fail(SC_ERR_FORMAT, "%s: .npy header: a %s with an escape or a line break", h->what, role);
        h->p++;
    }
    if (h->p >= h->end) return err_fail(SC_ERR_FORMAT, "%s: .npy header: an unterminated %s", h->what, role);
    const size_t n = (size_t)(h->p - start);
    h->p++;
    if (n >= cap) return err_fail(SC_ERR_FORMAT, "%s: .npy header: a %s of %zu characters", h->what, role, n);
    memcpy(out, start, n);
    out[n] = '\0';
    return SC_OK;
}

static sc_status shape_tuple(hdr *h, npy_array *a)
{
    if (!eat(h, '(')) return err_fail(SC_ERR_FORMAT, "%s: .npy shape is not a tuple", h->what);
    a->rank = 0;
    for (;;) {
        if (eat(h, ')')) return SC_OK;
        if (a->rank == NPY_MAX_RANK) return err_fail(SC_ERR_FORMAT, "%s: .npy rank exceeds %d", h->what, NPY_MAX_RANK);
        ws(h);
        uint64_t v = 0;
        int digits = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (!ck_mul(v, 10, &v) || !ck_add(v, (uint64_t)(*h->p - '0'), &v) || v > (1ull << 48))
                return err_fail(SC_ERR_FORMAT, "%s: .npy dimension too large", h->what);
            h->p++;
            digits++;
        }
        if (!digits) return err_fail(SC_ERR_FORMAT, "%s: malformed .npy shape", h->what);
        a->shape[a->rank++] = v;
        if (eat(h, ',')) continue;
        if (eat(h, ')')) return SC_OK;
        return err_fail(SC_ERR_FORMAT, "%s: malformed .npy shape", h->what);
    }
}

static sc_status parse_dict(const char *text, size_t n, const char *what, npy_dtype *dt, npy_array *a)
{
    if (memchr(text, '\0', n)) return err_fail(SC_ERR_FORMAT, "%s: .npy header holds a NUL byte", what);
    hdr h = {text, text, text + n, what};
    if (!eat(&h, '{')) return err_fail(SC_ERR_FORMAT, "%s: .npy header is not a dict", what);
    int seen_descr = 0, seen_fo = 0, seen_shape = 0;
    char descr[16] = "";
    sc_status s;
    while (!eat(&h, '}')) {
        char key[32];
        if ((s = string(&h, key, sizeof key, "key"))) return s;
        if (!eat(&h, ':')) return err_fail(SC_ERR_FORMAT, "%s: .npy header: no ':' after '%s'", what, key);
        if (!strcmp(key, "descr")) {
            if (seen_descr++) return err_fail(SC_ERR_FORMAT, "%s: .npy header gives 'descr' twice", what);
            ws(&h);
            if (h.p < h.end && *h.p == '[')
                return err_fail(SC_ERR_UNSUPPORTED, "%s: structured .npy dtypes are not supported (use float32)", what);
            if ((s = string(&h, descr, sizeof descr, "dtype"))) return s;
        } else if (!strcmp(key, "fortran_order")) {
            if (seen_fo++) return err_fail(SC_ERR_FORMAT, "%s: .npy header gives 'fortran_order' twice", what);
            ws(&h);
            if ((size_t)(h.end - h.p) >= 4 && !memcmp(h.p, "True", 4))
                return err_fail(SC_ERR_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", what);
            if ((size_t)(h.end - h.p) < 5 || memcmp(h.p, "False", 5))
                return err_fail(SC_ERR_FORMAT, "%s: .npy 'fortran_order' is not True or False", what);
            h.p += 5;
        } else if (!strcmp(key, "shape")) {
            if (seen_shape++) return err_fail(SC_ERR_FORMAT, "%s: .npy header gives 'shape' twice", what);
            if ((s = shape_tuple(&h, a))) return s;
        } else {
            return err_fail(SC_ERR_FORMAT, "%s: .npy header has the key '%s' (only descr, fortran_order, shape)", what,
                            key);
        }
        if (!eat(&h, ',')) {
            if (eat(&h, '}')) break;
            return err_fail(SC_ERR_FORMAT, "%s: .npy header: expected ',' or '}' after '%s'", what, key);
        }
    }
    ws(&h);
    if (h.p != h.end) return err_fail(SC_ERR_FORMAT, "%s: .npy header has bytes after its dict", what);
    if (!seen_descr || !seen_fo || !seen_shape)
        return err_fail(SC_ERR_FORMAT, "%s: .npy header lacks %s", what,
                       !seen_descr ? "'descr'" : !seen_fo ? "'fortran_order'" : "'shape'");
    /* The dtypes read (docs/FORMATS.md): little-endian float32/float64/int32/int64 and uint8. */
    static const struct {
        const char *s;
        npy_dtype t;
    } types[] = {{"<f4", NPY_F4}, {"<f8", NPY_F8}, {"<i4", NPY_I4}, {"<i8", NPY_I8}, {"|u1", NPY_U1}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(descr, types[i].s)) {
            *dt = types[i].t;
            return SC_OK;
        }
    return err_fail(SC_ERR_UNSUPPORTED, "%s: .npy dtype '%s' is not supported (<f4, <f8, <i4, <i8 or |u1)", what, descr);
}

static const struct {
    npy_dtype t;
    const char *descr;
    int size;
} k_types[] = {{NPY_F4, "<f4", 4}, {NPY_F8, "<f8", 8}, {NPY_I4, "<i4", 4}, {NPY_I8, "<i8", 8}, {NPY_U1, "|u1", 1}};

/* The header of an in-memory .npy: dtype, shape (into a), data offset; the data's size checked. */
static sc_status parse_header(const uint8_t *b, uint64_t size, const char *what, npy_array *a, npy_dtype *dt,
                              uint64_t *data_off)
{
    memset(a, 0, sizeof *a);
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        const file_kind k = sniff_bytes(b, size < 65536 ? (size_t)size : 65536, size);
        if (k == KIND_UNKNOWN || k == KIND_NPY)
            return err_fail(SC_ERR_FORMAT, "%s: not a .npy array (no \\x93NUMPY magic at its start)", what);
        return err_fail(SC_ERR_FORMAT, "%s: not a .npy array: this is %s", what, sniff_kind_text(k));
    }
    int major = b[6];
    uint64_t hlen, off;
    if (major == 1) {
        hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return err_fail(SC_ERR_FORMAT, "%s: truncated .npy header", what);
        hlen = (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
        off = 12;
    } else {
        return err_fail(SC_ERR_UNSUPPORTED, "%s: .npy version %d is not supported", what, major);
    }
    if (hlen > NPY_MAX_HEADER || off + hlen > size)
        return err_fail(SC_ERR_FORMAT, "%s: .npy header length %llu is invalid", what, (unsigned long long)hlen);
    *dt = NPY_F4;
    sc_status s = parse_dict((const char *)b + off, (size_t)hlen, what, dt, a);
    if (s) return s;
    uint64_t bytes;
    if (!ck_prod(a->shape, a->rank, &a->numel) || !ck_mul(a->numel, (uint64_t)k_types[*dt].size, &bytes))
        return err_fail(SC_ERR_FORMAT, "%s: .npy shape size overflows", what);
    *data_off = off + hlen;
    if (bytes != size - *data_off)
        return err_fail(SC_ERR_FORMAT, "%s: .npy data is %llu bytes but the shape needs %llu", what,
                       (unsigned long long)(size - *data_off), (unsigned long long)bytes);
    return SC_OK;
}

sc_status npy_view_parse(const uint8_t *b, uint64_t size, const char *what, npy_view *v)
{
    npy_array a;
    npy_dtype dt = NPY_F4;
    uint64_t off = 0;
    memset(v, 0, sizeof *v);
    sc_status s = parse_header(b, size, what, &a, &dt, &off);
    if (s) return s;
    v->rank = a.rank;
    memcpy(v->shape, a.shape, sizeof v->shape);
    v->numel = a.numel;
    snprintf(v->descr, sizeof v->descr, "%s", k_types[dt].descr);
    v->elem_size = k_types[dt].size;
    v->data = b + off;
    return SC_OK;
}

sc_status npy_parse(const uint8_t *b, uint64_t size, const char *what, npy_array *a)
{
    npy_dtype dt = NPY_F4;
    uint64_t data_off = 0;
    sc_status s = parse_header(b, size, what, a, &dt, &data_off);
    if (s) return s;
    size_t n;
    if (!ck_to_size(a->numel, &n)) return err_fail(SC_ERR_NOMEM, "%s: array too large", what);
    a->data = mem_alloc_array(n, sizeof(float), what);
    if (!a->data) return SC_ERR_NOMEM;
    const uint8_t *src = b + data_off;
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case NPY_F4: memcpy(&a->data[i], src + 4 * i, 4); break;
        case NPY_F8: { double v; memcpy(&v, src + 8 * i, 8); a->data[i] = (float)v; break; }
        case NPY_I4: { int32_t v; memcpy(&v, src + 4 * i, 4); a->data[i] = (float)v; break; }
        case NPY_I8: { int64_t v; memcpy(&v, src + 8 * i, 8); a->data[i] = (float)v; break; }
        case NPY_U1: a->data[i] = src[i]; break;
        }
    }
    return SC_OK;
}

sc_status npy_read(const char *path, npy_array *out)
{
    file_mapping m;
    memset(out, 0, sizeof *out);
    sc_status s = file_map(path, &m);
    if (s) return s;
    s = npy_parse(m.data, m.size, path, out);
    file_unmap(&m);
    return s;
}

void npy_free(npy_array *a)
{
    mem_free(a->data);
    a->data = NULL;
}

sc_status npy_write_f32(const char *path, const float *data, int rank, const uint64_t *shape, int force)
{
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%llu%s", (unsigned long long)shape[i],
                        rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
        SC_ASSERT(ck_mul(numel, shape[i], &numel));
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* Pad with spaces so that magic + length + dict + '\n' is a multiple of 64 bytes. */
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    uint8_t head[10 + sizeof dict + 64];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    int hlen = len + pad + 1;
    head[8] = (uint8_t)(hlen & 0xff);
    head[9] = (uint8_t)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', (size_t)pad);
    head[10 + len + pad] = '\n';

    file_out o;
    sc_status s = file_out_open(&o, path, force);
    if (s) return s;
    s = file_out_write(&o, head, (size_t)(10 + hlen));
    if (!s) s = file_out_write(&o, data, (size_t)numel * sizeof(float));
    if (!s) s = file_out_commit(&o);
    return s;
}
