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

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) p++;
    return p;
}

/* Finds 'key': in the header dict and returns a pointer to its value. */
static const char *find_key(const char *h, const char *end, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 < end; p++) {
        if ((*p == '\'' || *p == '"') && p[kl + 1] == *p && memcmp(p + 1, key, kl) == 0) {
            const char *q = skip_ws(p + kl + 2, end);
            if (q < end && *q == ':') return skip_ws(q + 1, end);
        }
    }
    return NULL;
}

static sc_status parse_dict(const char *h, size_t n, const char *what, npy_dtype *dt, npy_array *a)
{
    const char *end = h + n;
    const char *d = find_key(h, end, "descr");
    const char *fo = find_key(h, end, "fortran_order");
    const char *sh = find_key(h, end, "shape");
    if (!d || !fo || !sh)
        return err_fail(SC_ERR_FORMAT, "%s: .npy header lacks %s", what,
                       !d ? "'descr'" : !fo ? "'fortran_order'" : "'shape'");
    static const struct { const char *s; npy_dtype t; } types[] = {
        {"'<f4'", NPY_F4}, {"'<f8'", NPY_F8}, {"'<i4'", NPY_I4}, {"'<i8'", NPY_I8}, {"'|u1'", NPY_U1}};
    size_t i;
    for (i = 0; i < sizeof types / sizeof *types; i++)
        if ((size_t)(end - d) >= 5 && memcmp(d, types[i].s, 5) == 0) break;
    if (i == sizeof types / sizeof *types)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: .npy dtype %.*s is not supported (use little-endian float32)",
                       what, (int)((size_t)(end - d) < 8 ? (size_t)(end - d) : 8), d);
    *dt = types[i].t;
    if ((size_t)(end - fo) < 5 || memcmp(fo, "False", 5) != 0)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", what);
    if (sh >= end || *sh != '(') return err_fail(SC_ERR_FORMAT, "%s: .npy shape is not a tuple", what);
    const char *p = sh + 1;
    a->rank = 0;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == ')') break;
        if (a->rank == NPY_MAX_RANK) return err_fail(SC_ERR_FORMAT, "%s: .npy rank exceeds %d", what, NPY_MAX_RANK);
        uint64_t v = 0;
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (!ck_mul(v, 10, &v) || !ck_add(v, (uint64_t)(*p - '0'), &v) || v > (1ull << 48))
                return err_fail(SC_ERR_FORMAT, "%s: .npy dimension too large", what);
            p++;
            digits++;
        }
        if (!digits) return err_fail(SC_ERR_FORMAT, "%s: malformed .npy shape", what);
        a->shape[a->rank++] = v;
        p = skip_ws(p, end);
        if (p < end && *p == ',') p++;
        else if (p < end && *p == ')') break;
        else return err_fail(SC_ERR_FORMAT, "%s: malformed .npy shape", what);
    }
    return SC_OK;
}

sc_status npy_parse(const uint8_t *b, uint64_t size, const char *what, npy_array *a)
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
    npy_dtype dt = NPY_F4;
    sc_status s = parse_dict((const char *)b + off, (size_t)hlen, what, &dt, a);
    if (s) return s;
    static const int esize[] = {[NPY_F4] = 4, [NPY_F8] = 8, [NPY_I4] = 4, [NPY_I8] = 8, [NPY_U1] = 1};
    uint64_t bytes;
    if (!ck_prod(a->shape, a->rank, &a->numel) || !ck_mul(a->numel, (uint64_t)esize[dt], &bytes))
        return err_fail(SC_ERR_FORMAT, "%s: .npy shape size overflows", what);
    uint64_t data_off = off + hlen;
    if (bytes != size - data_off)
        return err_fail(SC_ERR_FORMAT, "%s: .npy data is %llu bytes but the shape needs %llu", what,
                       (unsigned long long)(size - data_off), (unsigned long long)bytes);
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
