/* One model's weight files behind one lookup (weights.h). */
#include "io/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "io/sniff.h"
#include "io/torchzip.h"

#define WEIGHTS_INDEX_CAP (16u << 20)

struct weights {
    char path[4096];
    st_file *files[WEIGHTS_MAX_FILES];
    unsigned char *used[WEIGHTS_MAX_FILES]; /* [st_count] per file */
    int n;
    char prefix[64];
    const char *role;
    uint64_t params;
    char dtype[8];
};

static sc_status create(const char *path, weights **out)
{
    weights *w = calloc(1, sizeof *w);
    if (!w) return err_fail(SC_ERR_NOMEM, "out of memory");
    snprintf(w->path, sizeof w->path, "%s", path);
    w->role = "model";
    *out = w;
    return SC_OK;
}

void weights_close(weights *w)
{
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        st_close(w->files[i]);
        free(w->used[i]);
    }
    free(w);
}

/* Adds a file; a tensor name may live in one file only. */
static sc_status add_file(weights *w, const char *path)
{
    if (w->n == WEIGHTS_MAX_FILES) return err_fail(SC_ERR_FORMAT, "%s: more than %d weight files", path, WEIGHTS_MAX_FILES);
    st_file *f;
    sc_status s = torch_or_safetensors_open(path, &f);
    if (s) return s;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(f); k++)
            if (st_find(w->files[i], st_at(f, k)->name)) {
                err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is also in %s", path, st_at(f, k)->name, st_path(w->files[i]));
                st_close(f);
                return SC_ERR_FORMAT;
            }
    w->used[w->n] = calloc(st_count(f) + 1, 1);
    if (!w->used[w->n]) {
        st_close(f);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    w->files[w->n++] = f;
    return SC_OK;
}

sc_status weights_open_file(const char *path, weights **out)
{
    *out = NULL;
    weights *w = NULL;
    sc_status s = create(path, &w);
    if (!s) s = add_file(w, path);
    if (s) {
        weights_close(w);
        return s;
    }
    *out = w;
    return SC_OK;
}

/* The shards an index names ({"weight_map": {tensor: shard file}}), each a plain file name in
 * the index's folder, and every tensor in the shard the index says. */
static sc_status add_shards(weights *w, const char *dir, const char *index)
{
    json_t *j;
    sc_status s = json_load_object_file(index, WEIGHTS_INDEX_CAP, &j);
    if (s) return s;
    const json_t *map = json_object_get(j, "weight_map");
    if (!json_is_object(map)) {
        json_decref(j);
        return err_fail(SC_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", index);
    }
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)map, name, v) {
        const char *shard = json_string_value(v);
        if (!shard || !*shard || strchr(shard, '/') || strchr(shard, '\\') || !strcmp(shard, "..") || !strcmp(shard, ".")) {
            s = err_fail(SC_ERR_FORMAT, "%s: shard name for \"%s\" must be a plain file name in the same folder", index, name);
            break;
        }
        char sp[4096];
        if ((s = file_join(sp, sizeof sp, dir, shard))) break;
        int known = 0;
        for (int i = 0; i < w->n && !known; i++) known = !strcmp(st_path(w->files[i]), sp);
        if (!known && (s = add_file(w, sp))) break;
        st_file *f;
        if (!weights_find(w, name, &f) || strcmp(st_path(f), sp)) {
            s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is not in its shard %s", index, name, shard);
            break;
        }
    }
    json_decref(j);
    weights_reset_used(w);
    return s;
}

sc_status weights_open_folder(const char *dir, weights **out)
{
    static const struct { const char *name; int index; } forms[] = {
        {"diffusion_pytorch_model.safetensors", 0},  {"diffusion_pytorch_model.safetensors.index.json", 1},
        {"diffusion_pytorch_model.fp16.safetensors", 0}, {"diffusion_pytorch_model.bin", 0},
        {"diffusion_pytorch_model.bin.index.json", 1},
        /* transformers' names (a text encoder's folder) */
        {"model.safetensors", 0}, {"model.safetensors.index.json", 1}, {"pytorch_model.bin", 0},
        {"pytorch_model.bin.index.json", 1},
    };
    *out = NULL;
    weights *w = NULL;
    sc_status s = create(dir, &w);
    if (s) return s;
    char p[4096];
    int found = 0;
    for (size_t i = 0; i < sizeof forms / sizeof *forms && !s && !found; i++) {
        if ((s = file_join(p, sizeof p, dir, forms[i].name))) break;
        if (!file_is_regular(p)) continue;
        found = 1;
        s = forms[i].index ? add_shards(w, dir, p) : add_file(w, p);
    }
    if (!s && !found)
        s = err_fail(SC_ERR_FORMAT, "%s: no diffusion_pytorch_model.safetensors (or its .safetensors.index.json, "
                                    ".fp16.safetensors, .bin or .bin.index.json; or transformers' model.safetensors, "
                                    "pytorch_model.bin and their indexes) beside config.json", dir);
    if (s) {
        weights_close(w);
        return s;
    }
    *out = w;
    return SC_OK;
}

const char *weights_path(const weights *w) { return w->path; }

void weights_set_prefix(weights *w, const char *prefix) { snprintf(w->prefix, sizeof w->prefix, "%s", prefix); }

const char *weights_prefix(const weights *w) { return w->prefix; }

void weights_set_role(weights *w, const char *role) { w->role = role; }

