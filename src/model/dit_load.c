/* Finding and loading a DiT: which layout a path holds (diffusers pipeline folder, diffusers
 * transformer folder, single original-naming file), the tensor-name table of each layout, and
 * the shape checks that tie every tensor to the configuration before anything is used. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "model/dit.h"
#include "model/dit_config.h"

#define MAX_SHARDS 64

/* The weight files (safetensors or torch) of one model and which of their tensors the model used. */
typedef struct {
    st_file *files[MAX_SHARDS];
    unsigned char *used[MAX_SHARDS];
    int n;
} wsrc;

static sc_status wsrc_add(wsrc *w, const char *path)
{
    if (w->n == MAX_SHARDS) return err_fail(SC_ERR_FORMAT, "%s: more than %d weight files", path, MAX_SHARDS);
    st_file *f;
    sc_status s = torch_or_safetensors_open(path, &f);
    if (s) return s;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(f); k++)
            if (st_find(w->files[i], st_at(f, k)->name)) {
                err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is also in %s", path, st_at(f, k)->name,
                        st_path(w->files[i]));
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

static const st_tensor *wsrc_find(wsrc *w, const char *name, st_file **file)
{
    for (int i = 0; i < w->n; i++) {
        const st_tensor *t = st_find(w->files[i], name);
        if (t) {
            w->used[i][t - st_at(w->files[i], 0)] = 1;
            *file = w->files[i];
            return t;
        }
    }
    return NULL;
}

static void wsrc_release(wsrc *w, sc_model *m)
{
    for (int i = 0; i < w->n; i++) {
        free(w->used[i]);
        if (m) m->files[m->n_files++] = w->files[i];
        else st_close(w->files[i]);
    }
    w->n = 0;
}

sc_status dit_own(sc_model *m, void *p)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **np = realloc(m->owned, (size_t)cap * sizeof *np);
        if (!np) {
            mem_free(p);
            return err_fail(SC_ERR_NOMEM, "out of memory");
        }
        m->owned = np;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return SC_OK;
}

static void shape_str(char *buf, size_t cap, int rank, const uint64_t *d)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Fetches `name` as float32 and checks its shape is exactly dims[0..rank). */
static sc_status get(sc_model *m, wsrc *w, const char *name, int rank, const uint64_t *dims,
                     const float **out)
{
    st_file *f;
    const st_tensor *t = wsrc_find(w, name, &f);
    if (!t) return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s\"", m->path, name);
    int same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, t->rank, t->shape);
        shape_str(b, sizeof b, rank, dims);
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" has shape %s but the model configuration needs %s",
                       st_path(f), name, a, b);
    }
    float *owned;
    sc_status s = st_to_f32(f, t, out, &owned);
    if (s) return s;
    if (owned && (s = dit_own(m, owned))) return s;
    const char *dn = st_dtype_name(t->dtype);
    if (!m->dtype[0]) snprintf(m->dtype, sizeof m->dtype, "%s", dn);
    else if (strcmp(m->dtype, dn)) snprintf(m->dtype, sizeof m->dtype, "mixed");
    m->params += t->numel;
    return SC_OK;
}

static sc_status get_linear(sc_model *m, wsrc *w, const char *prefix, int out, int in, dit_linear *L)
{
    char name[320];
    uint64_t wd[2] = {(uint64_t)out, (uint64_t)in}, bd[1] = {(uint64_t)out};
    L->out = out;
    L->in = in;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = get(m, w, name, 2, wd, &L->w);
    if (s) return s;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return get(m, w, name, 1, bd, &L->b);
}

/* The patch-embedding conv weight [D, C, p, p], used as a linear [D, C*p*p]. */
static sc_status get_patch_embed(sc_model *m, wsrc *w, const char *prefix)
{
    const dit_config *c = &m->cfg;
    char name[320];
    uint64_t wd[4] = {(uint64_t)c->hidden, (uint64_t)c->in_channels, (uint64_t)c->patch, (uint64_t)c->patch};
    uint64_t bd[1] = {(uint64_t)c->hidden};
    dit_linear *L = &m->w.x_embed;
    L->out = c->hidden;
    L->in = c->in_channels * c->patch * c->patch;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = get(m, w, name, 4, wd, &L->w);
    if (s) return s;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return get(m, w, name, 1, bd, &L->b);
}

