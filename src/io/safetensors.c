#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/half.h"
#include "core/mem.h"
#include "io/json.h"

struct st_file {
    char *path;
    file_mapping map;             /* empty when parsed from caller memory */
    const uint8_t *buffer;     /* start of the data buffer (torch files: of the whole file) */
    uint64_t buffer_size;
    st_tensor *tensors;        /* sorted by name */
    size_t n;
    json_t *metadata;          /* the __metadata__ object or NULL */
};

static const struct { const char *name; int bits; } k_dtypes[ST_NDTYPES] = {
    [ST_BOOL] = {"BOOL", 8},       [ST_U8] = {"U8", 8},           [ST_I8] = {"I8", 8},
    [ST_F8_E5M2] = {"F8_E5M2", 8}, [ST_F8_E4M3] = {"F8_E4M3", 8}, [ST_F8_E8M0] = {"F8_E8M0", 8},
    [ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8}, [ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [ST_I16] = {"I16", 16},        [ST_U16] = {"U16", 16},        [ST_F16] = {"F16", 16},
    [ST_BF16] = {"BF16", 16},      [ST_I32] = {"I32", 32},        [ST_U32] = {"U32", 32},
    [ST_F32] = {"F32", 32},        [ST_I64] = {"I64", 64},        [ST_U64] = {"U64", 64},
    [ST_F64] = {"F64", 64},        [ST_C64] = {"C64", 64},        [ST_F4] = {"F4", 4},
    [ST_F6_E2M3] = {"F6_E2M3", 6}, [ST_F6_E3M2] = {"F6_E3M2", 6},
};

const char *st_dtype_name(st_dtype d) { return (unsigned)d < ST_NDTYPES ? k_dtypes[d].name : "?"; }
int st_dtype_bits(st_dtype d) { return (unsigned)d < ST_NDTYPES ? k_dtypes[d].bits : 0; }

/* Lexical pass over the header, outside strings: every number must be a plain non-negative
 * integer token (jansson accepts 2.5, 1e3, 16.0 and -0 and cannot tell them apart afterwards),
 * and the number of ':' bounds the number of entries before jansson allocates anything. */
static sc_status scan_header(const char *h, uint64_t n, const char *what)
{
    uint64_t colons = 0;
    for (uint64_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '"') {
            for (i++; i < n && h[i] != '"'; i++)
                if (h[i] == '\\') i++;
        } else if (c == ':') {
            colons++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            uint64_t start = i;
            while (i + 1 < n && strchr("0123456789+-.eE", h[i + 1])) i++;
            for (uint64_t j = start; j <= i; j++) {
                if (h[j] == '-')
                    return err_fail(SC_ERR_FORMAT, "%s: header number at byte %llu is negative", what,
                                   (unsigned long long)(8 + start));
                if (h[j] == '.' || h[j] == 'e' || h[j] == 'E' || h[j] == '+')
                    return err_fail(SC_ERR_FORMAT,
                                   "%s: header number at byte %llu is not an integer token", what,
                                   (unsigned long long)(8 + start));
            }
        }
    }
    /* Each tensor has 4 colons (its name + 3 fields), each metadata entry 1. */
    if (colons > 4ull * ST_MAX_TENSORS + ST_MAX_METADATA + 1)
        return err_fail(SC_ERR_FORMAT, "%s: header has too many entries (%llu keys)", what,
                       (unsigned long long)colons);
    return SC_OK;
}

static sc_status parse_u48(const json_t *v, const char *what, const char *name, const char *field,
                           uint64_t *out)
{
    if (!json_is_integer(v))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": %s must hold integers", what, name, field);
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > ST_MAX_VALUE)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": %s value %lld is outside [0, 2^48-1]",
                       what, name, field, (long long)x);
    *out = (uint64_t)x;
    return SC_OK;
}

