#include "io/torchzip.h"
#include "io/sniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "io/file.h"
#include "io/pickle.h"
#include "io/zip.h"

#define LEGACY_ADVICE "re-save with a current torch or convert to safetensors"

/* torch.save before 1.6 pickled the magic number 0x1950a86a20f9469cfc6c first: PROTO 2, LONG1 of
 * 10 bytes (little-endian). Older still (< 0.4) wrote a tar archive. */
static const uint8_t k_legacy_magic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static int is_legacy_pickle(const uint8_t *b, uint64_t size)
{
    return size >= sizeof k_legacy_magic && !memcmp(b, k_legacy_magic, sizeof k_legacy_magic);
}

static int is_tar(const uint8_t *b, uint64_t size) { return size >= 262 && !memcmp(b + 257, "ustar", 5); }

static int is_zip(const uint8_t *b, uint64_t size) { return size >= 4 && !memcmp(b, "PK\x03\x04", 4); }

/* The single top folder every entry sits in (its name up to the first '/'), into prefix. */
static sc_status top_folder(const zip_archive *z, const char *what, char *prefix, size_t cap)
{
    if (zip_count(z) == 0) return err_fail(SC_ERR_FORMAT, "%s: empty ZIP archive: not a torch.save file", what);
    const char *first = zip_at(z, 0)->name, *slash = strchr(first, '/');
    if (!slash) return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\" is not inside a top folder: not a torch.save file", what, first);
    size_t len = (size_t)(slash - first);
    if (len + 1 > cap) return err_fail(SC_ERR_FORMAT, "%s: top folder name of %zu bytes is too long", what, len);
    memcpy(prefix, first, len);
    prefix[len] = '\0';
    for (size_t i = 1; i < zip_count(z); i++) {
        const char *name = zip_at(z, i)->name;
        if (strncmp(name, first, len + 1) != 0)
            return err_fail(SC_ERR_FORMAT, "%s: more than one top folder (\"%s\" and entry \"%s\"): not a torch.save file",
                           what, prefix, name);
    }
    return SC_OK;
}

/* The archive entry <prefix>/<rest>, or NULL. */
static const zip_entry *find(const zip_archive *z, const char *prefix, const char *rest)
{
    char name[ZIP_MAX_NAME + 2];
    int k = snprintf(name, sizeof name, "%s/%s", prefix, rest);
    if (k < 0 || (size_t)k >= sizeof name) return NULL;
    return zip_find(z, name);
}

static sc_status check_byteorder(const uint8_t *b, const zip_archive *z, const char *what, const char *prefix)
{
    const zip_entry *e = find(z, prefix, "byteorder");
    if (!e) return SC_OK; /* files before byteorder existed are little-endian */
    if (e->size == 6 && !memcmp(b + e->offset, "little", 6)) return SC_OK;
    if (e->size == 3 && !memcmp(b + e->offset, "big", 3))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: %s/byteorder is \"big\": big-endian tensors are not supported "
                       "(re-save on a little-endian machine or convert to safetensors)", what, prefix);
    return err_fail(SC_ERR_FORMAT, "%s: %s/byteorder holds %llu bytes that are neither \"little\" nor \"big\"", what,
                   prefix, (unsigned long long)e->size);
}

/* The byte offset of one tensor: its storage entry must exist and hold exactly the declared
 * elements, and every use of a storage must declare the same type. */
static sc_status locate(const zip_archive *z, const char *what, const char *prefix, const pk_tensor *t,
                        unsigned char *seen_dtype, uint64_t *offset)
{
    char rest[ZIP_MAX_NAME];
    int k = snprintf(rest, sizeof rest, "data/%s", t->storage_key);
    const zip_entry *e = k > 0 && (size_t)k < sizeof rest ? find(z, prefix, rest) : NULL;
    if (!e)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": its storage %s/data/%.64s is not in the archive", what,
                       t->name, prefix, t->storage_key);
    uint64_t elsize = (uint64_t)st_dtype_bits(t->dtype) / 8, need, skip;
    if (!ck_mul(t->storage_numel, elsize, &need) || need != e->size)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": storage %s holds %llu bytes but is declared as %llu %s elements",
                       what, t->name, e->name, (unsigned long long)e->size, (unsigned long long)t->storage_numel,
                       st_dtype_name(t->dtype));
    unsigned char *seen = &seen_dtype[e - zip_at(z, 0)];
    if (*seen && *seen != (unsigned char)(t->dtype + 1))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": storage %s is used as %s and as %s", what, t->name, e->name,
                       st_dtype_name(t->dtype), st_dtype_name((st_dtype)(*seen - 1)));
    *seen = (unsigned char)(t->dtype + 1);
    /* storage_offset + span < storage_numel was checked by the pickle reader, so this stays inside e. */
    if (!ck_mul(t->storage_offset, elsize, &skip) || !ck_add(e->offset, skip, offset))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": storage offset overflows", what, t->name);
    return SC_OK;
}