static sc_status alloc_blocks(sc_model *m)
{
    m->w.blocks = mem_alloc_array((size_t)m->cfg.depth, sizeof *m->w.blocks, "blocks");
    if (!m->w.blocks) return SC_ERR_NOMEM;
    return dit_own(m, m->w.blocks);
}

static sc_status load_original(sc_model *m, wsrc *w)
{
    const dit_config *c = &m->cfg;
    const int D = c->hidden;
    char p[256];
    sc_status s = alloc_blocks(m);
    if (!s) s = get_patch_embed(m, w, "x_embedder.proj");
    if (!s) s = get_linear(m, w, "t_embedder.mlp.0", D, 256, &m->w.t1);
    if (!s) s = get_linear(m, w, "t_embedder.mlp.2", D, D, &m->w.t2);
    if (!s) {
        uint64_t d[2] = {(uint64_t)c->num_classes + 1, (uint64_t)D};
        s = get(m, w, "y_embedder.embedding_table.weight", 2, d, &m->w.y_table);
    }
    for (int l = 0; l < c->depth && !s; l++) {
        dit_block *b = &m->w.blocks[l];
        snprintf(p, sizeof p, "blocks.%d.adaLN_modulation.1", l);
        s = get_linear(m, w, p, 6 * D, D, &b->ada);
        if (!s) { snprintf(p, sizeof p, "blocks.%d.attn.qkv", l); s = get_linear(m, w, p, 3 * D, D, &b->qkv); }
        if (!s) { snprintf(p, sizeof p, "blocks.%d.attn.proj", l); s = get_linear(m, w, p, D, D, &b->proj); }
        if (!s) { snprintf(p, sizeof p, "blocks.%d.mlp.fc1", l); s = get_linear(m, w, p, 4 * D, D, &b->fc1); }
        if (!s) { snprintf(p, sizeof p, "blocks.%d.mlp.fc2", l); s = get_linear(m, w, p, D, 4 * D, &b->fc2); }
    }
    if (!s) s = get_linear(m, w, "final_layer.adaLN_modulation.1", 2 * D, D, &m->w.final_ada);
    if (!s) s = get_linear(m, w, "final_layer.linear", c->patch * c->patch * c->out_channels, D, &m->w.final_lin);
    st_file *f;
    if (!s && wsrc_find(w, "pos_embed", &f)) {
        uint64_t d[3] = {1, (uint64_t)c->tokens, (uint64_t)D};
        s = get(m, w, "pos_embed", 3, d, &m->w.pos);
    }
    return s;
}

/* 1 if some block's timestep/class embedder copy differs in bytes from block 0's (models trained
 * natively with diffusers); converted checkpoints carry identical copies. */
static int embedders_differ(wsrc *w, int depth)
{
    static const char *parts[] = {"timestep_embedder.linear_1.weight", "timestep_embedder.linear_1.bias",
                                  "timestep_embedder.linear_2.weight", "timestep_embedder.linear_2.bias",
                                  "class_embedder.embedding_table.weight"};
    for (int l = 1; l < depth; l++)
        for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
            char n0[160], nl[160];
            snprintf(n0, sizeof n0, "transformer_blocks.0.norm1.emb.%s", parts[i]);
            snprintf(nl, sizeof nl, "transformer_blocks.%d.norm1.emb.%s", l, parts[i]);
            st_file *f0, *fl;
            const st_tensor *a = wsrc_find(w, n0, &f0), *b = wsrc_find(w, nl, &fl);
            if (!a || !b) continue; /* a missing copy is reported when (if) it is loaded */
            if (a->end - a->begin != b->end - b->begin || a->dtype != b->dtype ||
                memcmp(st_data(f0, a), st_data(fl, b), (size_t)(a->end - a->begin)))
                return 1;
            /* An identical copy is never used: give back the pages the comparison touched
             * (27 copies are 300 MB in DiT-XL/2). */
            dit_release_pages(st_data(fl, b), (size_t)(b->end - b->begin));
        }
    return 0;
}

