/* Shards of a sampling run: names, manifests, the split and the merge (io/shard.h). */
#include "io/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/zip.h"

#define MANIFEST_FORMAT "smoothcache-shard"
#define MANIFEST_VERSION 1
#define MANIFEST_CAP (1u << 20)
#define MERGE_SLICE ((size_t)64 << 20) /* bytes copied, then given back, at a time */

void shard_range(uint64_t num, int batch, int i, int n, uint64_t *begin, uint64_t *end)
{
    const uint64_t nb = (num + (uint64_t)batch - 1) / (uint64_t)batch;
    const uint64_t b0 = nb * (uint64_t)i / (uint64_t)n, b1 = nb * (uint64_t)(i + 1) / (uint64_t)n;
    *begin = b0 * (uint64_t)batch < num ? b0 * (uint64_t)batch : num;
    *end = b1 * (uint64_t)batch < num ? b1 * (uint64_t)batch : num;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n > k && !strcmp(s + n - k, suffix);
}

sc_status shard_names(const char *out, int i, int n, char *npz, char *json, size_t cap)
{
    if (!ends_with(out, ".npz")) return err_fail(SC_ERR_ARG, "%s: a sharded output must end in .npz", out);
    const int stem = (int)(strlen(out) - 4);
    const int a = snprintf(npz, cap, "%.*s.shard-%05d-of-%05d.npz", stem, out, i, n);
    const int b = snprintf(json, cap, "%.*s.shard-%05d-of-%05d.json", stem, out, i, n);
    if (a < 0 || b < 0 || (size_t)a >= cap || (size_t)b >= cap)
        return err_fail(SC_ERR_ARG, "%s: the shard file names would be too long", out);
    return SC_OK;
}

sc_status shard_manifest_path(const char *npz, char *json, size_t cap)
{
    if (!ends_with(npz, ".npz")) return err_fail(SC_ERR_ARG, "%s: a shard is a .npz file", npz);
    const int stem = (int)(strlen(npz) - 4);
    const int a = snprintf(json, cap, "%.*s.json", stem, npz);
    if (a < 0 || (size_t)a >= cap) return err_fail(SC_ERR_ARG, "%s: name too long", npz);
    return SC_OK;
}

sc_status shard_manifest_write(const char *path, const shard_manifest *m, int force)
{
    json_t *o = json_object();
    if (!o) return err_fail(SC_ERR_NOMEM, "out of memory");
    json_object_set_new(o, "format", json_string(MANIFEST_FORMAT));
    json_object_set_new(o, "version", json_integer(MANIFEST_VERSION));
    json_object_set_new(o, "shard", json_integer(m->shard));
    json_object_set_new(o, "shards", json_integer(m->shards));
    json_object_set_new(o, "begin", json_integer((json_int_t)m->begin));
    json_object_set_new(o, "end", json_integer((json_int_t)m->end));
    json_object_set_new(o, "count", json_integer((json_int_t)(m->end - m->begin)));
    json_object_set_new(o, "num", json_integer((json_int_t)m->num));
    json_object_set_new(o, "batch", json_integer(m->batch));
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "steps", json_integer(m->steps));
    json_object_set_new(o, "sampler", json_string(m->sampler));
    json_object_set_new(o, "cfg", json_real(m->cfg));
    json_object_set_new(o, "cache", json_string(m->cache));
    json_object_set_new(o, "dtype", json_string(m->dtype));
    json_object_set_new(o, "side", json_integer(m->side));
    json_object_set_new(o, "model", json_string(m->model));
    json_object_set_new(o, "model_fingerprint", json_string(m->model_fp));
    json_object_set_new(o, "vae_fingerprint", json_string(m->vae_fp));
    json_object_set_new(o, "complete", json_boolean(m->complete));
    const sc_status s = json_save(path, o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17), force);
    json_decref(o);
    return s;
}