static sc_status parse_entry(const char *what, const char *name, const json_t *e, st_tensor *t)
{
    if (!json_is_object(e))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is not an object", what, name);
    const json_t *dt = json_object_get(e, "dtype");
    const json_t *sh = json_object_get(e, "shape");
    const json_t *off = json_object_get(e, "data_offsets");
    if (!dt || !sh || !off)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" lacks \"%s\"", what, name,
                       !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (json_object_size(e) != 3) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)e, k, x) {
            if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
                return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" has unknown field \"%s\"", what,
                               name, k);
        }
    }
    if (!json_is_string(dt))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": dtype is not a string", what, name);
    const char *ds = json_string_value(dt);
    int d;
    for (d = 0; d < ST_NDTYPES; d++)
        if (strcmp(ds, k_dtypes[d].name) == 0) break;
    if (d == ST_NDTYPES)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%.32s\"", what, name, ds);
    t->dtype = (st_dtype)d;

    if (!json_is_array(sh))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": shape is not an array", what, name);
    size_t rank = json_array_size(sh);
    if (rank > ST_MAX_RANK)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": rank %zu exceeds %d", what, name, rank,
                       ST_MAX_RANK);
    t->rank = (int)rank;
    for (size_t i = 0; i < rank; i++) {
        sc_status s = parse_u48(json_array_get(sh, i), what, name, "shape", &t->shape[i]);
        if (s) return s;
    }
    if (!json_is_array(off) || json_array_size(off) != 2)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": data_offsets must be [begin, end]", what, name);
    sc_status s = parse_u48(json_array_get(off, 0), what, name, "data_offsets", &t->begin);
    if (!s) s = parse_u48(json_array_get(off, 1), what, name, "data_offsets", &t->end);
    if (s) return s;
    if (t->end < t->begin)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": data_offsets end %llu < begin %llu", what,
                       name, (unsigned long long)t->end, (unsigned long long)t->begin);

    uint64_t bits;
    if (!ck_prod(t->shape, t->rank, &t->numel) || !ck_mul(t->numel, (uint64_t)k_dtypes[d].bits, &bits))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": shape size overflows", what, name);
    if (bits % 8 != 0)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": %llu %s elements do not fill whole bytes",
                       what, name, (unsigned long long)t->numel, k_dtypes[d].name);
    if (t->end - t->begin != bits / 8)
        return err_fail(SC_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets span %llu bytes but shape and dtype need %llu",
                       what, name, (unsigned long long)(t->end - t->begin),
                       (unsigned long long)(bits / 8));
    return SC_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_range(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorted by begin, the tensors must tile [0, buffer_size) exactly: no gap, no overlap, no two
 * names on one range (aliasing), no trailing bytes. Zero-size tensors sit at the running end. */
static sc_status check_tiling(st_file *f, const char *what)
{
    st_tensor **order = malloc((f->n ? f->n : 1) * sizeof *order);
    if (!order) return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < f->n; i++) order[i] = &f->tensors[i];
    qsort(order, f->n, sizeof *order, cmp_range);
    uint64_t pos = 0;
    sc_status s = SC_OK;
    for (size_t i = 0; i < f->n && !s; i++) {
        const st_tensor *t = order[i];
        if (t->begin != pos) {
            if (t->begin > pos)
                s = err_fail(SC_ERR_FORMAT, "%s: gap in the data buffer before tensor \"%s\" (bytes %llu..%llu unused)",
                            what, t->name, (unsigned long long)pos, (unsigned long long)t->begin);
            else if (i > 0 && t->begin == order[i - 1]->begin && t->end == order[i - 1]->end)
                s = err_fail(SC_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" share the byte range %llu..%llu",
                            what, order[i - 1]->name, t->name, (unsigned long long)t->begin,
                            (unsigned long long)t->end);
            else
                s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" overlaps the previous tensor (starts at %llu, previous ends at %llu)",
                            what, t->name, (unsigned long long)t->begin, (unsigned long long)pos);
        }
        pos = t->end;
    }
    free(order);
    if (s) return s;
    if (pos != f->buffer_size)
        return err_fail(SC_ERR_FORMAT, "%s: tensors end at byte %llu of the data buffer but the file holds %llu bytes of data (%s)",
                       what, (unsigned long long)pos, (unsigned long long)f->buffer_size,
                       pos < f->buffer_size ? "trailing bytes" : "truncated file");
    return SC_OK;
}

static sc_status parse_metadata(st_file *f, const json_t *md, const char *what)
{
    if (!json_is_object(md))
        return err_fail(SC_ERR_FORMAT, "%s: __metadata__ is not an object", what);
    if (json_object_size(md) > ST_MAX_METADATA)
        return err_fail(SC_ERR_FORMAT, "%s: __metadata__ has %zu entries (at most %d)", what,
                       json_object_size(md), ST_MAX_METADATA);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)md, k, v) {
        if (!json_is_string(v))
            return err_fail(SC_ERR_FORMAT, "%s: __metadata__ value of \"%.64s\" is not a string", what, k);
    }
    f->metadata = json_incref((json_t *)md);
    return SC_OK;
}