static sc_status load_diffusers(sc_model *m, wsrc *w)
{
    const dit_config *c = &m->cfg;
    const int D = c->hidden;
    char p[256];
    sc_status s = alloc_blocks(m);
    if (!s) s = get_patch_embed(m, w, "pos_embed.proj");
    /* The 28 per-block embedder copies are identical: block 0's serve the whole model. */
    if (!s) s = get_linear(m, w, "transformer_blocks.0.norm1.emb.timestep_embedder.linear_1", D, 256, &m->w.t1);
    if (!s) s = get_linear(m, w, "transformer_blocks.0.norm1.emb.timestep_embedder.linear_2", D, D, &m->w.t2);
    if (!s) {
        uint64_t d[2] = {(uint64_t)c->num_classes + 1, (uint64_t)D};
        s = get(m, w, "transformer_blocks.0.norm1.emb.class_embedder.embedding_table.weight", 2, d, &m->w.y_table);
    }
    for (int l = 0; l < c->depth && !s; l++) {
        dit_block *b = &m->w.blocks[l];
        snprintf(p, sizeof p, "transformer_blocks.%d.norm1.linear", l);
        s = get_linear(m, w, p, 6 * D, D, &b->ada);
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.attn1.to_q", l); s = get_linear(m, w, p, D, D, &b->q); }
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.attn1.to_k", l); s = get_linear(m, w, p, D, D, &b->k); }
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.attn1.to_v", l); s = get_linear(m, w, p, D, D, &b->v); }
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.attn1.to_out.0", l); s = get_linear(m, w, p, D, D, &b->proj); }
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.ff.net.0.proj", l); s = get_linear(m, w, p, 4 * D, D, &b->fc1); }
        if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.ff.net.2", l); s = get_linear(m, w, p, D, 4 * D, &b->fc2); }
    }
    if (!s) s = get_linear(m, w, "proj_out_1", 2 * D, D, &m->w.final_ada);
    if (!s) s = get_linear(m, w, "proj_out_2", c->patch * c->patch * c->out_channels, D, &m->w.final_lin);
    if (!s && c->depth > 1 && embedders_differ(w, c->depth)) {
        m->w.per_block_cond = 1;
        for (int l = 1; l < c->depth && !s; l++) {
            dit_block *b = &m->w.blocks[l];
            uint64_t d[2] = {(uint64_t)c->num_classes + 1, (uint64_t)D};
            snprintf(p, sizeof p, "transformer_blocks.%d.norm1.emb.timestep_embedder.linear_1", l);
            s = get_linear(m, w, p, D, 256, &b->t1);
            if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.norm1.emb.timestep_embedder.linear_2", l); s = get_linear(m, w, p, D, D, &b->t2); }
            if (!s) { snprintf(p, sizeof p, "transformer_blocks.%d.norm1.emb.class_embedder.embedding_table.weight", l); s = get(m, w, p, 2, d, &b->y_table); }
        }
    }
    return s;
}

/* Original files carry no config: read it off the shapes. Heads are not visible in any shape,
 * so they come from the option, the standard DiT sizes, or an error asking for them. */