static sc_status get_text(const json_t *o, const char *key, const char *path, char *out, size_t cap)
{
    const char *v;
    sc_status s = json_get_str(o, key, path, 1, NULL, &v);
    if (s) return s;
    if (strlen(v) >= cap) return err_fail(SC_ERR_FORMAT, "%s: \"%s\" is longer than %zu bytes", path, key, cap - 1);
    snprintf(out, cap, "%s", v);
    return SC_OK;
}

static int is_fingerprint(const char *s, int may_be_empty)
{
    if (!*s) return may_be_empty;
    if (strlen(s) != 16) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

sc_status shard_manifest_read(const char *path, shard_manifest *m)
{
    memset(m, 0, sizeof *m);
    json_t *o;
    sc_status s = json_load_object_file(path, MANIFEST_CAP, &o);
    if (s) return s;
    s = shard_manifest_from_object(o, path, m);
    json_decref(o);
    return s;
}

sc_status shard_manifest_from_object(const json_t *o, const char *path, shard_manifest *m)
{
    memset(m, 0, sizeof *m);
    if (!json_is_object(o)) return err_fail(SC_ERR_FORMAT, "%s: a shard manifest is a JSON object", path);
    sc_status s = SC_OK;
    static const char *const keys[] = {"format", "version", "shard", "shards", "begin", "end", "count", "num",
                                       "batch", "seed", "steps", "sampler", "cfg", "cache", "dtype", "side",
                                       "model", "model_fingerprint", "vae_fingerprint", "complete"};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        size_t k = 0;
        while (k < sizeof keys / sizeof *keys && strcmp(keys[k], key)) k++;
        if (k == sizeof keys / sizeof *keys) {
            s = err_fail(SC_ERR_FORMAT, "%s: unknown key \"%s\" in a shard manifest", path, key);
            break;
        }
    }
    const char *format = NULL;
    long long version = 0, shard = 0, shards = 0, begin = 0, end = 0, count = 0, num = 0, batch = 0, steps = 0, side = 0;
    char seed[24] = "";
    if (!s) s = json_get_str(o, "format", path, 1, NULL, &format);
    if (!s && strcmp(format, MANIFEST_FORMAT))
        s = err_fail(SC_ERR_FORMAT, "%s: \"format\" is \"%s\", not a smoothcache shard manifest", path, format);
    if (!s) s = json_get_int(o, "version", path, 1, 1, 1000, 0, &version);
    if (!s && version != MANIFEST_VERSION)
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: shard manifest version %lld (this build reads %d)", path, version,
                     MANIFEST_VERSION);
    if (!s) s = json_get_int(o, "shards", path, 1, 1, SHARD_MAX, 0, &shards);
    if (!s) s = json_get_int(o, "shard", path, 1, 0, shards - 1, 0, &shard);
    if (!s) s = json_get_int(o, "num", path, 1, 1, 1ll << 40, 0, &num);
    if (!s) s = json_get_int(o, "begin", path, 1, 0, num - 1, 0, &begin);
    if (!s) s = json_get_int(o, "end", path, 1, begin + 1, num, 0, &end);
    if (!s) s = json_get_int(o, "count", path, 1, 1, num, 0, &count);
    if (!s && count != end - begin)
        s = err_fail(SC_ERR_FORMAT, "%s: \"count\" %lld is not end - begin = %lld", path, count, end - begin);
    if (!s) s = json_get_int(o, "batch", path, 1, 1, 1 << 20, 0, &batch);
    if (!s) s = json_get_int(o, "steps", path, 1, 1, 100000, 0, &steps);
    if (!s) s = json_get_int(o, "side", path, 1, 1, 1 << 16, 0, &side);
    if (!s) s = json_get_num(o, "cfg", path, 1, 0.0, 1e6, 0.0, &m->cfg);
    if (!s) s = get_text(o, "seed", path, seed, sizeof seed);
    if (!s) {
        char *e = NULL;
        errno = 0;
        m->seed = strtoull(seed, &e, 10);
        if (!*seed || *e || errno || seed[0] == '-' || seed[0] == '+' || seed[0] == ' ')
            s = err_fail(SC_ERR_FORMAT, "%s: \"seed\" \"%s\" is not a decimal 64-bit number", path, seed);
    }
    if (!s) s = get_text(o, "sampler", path, m->sampler, sizeof m->sampler);
    if (!s) s = get_text(o, "dtype", path, m->dtype, sizeof m->dtype);
    if (!s) s = get_text(o, "cache", path, m->cache, sizeof m->cache);
    if (!s) s = get_text(o, "model", path, m->model, sizeof m->model);
    if (!s) s = get_text(o, "model_fingerprint", path, m->model_fp, sizeof m->model_fp);
    if (!s) s = get_text(o, "vae_fingerprint", path, m->vae_fp, sizeof m->vae_fp);
    if (!s && (!is_fingerprint(m->model_fp, 0) || !is_fingerprint(m->vae_fp, 1)))
        s = err_fail(SC_ERR_FORMAT, "%s: a fingerprint is not 16 lowercase hex digits", path);
    if (!s) s = json_get_bool(o, "complete", path, 1, 0, &m->complete);
    if (!s) {
        m->shard = (int)shard, m->shards = (int)shards;
        m->begin = (uint64_t)begin, m->end = (uint64_t)end, m->num = (uint64_t)num;
        m->batch = (int)batch, m->steps = (int)steps, m->side = (int)side;
    }
    return s;
}