static const st_tensor *lookup(const weights *w, const char *name, int *file)
{
    char full[ST_MAX_NAME + 80];
    if ((size_t)snprintf(full, sizeof full, "%s%s", w->prefix, name) >= sizeof full) return NULL;
    for (int i = 0; i < w->n; i++) {
        const st_tensor *t = st_find(w->files[i], full);
        if (t) {
            *file = i;
            return t;
        }
    }
    return NULL;
}

const st_tensor *weights_find(weights *w, const char *name, st_file **file)
{
    int i;
    const st_tensor *t = lookup(w, name, &i);
    if (!t) return NULL;
    w->used[i][t - st_at(w->files[i], 0)] = 1;
    if (file) *file = w->files[i];
    return t;
}

const st_tensor *weights_peek(const weights *w, const char *name)
{
    int i;
    return lookup(w, name, &i);
}

size_t weights_count(const weights *w)
{
    size_t n = 0;
    for (int i = 0; i < w->n; i++) n += st_count(w->files[i]);
    return n;
}

const char *weights_name_at(const weights *w, size_t k)
{
    for (int i = 0; i < w->n; i++) {
        if (k < st_count(w->files[i])) return st_at(w->files[i], k)->name;
        k -= st_count(w->files[i]);
    }
    return NULL;
}

static void shape_str(char *buf, size_t cap, int rank, const uint64_t *d)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

sc_status weights_get(weights *w, const char *name, int rank, const uint64_t *dims, int flags, const float **data,
                      float **owned)
{
    st_file *f;
    *owned = NULL;
    const st_tensor *t = weights_find(w, name, &f);
    if (!t) return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s%s\"", w->path, w->prefix, name);
    const int pointwise = (flags & WEIGHTS_POINTWISE_AS_LINEAR) && rank == 4 && dims[2] == 1 && dims[3] == 1;
    int same = t->rank == rank || (pointwise && t->rank == 2);
    for (int i = 0; same && i < t->rank; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, t->rank, t->shape);
        shape_str(b, sizeof b, rank, dims);
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s%s\" has shape %s but the %s configuration needs %s%s", st_path(f),
                        w->prefix, name, a, w->role, b, pointwise ? " (or the same without the 1x1)" : "");
    }
    sc_status s = st_to_f32(f, t, data, owned);
    if (s) return s;
    /* Converted: the file's bytes are not read again, so their pages need not stay resident
     * (a 16-bit T5-XXL would otherwise hold its 9.5 GB file beside what it was converted to). */
    if (*owned) st_release(f, t);
    const char *dn = st_dtype_name(t->dtype);
    if (!w->dtype[0]) snprintf(w->dtype, sizeof w->dtype, "%s", dn);
    else if (strcmp(w->dtype, dn)) snprintf(w->dtype, sizeof w->dtype, "mixed");
    w->params += t->numel;
    return SC_OK;
}

uint64_t weights_params(const weights *w) { return w->params; }

uint64_t weights_fingerprint(const weights *w)
{
    uint64_t h = 0x736d6f6f74686361ull; /* "smoothca" */
    for (int i = 0; i < w->n; i++) h = st_fingerprint(w->files[i], h);
    return h;
}

const char *weights_stored_dtype(const weights *w)
{
    const char *found = NULL;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(w->files[i]); k++) {
            const st_dtype d = st_at(w->files[i], k)->dtype;
            if (d != ST_F32 && d != ST_F16 && d != ST_BF16) continue;
            const char *n = st_dtype_name(d);
            if (!found) found = n;
            else if (strcmp(found, n)) return "mixed";
        }
    return found ? found : "";
}

const char *weights_dtype(const weights *w) { return w->dtype; }

void weights_reset_used(weights *w)
{
    for (int i = 0; i < w->n; i++) memset(w->used[i], 0, st_count(w->files[i]));
}

size_t weights_unused(const weights *w, int (*skip)(const char *name), const char **example)
{
    const size_t np = strlen(w->prefix);
    size_t count = 0;
    *example = NULL;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(w->files[i]); k++) {
            const char *n = st_at(w->files[i], k)->name;
            if (w->used[i][k] || strncmp(n, w->prefix, np) || (skip && skip(n + np))) continue;
            if (!*example) *example = n;
            count++;
        }
    return count;
}

sc_status weights_pipeline_component(const char *dir, const char *component, const char *missing, char *out,
                                     size_t cap, int *is_pipeline)
{
    char p[4096];
    *is_pipeline = 0;
    sc_status s = file_join(p, sizeof p, dir, "model_index.json");
    if (s || !file_is_regular(p)) return s;
    json_t *j;
    if ((s = json_load_object_file(p, SC_JSON_FILE_CAP, &j))) return s;
    const int has = json_object_get(j, component) != NULL;
    json_decref(j);
    if (!has) return err_fail(SC_ERR_FORMAT, "%s: no \"%s\" entry: %s", p, component, missing);
    *is_pipeline = 1;
    if ((s = file_join(out, cap, dir, component))) return s;
    if (!file_is_dir(out)) {
        char what[160];
        return err_fail(SC_ERR_FORMAT, "%s: a diffusers pipeline (model_index.json names a \"%s\") without its %s/ "
                                       "folder (%s is %s)", dir, component, component, out,
                        sniff_describe(out, what, sizeof what));
    }
    return SC_OK;
}