static sc_status parse_header(st_file *f, const uint8_t *bytes, uint64_t size, const char *what)
{
    if (size < 8)
        return err_fail(SC_ERR_FORMAT, "%s: %llu bytes is too short for a safetensors file (needs 8)",
                       what, (unsigned long long)size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i];
    uint64_t header_end;
    /* An impossible header length with no '{' where the JSON header starts: some other kind of
     * file (text, a picture, a pickle), which is the clearer thing to say. */
    if ((n > ST_MAX_HEADER || !ck_add(8, n, &header_end) || header_end > size) && size > 8 && bytes[8] != '{')
        return err_fail(SC_ERR_FORMAT, "%s: not a safetensors file (its first 8 bytes are no header length and no "
                                       "JSON header follows); a checkpoint is a .safetensors, .bin or .pt file or a "
                                       "model folder", what);
    if (n > ST_MAX_HEADER)
        return err_fail(SC_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", what,
                       (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
    if (!ck_add(8, n, &header_end) || header_end > size)
        return err_fail(SC_ERR_FORMAT, "%s: header length %llu runs past the end of the %llu-byte file",
                       what, (unsigned long long)n, (unsigned long long)size);
    const char *h = (const char *)bytes + 8;
    for (uint64_t i = 0; i < n; i++)
        if (h[i] == '\0')
            return err_fail(SC_ERR_FORMAT, "%s: NUL byte in the header at byte %llu", what,
                           (unsigned long long)(8 + i));
    sc_status s = scan_header(h, n, what);
    if (s) return s;
    json_t *root;
    s = json_parse(h, (size_t)n, what, &root);
    if (s) return s;
    if (!json_is_object(root)) {
        json_decref(root);
        return err_fail(SC_ERR_FORMAT, "%s: header is not a JSON object", what);
    }
    size_t count = json_object_size(root);
    if (json_object_get(root, "__metadata__")) count--;
    if (count > ST_MAX_TENSORS) {
        json_decref(root);
        return err_fail(SC_ERR_FORMAT, "%s: %zu tensors (at most %d)", what, count, ST_MAX_TENSORS);
    }
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    if (!f->tensors) {
        json_decref(root);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            s = parse_metadata(f, val, what);
            if (s) break;
            continue;
        }
        size_t len = strlen(key);
        if (len == 0) { s = err_fail(SC_ERR_FORMAT, "%s: tensor with an empty name", what); break; }
        if (len > ST_MAX_NAME) {
            s = err_fail(SC_ERR_FORMAT, "%s: tensor name of %zu bytes (at most %d)", what, len, ST_MAX_NAME);
            break;
        }
        st_tensor *t = &f->tensors[f->n];
        t->name = strdup(key);
        if (!t->name) { s = err_fail(SC_ERR_NOMEM, "%s: out of memory", what); break; }
        f->n++;
        s = parse_entry(what, key, val, t);
        if (s) break;
    }
    json_decref(root);
    if (s) return s;
    f->buffer = bytes + header_end;
    f->buffer_size = size - header_end;
    s = check_tiling(f, what);
    if (s) return s;
    qsort(f->tensors, f->n, sizeof *f->tensors, cmp_name);
    return SC_OK;
}

sc_status st_parse(const uint8_t *bytes, uint64_t size, const char *what, st_file **out)
{
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(what))) {
        free(f);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    }
    sc_status s = parse_header(f, bytes, size, what);
    if (s) {
        st_close(f);
        return s;
    }
    *out = f;
    return SC_OK;
}

sc_status st_open(const char *path, st_file **out)
{
    file_mapping m;
    *out = NULL;
    sc_status s = file_map(path, &m);
    if (s) return s;
    s = st_parse(m.data, m.size, path, out);
    if (s) {
        file_unmap(&m);
        return s;
    }
    (*out)->map = m;
    return SC_OK;
}

sc_status st_from_entries(const char *what, const uint8_t *bytes, uint64_t size, const st_tensor_src *entries,
                          size_t n, file_mapping *map, st_file **out)
{
    *out = NULL;
    if (n > ST_MAX_TENSORS) return err_fail(SC_ERR_FORMAT, "%s: %zu tensors (at most %d)", what, n, ST_MAX_TENSORS);
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(what)) || !(f->tensors = calloc(n ? n : 1, sizeof *f->tensors))) {
        if (f) free(f->path);
        free(f);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    }
    f->buffer = bytes;
    f->buffer_size = size;
    sc_status s = SC_OK;
    for (size_t i = 0; i < n && !s; i++) {
        const st_tensor_src *e = &entries[i];
        size_t len = strlen(e->name);
        if (len == 0 || len > ST_MAX_NAME) {
            s = err_fail(SC_ERR_FORMAT, "%s: tensor name of %zu bytes (1 to %d)", what, len, ST_MAX_NAME);
            break;
        }
        if ((unsigned)e->dtype >= ST_NDTYPES || e->rank < 0 || e->rank > ST_MAX_RANK) {
            s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": bad dtype or rank %d", what, e->name, e->rank);
            break;
        }
        st_tensor *t = &f->tensors[f->n];
        if (!(t->name = strdup(e->name))) {
            s = err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
            break;
        }
        f->n++;
        t->dtype = e->dtype;
        t->rank = e->rank;
        uint64_t bits, end;
        for (int d = 0; d < e->rank && !s; d++) {
            t->shape[d] = e->shape[d];
            if (e->shape[d] > ST_MAX_VALUE)
                s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": dimension %llu is above 2^48-1", what, e->name,
                            (unsigned long long)e->shape[d]);
        }
        if (s) break;
        if (!ck_prod(t->shape, t->rank, &t->numel) || !ck_mul(t->numel, (uint64_t)k_dtypes[t->dtype].bits, &bits) ||
            bits % 8 != 0 || !ck_add(e->offset, bits / 8, &end) || end > size) {
            s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": %s data at byte %llu does not fit the %llu-byte file", what,
                        e->name, k_dtypes[t->dtype].name, (unsigned long long)e->offset, (unsigned long long)size);
            break;
        }
        t->begin = e->offset;
        t->end = end;
    }
    if (!s) {
        qsort(f->tensors, f->n, sizeof *f->tensors, cmp_name);
        for (size_t i = 1; i < f->n && !s; i++)
            if (!strcmp(f->tensors[i - 1].name, f->tensors[i].name))
                s = err_fail(SC_ERR_FORMAT, "%s: duplicate tensor name \"%s\"", what, f->tensors[i].name);
    }
    if (s) {
        st_close(f);
        return s;
    }
    if (map) {
        f->map = *map;
        map->data = NULL;
        map->size = 0;
    }
    *out = f;
    return SC_OK;
}