static sc_status build(const uint8_t *b, uint64_t size, const char *what, const zip_archive *z, const char *prefix,
                       const pk_state_dict *sd, file_mapping *map, st_file **out)
{
    size_t n = pk_count(sd);
    st_tensor_src *src = calloc(n ? n : 1, sizeof *src);
    unsigned char *seen = calloc(zip_count(z), 1);
    sc_status s = src && seen ? SC_OK : err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < n && !s; i++) {
        const pk_tensor *t = pk_at(sd, i);
        src[i].name = t->name;
        src[i].dtype = t->dtype;
        src[i].rank = t->rank;
        memcpy(src[i].shape, t->shape, sizeof src[i].shape);
        s = locate(z, what, prefix, t, seen, &src[i].offset);
    }
    if (!s) s = st_from_entries(what, b, size, src, n, map, out);
    free(src);
    free(seen);
    return s;
}

static sc_status parse(const uint8_t *b, uint64_t size, const char *what, file_mapping *map, st_file **out)
{
    *out = NULL;
    if (is_legacy_pickle(b, size) || is_tar(b, size))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: legacy (pre-1.6, non-zip) torch.save file: " LEGACY_ADVICE, what);
    if (!is_zip(b, size))
        return err_fail(SC_ERR_FORMAT, "%s: not a torch.save file (no ZIP local header at byte 0)", what);
    zip_archive *z;
    sc_status s = zip_parse(b, size, what, &z);
    if (s) return s;
    char prefix[ZIP_MAX_NAME];
    const zip_entry *pkl = NULL;
    if (!(s = top_folder(z, what, prefix, sizeof prefix)) && !(pkl = find(z, prefix, "data.pkl")))
        s = err_fail(SC_ERR_FORMAT, "%s: no %s/data.pkl: not a torch.save file", what, prefix);
    if (!s && pkl->size > TORCH_MAX_PICKLE)
        s = err_fail(SC_ERR_FORMAT, "%s: %s is %llu bytes (at most %llu)", what, pkl->name, (unsigned long long)pkl->size,
                    (unsigned long long)TORCH_MAX_PICKLE);
    if (!s) s = check_byteorder(b, z, what, prefix);
    char *pwhat = NULL;
    pk_state_dict *sd = NULL;
    if (!s) {
        size_t len = strlen(what) + strlen(pkl->name) + 3;
        if (!(pwhat = malloc(len))) s = err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
        else snprintf(pwhat, len, "%s: %s", what, pkl->name);
    }
    if (!s) s = pk_load_state_dict(b + pkl->offset, pkl->size, pwhat, &sd);
    if (!s) s = build(b, size, what, z, prefix, sd, map, out);
    pk_free(sd);
    free(pwhat);
    zip_free(z);
    return s;
}

sc_status torch_parse(const uint8_t *bytes, uint64_t size, const char *what, st_file **out)
{
    return parse(bytes, size, what, NULL, out);
}

sc_status torch_open(const char *path, st_file **out)
{
    file_mapping m;
    *out = NULL;
    sc_status s = file_map(path, &m);
    if (s) return s;
    s = parse(m.data, m.size, path, &m, out);
    file_unmap(&m); /* a no-op when the st_file took the mapping */
    return s;
}

sc_status torch_or_safetensors_open(const char *path, st_file **out)
{
    file_mapping m;
    *out = NULL;
    sc_status s = file_map(path, &m);
    if (s) return s;
    /* A file of another kind (a picture, arrays, JSON, text) is named for what it is. */
    const file_kind k = sniff_bytes(m.data, m.size < 65536 ? (size_t)m.size : 65536, m.size);
    if (k != KIND_UNKNOWN && k != KIND_SAFETENSORS && k != KIND_TORCH_ZIP && k != KIND_ZIP && k != KIND_PICKLE) {
        file_unmap(&m);
        char what[160];
        return err_fail(SC_ERR_FORMAT, "%s: this is %s, not a checkpoint (a .safetensors, .bin or .pt file, or a model folder)",
                        path, sniff_describe(path, what, sizeof what));
    }
    if (k == KIND_ZIP && !is_zip(m.data, m.size)) { /* an end record only: no entry at all */
        file_unmap(&m);
        return err_fail(SC_ERR_FORMAT, "%s: this is an empty ZIP archive, not a checkpoint (a .safetensors, .bin or .pt "
                                       "file, or a model folder)", path);
    }
    int torch = is_zip(m.data, m.size) || is_legacy_pickle(m.data, m.size) || is_tar(m.data, m.size);
    if (torch) s = parse(m.data, m.size, path, &m, out);
    file_unmap(&m);
    if (torch) return s;
    return st_open(path, out);
}