static sc_status infer_original_config(sc_model *m, wsrc *w, const sc_load_opts *o)
{
    dit_config *c = &m->cfg;
    st_file *f;
    memset(c, 0, sizeof *c);
    const st_tensor *xe = wsrc_find(w, "x_embedder.proj.weight", &f);
    const st_tensor *fl = wsrc_find(w, "final_layer.linear.weight", &f);
    const st_tensor *yt = wsrc_find(w, "y_embedder.embedding_table.weight", &f);
    if (!xe || !fl || !yt)
        return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s\"", m->path,
                       !xe ? "x_embedder.proj.weight" : !fl ? "final_layer.linear.weight"
                                                            : "y_embedder.embedding_table.weight");
    if (xe->rank != 4 || xe->shape[2] != xe->shape[3] || xe->shape[0] > 16384 || xe->shape[1] > 64 ||
        xe->shape[2] < 1 || xe->shape[2] > 16)
        return err_fail(SC_ERR_FORMAT, "%s: x_embedder.proj.weight must be [D, C, p, p] with p <= 16", m->path);
    c->hidden = (int)xe->shape[0];
    c->in_channels = (int)xe->shape[1];
    c->patch = (int)xe->shape[2];
    uint64_t p2 = (uint64_t)c->patch * c->patch;
    if (fl->rank != 2 || fl->shape[0] % p2 || fl->shape[0] / p2 > 128)
        return err_fail(SC_ERR_FORMAT, "%s: final_layer.linear.weight must be [p*p*out_channels, D]", m->path);
    c->out_channels = (int)(fl->shape[0] / p2);
    if (yt->rank != 2 || yt->shape[0] < 2 || yt->shape[0] > 100001)
        return err_fail(SC_ERR_FORMAT, "%s: y_embedder.embedding_table.weight must be [classes + 1, D]", m->path);
    c->num_classes = (int)yt->shape[0] - 1;

    int depth = 0;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(w->files[i]); k++) {
            const char *n = st_at(w->files[i], k)->name;
            if (strncmp(n, "blocks.", 7) == 0) {
                long idx = strtol(n + 7, NULL, 10);
                if (idx < 0 || idx >= 1024)
                    return err_fail(SC_ERR_FORMAT, "%s: block index in \"%s\" is out of range", m->path, n);
                if (idx + 1 > depth) depth = (int)idx + 1;
            }
        }
    if (depth == 0) return err_fail(SC_ERR_FORMAT, "%s: no \"blocks.N.*\" tensors", m->path);
    c->depth = depth;

    const st_tensor *pe = wsrc_find(w, "pos_embed", &f);
    if (o && o->input_size) {
        c->input_size = o->input_size;
    } else if (pe && pe->rank == 3 && pe->shape[0] == 1) {
        uint64_t T = pe->shape[1], g = (uint64_t)llround(sqrt((double)T));
        if (g * g != T || g * c->patch > 4096)
            return err_fail(SC_ERR_FORMAT, "%s: pos_embed has %llu tokens, not a square grid", m->path,
                           (unsigned long long)T);
        c->input_size = (int)g * c->patch;
    } else {
        return err_fail(SC_ERR_FORMAT, "%s: cannot infer the input size: the file has no pos_embed (pass --input-size)", m->path);
    }
    if (o && o->num_heads) {
        c->heads = o->num_heads;
    } else {
        static const int std_sizes[][2] = {{384, 6}, {768, 12}, {1024, 16}, {1152, 16}};
        for (size_t i = 0; i < sizeof std_sizes / sizeof *std_sizes; i++)
            if (std_sizes[i][0] == c->hidden) c->heads = std_sizes[i][1];
        if (!c->heads)
            return err_fail(SC_ERR_FORMAT, "%s: hidden size %d is not a standard DiT size; pass the number of heads (--heads)",
                           m->path, c->hidden);
    }
    return SC_OK;
}

/* Warns about tensors the model did not use (diffusers' per-block embedder copies excepted). */
static void warn_unused(const sc_model *m, const wsrc *w)
{
    size_t count = 0;
    const char *example = NULL;
    for (int i = 0; i < w->n; i++)
        for (size_t k = 0; k < st_count(w->files[i]); k++) {
            const char *n = st_at(w->files[i], k)->name;
            if (w->used[i][k] || (strncmp(n, "transformer_blocks.", 19) == 0 && strstr(n, ".norm1.emb.")))
                continue;
            if (!example) example = n;
            count++;
        }
    if (count) err_warn("%s: %zu tensor(s) not used by the model, e.g. \"%s\"", m->path, count, example);
}

/* The weights of a diffusers transformer folder: one safetensors file, an index of shards, or
 * (when neither is there) the torch file diffusion_pytorch_model.bin. */
static sc_status open_diffusers_weights(const char *dir, wsrc *w)
{
    char p[4096];
    sc_status s = file_join(p, sizeof p, dir, "diffusion_pytorch_model.safetensors");
    if (s) return s;
    if (file_is_regular(p)) return wsrc_add(w, p);
    if ((s = file_join(p, sizeof p, dir, "diffusion_pytorch_model.safetensors.index.json"))) return s;
    if (file_is_regular(p)) {
        json_t *j;
        if ((s = json_load_object_file(p, 16u << 20, &j))) return s;
        const json_t *map = json_object_get(j, "weight_map");
        if (!json_is_object(map)) {
            json_decref(j);
            return err_fail(SC_ERR_FORMAT, "%s: \"weight_map\" is missing or not an object", p);
        }
        const char *name;
        json_t *v;
        json_object_foreach((json_t *)map, name, v) {
            const char *shard = json_string_value(v);
            if (!shard || !*shard || strchr(shard, '/') || strchr(shard, '\\') || !strcmp(shard, "..") ||
                !strcmp(shard, ".")) {
                s = err_fail(SC_ERR_FORMAT, "%s: shard name for \"%s\" must be a plain file name in the same folder", p, name);
                break;
            }
            char sp[4096];
            if ((s = file_join(sp, sizeof sp, dir, shard))) break;
            int known = 0;
            for (int i = 0; i < w->n && !known; i++) known = !strcmp(st_path(w->files[i]), sp);
            if (!known && (s = wsrc_add(w, sp))) break;
            st_file *f;
            if (!wsrc_find(w, name, &f) || strcmp(st_path(f), sp)) {
                s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" is not in its shard %s", p, name, shard);
                break;
            }
        }
        json_decref(j);
        if (!s)
            for (int i = 0; i < w->n; i++) memset(w->used[i], 0, st_count(w->files[i]));
        return s;
    }
    if ((s = file_join(p, sizeof p, dir, "diffusion_pytorch_model.bin"))) return s;
    if (file_is_regular(p)) return wsrc_add(w, p);
    return err_fail(SC_ERR_FORMAT, "%s: no diffusion_pytorch_model.safetensors (or .safetensors.index.json, or .bin) beside config.json", dir);
}