void st_close(st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    if (f->metadata) json_decref(f->metadata);
    file_unmap(&f->map);
    free(f->path);
    free(f);
}

const char *st_path(const st_file *f) { return f->path; }
size_t st_count(const st_file *f) { return f->n; }
const st_tensor *st_at(const st_file *f, size_t i) { return i < f->n ? &f->tensors[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name)
{
    st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->n, sizeof key, cmp_name);
}

const char *st_metadata(const st_file *f, const char *key)
{
    if (!f->metadata) return NULL;
    const json_t *v = json_object_get(f->metadata, key);
    return v ? json_string_value(v) : NULL;
}

const uint8_t *st_data(const st_file *f, const st_tensor *t) { return f->buffer + t->begin; }

/* 64-bit mixing of one word into the running hash (a multiply-rotate, as xxhash's rounds). */
static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w * 0x9e3779b97f4a7c15ull;
    h = (h << 31) | (h >> 33);
    return h * 0xc2b2ae3d27d4eb4full;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, uint64_t n)
{
    uint64_t i = 0, w;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = mix(h, w);
    }
    w = 0;
    memcpy(&w, p + i, (size_t)(n - i));
    return mix(mix(h, w), n);
}

uint64_t st_fingerprint(const st_file *f, uint64_t h)
{
    for (size_t i = 0; i < f->n; i++) {
        const st_tensor *t = &f->tensors[i];
        h = mix_bytes(h, (const uint8_t *)t->name, strlen(t->name));
        h = mix(h, (uint64_t)t->dtype);
        for (int d = 0; d < t->rank; d++) h = mix(h, t->shape[d]);
        const uint8_t *p = st_data(f, t);
        const uint64_t bytes = t->end - t->begin;
        for (uint64_t o = 0; o < bytes; o += (uint64_t)16 << 20) {
            const uint64_t k = bytes - o < ((uint64_t)16 << 20) ? bytes - o : (uint64_t)16 << 20;
            h = mix_bytes(h, p + o, k);
        }
        st_release(f, t); /* read once: not kept resident */
    }
    return h;
}

void st_release(const st_file *f, const st_tensor *t)
{
    const uint8_t *p = st_data(f, t);
    if (!f->map.data || p < f->map.data || p + (t->end - t->begin) > f->map.data + f->map.size) return;
    file_release_pages(p, (size_t)(t->end - t->begin));
}

sc_status st_to_f32(const st_file *f, const st_tensor *t, const float **out, float **owned)
{
    const uint8_t *src = st_data(f, t);
    *owned = NULL;
    *out = NULL;
    if (t->dtype == ST_F32 && ((uintptr_t)src & 3) == 0) {
        *out = (const float *)src;
        return SC_OK;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s; supported: F32, F16, BF16",
                       f->path, t->name, st_dtype_name(t->dtype));
    size_t n;
    if (!ck_to_size(t->numel, &n)) return err_fail(SC_ERR_NOMEM, "%s: tensor \"%s\" too large", f->path, t->name);
    float *dst = mem_alloc_array(n, sizeof(float), t->name);
    if (!dst) return SC_ERR_NOMEM;
    if (t->dtype == ST_F32) {
        memcpy(dst, src, n * sizeof(float));
    } else if (t->dtype == ST_F16) {
        for (size_t i = 0; i < n; i++) dst[i] = half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    }
    *out = dst;
    *owned = dst;
    return SC_OK;
}