int shard_settings_differ(const shard_manifest *a, const shard_manifest *b, char *why, size_t cap)
{
#define DIFF_NUM(field, fmt, cast)                                                                              \
    if (a->field != b->field) {                                                                                  \
        snprintf(why, cap, "%s " fmt " against " fmt, #field, (cast)a->field, (cast)b->field);                  \
        return 1;                                                                                                \
    }
#define DIFF_STR(field, name)                                                                                    \
    if (strcmp(a->field, b->field)) {                                                                            \
        snprintf(why, cap, "%s \"%.200s\" against \"%.200s\"", name, a->field, b->field);                        \
        return 1;                                                                                                \
    }
    DIFF_NUM(num, "%llu", unsigned long long)
    DIFF_NUM(batch, "%d", int)
    DIFF_NUM(seed, "%llu", unsigned long long)
    DIFF_NUM(steps, "%d", int)
    DIFF_NUM(cfg, "%g", double)
    DIFF_NUM(side, "%d", int)
    DIFF_STR(sampler, "sampler")
    DIFF_STR(dtype, "dtype")
    DIFF_STR(cache, "cache")
    DIFF_STR(model_fp, "model fingerprint")
    DIFF_STR(vae_fp, "VAE fingerprint")
#undef DIFF_NUM
#undef DIFF_STR
    return 0;
}

typedef struct {
    const char *path;
    shard_manifest m;
} merge_item;

static int by_begin(const void *x, const void *y)
{
    const merge_item *a = x, *b = y;
    return a->m.begin < b->m.begin ? -1 : a->m.begin > b->m.begin;
}

/* The shard's array: arr_0 of its .npz, uint8 [count, side, side, 3]. */
static sc_status open_shard(const merge_item *it, file_mapping *map, zip_archive **zip, npy_view *v)
{
    sc_status s = file_map(it->path, map);
    if (s) return s;
    s = zip_parse(map->data, map->size, it->path, zip);
    if (s) return s;
    const zip_entry *e = zip_find(*zip, "arr_0.npy");
    if (!e) return err_fail(SC_ERR_FORMAT, "%s: no arr_0.npy in this .npz", it->path);
    s = npy_view_parse(map->data + e->offset, e->size, it->path, v);
    if (s) return s;
    const uint64_t count = it->m.end - it->m.begin, side = (uint64_t)it->m.side;
    if (strcmp(v->descr, "|u1") || v->rank != 4 || v->shape[0] != count || v->shape[1] != side ||
        v->shape[2] != side || v->shape[3] != 3)
        return err_fail(SC_ERR_FORMAT, "%s: arr_0 is not uint8 [%llu, %llu, %llu, 3] as its manifest says", it->path,
                        (unsigned long long)count, (unsigned long long)side, (unsigned long long)side);
    return SC_OK;
}

sc_status shard_merge(const char *out, const char *const *shards, int n, int force, uint64_t *images)
{
    if (n < 1) return err_fail(SC_ERR_ARG, "merge: no shard given");
    merge_item *it = calloc((size_t)n, sizeof *it);
    if (!it) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = SC_OK;
    char json[4200], why[512];
    for (int i = 0; i < n && !s; i++) {
        it[i].path = shards[i];
        if (!(s = shard_manifest_path(shards[i], json, sizeof json)) && !(s = shard_manifest_read(json, &it[i].m)) &&
            !it[i].m.complete)
            s = err_fail(SC_ERR_FORMAT, "%s: the shard is not complete (its manifest says so): run it again", shards[i]);
        if (!s && i && shard_settings_differ(&it[0].m, &it[i].m, why, sizeof why))
            s = err_fail(SC_ERR_FORMAT, "%s and %s come from different runs: %s", shards[0], shards[i], why);
    }
    if (!s) {
        qsort(it, (size_t)n, sizeof *it, by_begin);
        uint64_t next = 0;
        for (int i = 0; i < n && !s; i++) {
            if (it[i].m.begin > next)
                s = err_fail(SC_ERR_FORMAT, "images %llu..%llu of %llu are in no shard given (a shard is missing)",
                             (unsigned long long)next, (unsigned long long)it[i].m.begin - 1,
                             (unsigned long long)it[0].m.num);
            else if (it[i].m.begin < next)
                s = err_fail(SC_ERR_FORMAT, "%s and %s both hold images %llu..%llu (a shard is given twice, or shards "
                             "of different splits overlap)", it[i - 1].path, it[i].path,
                             (unsigned long long)it[i].m.begin,
                             (unsigned long long)(next < it[i].m.end ? next : it[i].m.end) - 1);
            next = it[i].m.end;
        }
        if (!s && next != it[0].m.num)
            s = err_fail(SC_ERR_FORMAT, "images %llu..%llu of %llu are in no shard given (a shard is missing)",
                         (unsigned long long)next, (unsigned long long)it[0].m.num - 1, (unsigned long long)it[0].m.num);
    }
    /* Every shard's array checked before the output is opened. */
    for (int i = 0; i < n && !s; i++) {
        file_mapping map = {0};
        zip_archive *zip = NULL;
        npy_view v;
        s = open_shard(&it[i], &map, &zip, &v);
        zip_free(zip);
        file_unmap(&map);
    }
    npz_stream z;
    int open = 0;
    if (!s) {
        const uint64_t shape[4] = {it[0].m.num, (uint64_t)it[0].m.side, (uint64_t)it[0].m.side, 3};
        s = npz_stream_open(&z, out, "arr_0", 4, shape, force, NPZ_ZIP64_AT);
        open = !s;
    }
    for (int i = 0; i < n && !s; i++) {
        file_mapping map = {0};
        zip_archive *zip = NULL;
        npy_view v;
        s = open_shard(&it[i], &map, &zip, &v);
        const uint64_t bytes = v.numel;
        for (uint64_t o = 0; !s && o < bytes; o += MERGE_SLICE) {
            const size_t k = bytes - o < MERGE_SLICE ? (size_t)(bytes - o) : MERGE_SLICE;
            s = npz_stream_write(&z, v.data + o, k);
            file_release_pages(v.data + o, k); /* read once: not kept resident */
        }
        zip_free(zip);
        file_unmap(&map);
    }
    if (open) s = s ? (npz_stream_abort(&z), s) : npz_stream_close(&z);
    if (!s && images) *images = it[0].m.num;
    free(it);
    return s;
}