static void list_dir(const char *dir, char *buf, size_t cap)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    int count = 0;
    buf[0] = '\0';
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && n + 1 < cap) {
        if (e->d_name[0] == '.') continue;
        if (count++ == 8) { snprintf(buf + n, cap - n, ", ..."); break; }
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", e->d_name);
    }
    closedir(d);
    if (!count) snprintf(buf, cap, "nothing");
}

static sc_status load_from_dir(sc_model *m, const char *dir, const sc_load_opts *o, wsrc *w)
{
    char p[4096], tdir[4096];
    sc_status s;
    sched_default(&m->sched);
    if ((s = file_join(p, sizeof p, dir, "model_index.json"))) return s;
    if (file_is_regular(p)) {
        json_t *j;
        if ((s = json_load_object_file(p, SC_JSON_FILE_CAP, &j))) return s;
        int has = json_object_get(j, "transformer") != NULL;
        json_decref(j);
        if (!has) return err_fail(SC_ERR_FORMAT, "%s: no \"transformer\" entry: not a DiT pipeline", p);
        m->layout = DIT_LAYOUT_PIPELINE;
        if ((s = file_join(tdir, sizeof tdir, dir, "transformer"))) return s;
        if ((s = file_join(p, sizeof p, dir, "scheduler/scheduler_config.json"))) return s;
        if (file_is_regular(p) && (s = sched_load(&m->sched, p))) return s;
        dir = tdir;
    } else {
        m->layout = DIT_LAYOUT_DIFFUSERS;
    }
    if ((s = file_join(p, sizeof p, dir, "config.json"))) return s;
    if (!file_is_regular(p)) {
        char found[512];
        list_dir(dir, found, sizeof found);
        return err_fail(SC_ERR_FORMAT, "%s: not a model folder: found %s; expected model_index.json (diffusers pipeline) or config.json + diffusion_pytorch_model.safetensors (diffusers DiTTransformer2DModel)",
                       dir, found);
    }
    if ((s = dit_config_from_json(&m->cfg, p))) return s;
    if ((s = dit_config_finish(&m->cfg, o && o->origin ? o->origin : SC_ORIGIN_DIFFUSERS, p))) return s;
    if ((s = open_diffusers_weights(dir, w))) return s;
    return load_diffusers(m, w);
}

static sc_status load_from_file(sc_model *m, const char *path, const sc_load_opts *o, wsrc *w)
{
    sc_status s = wsrc_add(w, path);
    if (s) return s;
    sched_default(&m->sched);
    st_file *f;
    if (wsrc_find(w, "x_embedder.proj.weight", &f)) {
        m->layout = DIT_LAYOUT_ORIGINAL;
        if ((s = infer_original_config(m, w, o))) return s;
        if ((s = dit_config_finish(&m->cfg, o && o->origin ? o->origin : SC_ORIGIN_ORIGINAL, path))) return s;
        for (int i = 0; i < w->n; i++) memset(w->used[i], 0, st_count(w->files[i]));
        return load_original(m, w);
    }
    if (wsrc_find(w, "pos_embed.proj.weight", &f))
        return err_fail(SC_ERR_FORMAT, "%s: diffusers tensor names but no config: load the folder that holds config.json", path);
    return err_fail(SC_ERR_FORMAT, "%s: not a DiT checkpoint: no \"x_embedder.proj.weight\" (original naming) or \"pos_embed.proj.weight\" (diffusers)", path);
}

static sc_status finish_weights(sc_model *m, const sc_load_opts *o)
{
    const dit_config *c = &m->cfg;
    if (!m->w.pos) {
        float *pos = mem_alloc_array((size_t)c->tokens * c->hidden, sizeof(float), "position table");
        if (!pos) return SC_ERR_NOMEM;
        dit_pos_embed(pos, c->grid, c->hidden);
        m->w.pos = pos;
        sc_status s = dit_own(m, pos);
        if (s) return s;
    }
    if (o && o->check_weights) {
        const dit_linear *all[4 + 7] = {&m->w.x_embed, &m->w.t1, &m->w.t2, &m->w.final_ada, &m->w.final_lin};
        for (int l = -1; l < c->depth; l++) {
            int n = 5;
            if (l >= 0) {
                const dit_block *b = &m->w.blocks[l];
                const dit_linear *bl[] = {&b->ada, &b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->fc1};
                n = 0;
                for (int i = 0; i < 7; i++) all[n++] = bl[i];
                all[n++] = &b->fc2;
            }
            for (int i = 0; i < n; i++) {
                const dit_linear *L = all[i];
                if (!L->w) continue;
                for (size_t k = 0; k < (size_t)L->out * L->in; k++)
                    if (!isfinite(L->w[k]))
                        return err_fail(SC_ERR_NUMERIC, "%s: non-finite weight (block %d)", m->path, l);
                for (int k = 0; k < L->out; k++)
                    if (!isfinite(L->b[k]))
                        return err_fail(SC_ERR_NUMERIC, "%s: non-finite bias (block %d)", m->path, l);
            }
        }
    }
    return SC_OK;
}

sc_status sc_model_load(const char *path, const sc_load_opts *opts, sc_model **out)
{
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty model path");
    if (opts && opts->num_heads < 0) return err_fail(SC_ERR_ARG, "number of heads must be positive");
    sc_model *m = calloc(1, sizeof *m);
    if (!m) return err_fail(SC_ERR_NOMEM, "out of memory");
    snprintf(m->path, sizeof m->path, "%s", path);
    wsrc w = {0};
    sc_status s;
    if (file_is_dir(path)) s = load_from_dir(m, path, opts, &w);
    else s = load_from_file(m, path, opts, &w);
    if (!s) s = finish_weights(m, opts);
    if (!s) warn_unused(m, &w);
    if (!s && !(opts && opts->no_pack)) s = dit_pack(m);
    wsrc_release(&w, s ? NULL : m);
    if (s) {
        sc_model_free(m);
        return s;
    }
    *out = m;
    return SC_OK;
}

void sc_model_free(sc_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
    free(m->owned);
    for (int i = 0; i < m->n_packs; i++) mm_packed_free(m->packs[i]);
    free(m->packs);
    for (int i = 0; i < m->n_files; i++) st_close(m->files[i]);
    free(m);
}

void sc_model_get_info(const sc_model *m, sc_model_info *info)
{
    const dit_config *c = &m->cfg;
    static const char *layouts[] = {"original", "diffusers", "diffusers-pipeline"};
    memset(info, 0, sizeof *info);
    info->layout = layouts[m->layout];
    info->origin = c->freq_div == 128 ? SC_ORIGIN_ORIGINAL : SC_ORIGIN_DIFFUSERS;
    info->dtype = m->dtype;
    info->depth = c->depth;
    info->hidden = c->hidden;
    info->heads = c->heads;
    info->head_dim = c->head_dim;
    info->patch = c->patch;
    info->input_size = c->input_size;
    info->in_channels = c->in_channels;
    info->out_channels = c->out_channels;
    info->num_classes = c->num_classes;
    info->learned_sigma = c->learned_sigma;
    info->tokens = c->tokens;
    info->params = m->params;
    info->macs_per_forward = dit_macs_forward(c);
    info->macs_block_attn = dit_macs_attn(c);
    info->macs_block_mlp = dit_macs_mlp(c);
}

size_t sc_latent_bytes(const sc_model *m, int n)
{
    const dit_config *c = &m->cfg;
    uint64_t b;
    if (n < 0 || !ck_mul3((uint64_t)n, (uint64_t)c->in_channels,
                          (uint64_t)c->input_size * c->input_size * sizeof(float), &b) || b > SIZE_MAX)
        return 0;
    return (size_t)b;
}
