/* Finding and loading an SD-VAE decoder: which path form and tensor naming a checkpoint uses
 * (vae.h), its configuration (config.json, or read off the shapes of a lone file), and the
 * shape check of every tensor before it is reordered into a convolution layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "model/vae.h"
#include "model/vae_ops.h"

#define VAE_MAX_CHANNELS 8192
#define SD_GROUPS 32
#define SD_SCALING_FACTOR 0.18215

/* The weight file of a VAE, the key prefix of its VAE tensors ("" or "first_stage_model."),
 * its naming, and which tensors the decoder used. */
typedef struct {
    st_file *f;
    unsigned char *used;
    const char *prefix;
    vae_naming naming;
} vsrc;

static const st_tensor *vsrc_find(const vsrc *w, const char *name)
{
    char full[ST_MAX_NAME + 32];
    snprintf(full, sizeof full, "%s%s", w->prefix, name);
    return st_find(w->f, full);
}

/* ---- names (FORMATS.md 4): one builder per decoder part, each knowing the three namings ---- */

static void mid_resnet_name(char *buf, size_t cap, const vsrc *w, int i)
{
    if (w->naming == VAE_NAMES_LDM) snprintf(buf, cap, "decoder.mid.block_%d", i + 1);
    else snprintf(buf, cap, "decoder.mid_block.resnets.%d", i);
}

/* Resnet r of diffusers up block b; LDM numbers the up blocks from the other end. */
static void up_resnet_name(char *buf, size_t cap, const vsrc *w, int blocks, int b, int r)
{
    if (w->naming == VAE_NAMES_LDM) snprintf(buf, cap, "decoder.up.%d.block.%d", blocks - 1 - b, r);
    else snprintf(buf, cap, "decoder.up_blocks.%d.resnets.%d", b, r);
}

static void upsample_name(char *buf, size_t cap, const vsrc *w, int blocks, int b)
{
    if (w->naming == VAE_NAMES_LDM) snprintf(buf, cap, "decoder.up.%d.upsample.conv", blocks - 1 - b);
    else snprintf(buf, cap, "decoder.up_blocks.%d.upsamplers.0.conv", b);
}

enum { ATT_NORM, ATT_Q, ATT_K, ATT_V, ATT_OUT };

static void attention_name(char *buf, size_t cap, const vsrc *w, int part)
{
    static const char *parts[3][5] = {{"group_norm", "to_q", "to_k", "to_v", "to_out.0"},
                                      {"group_norm", "query", "key", "value", "proj_attn"},
                                      {"norm", "q", "k", "v", "proj_out"}};
    snprintf(buf, cap, "%s.%s", w->naming == VAE_NAMES_LDM ? "decoder.mid.attn_1" : "decoder.mid_block.attentions.0",
             parts[w->naming][part]);
}

static const char *norm_out_name(const vsrc *w)
{
    return w->naming == VAE_NAMES_LDM ? "decoder.norm_out" : "decoder.conv_norm_out";
}

static const char *shortcut_name(const vsrc *w)
{
    return w->naming == VAE_NAMES_LDM ? "nin_shortcut" : "conv_shortcut";
}

/* ---- fetching tensors with shape checks ---- */

static void shape_str(char *buf, size_t cap, int rank, const uint64_t *d)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? "," : "", (unsigned long long)d[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* `name` (without the prefix) as float32 of exactly dims[0..rank). A 1x1 conv weight
 * [o, i, 1, 1] may also come as the linear [o, i] (the same bytes): diffusers stores the
 * attention projections as linears, LDM as 1x1 convs. *owned, if set, is the caller's. */
static sc_status fetch(vsrc *w, const char *name, int rank, const uint64_t *dims, const float **data,
                       float **owned)
{
    const st_tensor *t = vsrc_find(w, name);
    if (!t) return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s%s\"", st_path(w->f), w->prefix, name);
    const int pointwise = rank == 4 && dims[2] == 1 && dims[3] == 1;
    int same = t->rank == rank || (pointwise && t->rank == 2);
    for (int i = 0; same && i < t->rank; i++) same = t->shape[i] == dims[i];
    if (!same) {
        char a[96], b[96];
        shape_str(a, sizeof a, t->rank, t->shape);
        shape_str(b, sizeof b, rank, dims);
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s%s\" has shape %s but the VAE configuration needs %s%s",
                       st_path(w->f), w->prefix, name, a, b, pointwise ? " (or the same without the 1x1)" : "");
    }
    w->used[t - st_at(w->f, 0)] = 1;
    return st_to_f32(w->f, t, data, owned);
}

/* 3x3 convs with at most this many channels on one side use winograd (conv.h). In SD they are
 * the ones of up blocks 2 and 3, which run at 1/2 and 1/1 of the image side: 43% of the
 * decoder's multiply-adds (52% after the upsampling fold), for 82 MB of transformed weights
 * (+21 MB plain copies). The 512-channel convs run at 1/8 and 1/4 of the side; theirs would
 * take 600 MB more for the smaller part of the time. */
#define VAE_WINOGRAD_MAX_CHANNELS 256

/* A conv `prefix`.weight [cout, cin, k, k] + .bias [cout], padding k / 2. */
static sc_status load_conv(vae_model *m, vsrc *w, const char *prefix, int cin, int cout, int k, conv_layer **out)
{
    char name[320];
    uint64_t wd[4] = {(uint64_t)cout, (uint64_t)cin, (uint64_t)k, (uint64_t)k}, bd[1] = {(uint64_t)cout};
    const float *wt, *bias;
    float *wown = NULL, *bown = NULL;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = fetch(w, name, 4, wd, &wt, &wown);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = fetch(w, name, 1, bd, &bias, &bown);
    const int narrow = cin <= VAE_WINOGRAD_MAX_CHANNELS || cout <= VAE_WINOGRAD_MAX_CHANNELS;
    if (!s) s = conv_layer_create(m->conv, cin, cout, k, k / 2, wt, bias, k == 3 && narrow ? CONV_WINOGRAD : CONV_DIRECT, out);
    mem_free(wown);
    mem_free(bown);
    return s;
}

/* The upsampler's 3x3 conv c -> c, folded with the nearest x2 upsampling into a 2x2 conv
 * c -> 4c (vae_upsample_weights). */
static sc_status load_upsample(vae_model *m, vsrc *w, const char *prefix, int c, conv_layer **out)
{
    char name[320];
    uint64_t wd[4] = {(uint64_t)c, (uint64_t)c, 3, 3}, bd[1] = {(uint64_t)c};
    const float *wt, *bias;
    float *wown = NULL, *bown = NULL;
    float *w2 = mem_alloc_array((size_t)16 * c * c, sizeof(float), "upsampling weights"); /* [4c, c, 2, 2] */
    float *b4 = mem_alloc_array((size_t)4 * c, sizeof(float), "upsampling bias");         /* [4c] */
    sc_status s = w2 && b4 ? SC_OK : SC_ERR_NOMEM;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if (!s) s = fetch(w, name, 4, wd, &wt, &wown);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = fetch(w, name, 1, bd, &bias, &bown);
    if (!s) {
        vae_upsample_weights(w2, wt, c, c);
        for (int p = 0; p < 4; p++) memcpy(b4 + (size_t)p * c, bias, (size_t)c * sizeof *b4);
        s = conv_layer_create(m->conv, c, 4 * c, 2, 1, w2, b4, CONV_DIRECT, out);
    }
    mem_free(wown);
    mem_free(bown);
    mem_free(w2);
    mem_free(b4);
    return s;
}

static sc_status load_norm(vsrc *w, const char *prefix, int c, vae_norm *n)
{
    char name[320];
    uint64_t d[1] = {(uint64_t)c};
    const float *src;
    float *own = NULL;
    n->c = c;
    n->gamma = mem_alloc_array((size_t)c, sizeof(float), "GroupNorm weights");
    n->beta = mem_alloc_array((size_t)c, sizeof(float), "GroupNorm weights");
    if (!n->gamma || !n->beta) return SC_ERR_NOMEM;
    snprintf(name, sizeof name, "%s.weight", prefix);
    sc_status s = fetch(w, name, 1, d, &src, &own);
    if (!s) memcpy(n->gamma, src, (size_t)c * sizeof(float));
    mem_free(own);
    own = NULL;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = fetch(w, name, 1, d, &src, &own);
    if (!s) memcpy(n->beta, src, (size_t)c * sizeof(float));
    mem_free(own);
    return s;
}

static sc_status load_resnet(vae_model *m, vsrc *w, const char *prefix, int cin, int cout, vae_resnet *R)
{
    char p[300];
    R->cin = cin;
    R->cout = cout;
    snprintf(p, sizeof p, "%s.norm1", prefix);
    sc_status s = load_norm(w, p, cin, &R->norm1);
    snprintf(p, sizeof p, "%s.conv1", prefix);
    if (!s) s = load_conv(m, w, p, cin, cout, 3, &R->conv1);
    snprintf(p, sizeof p, "%s.norm2", prefix);
    if (!s) s = load_norm(w, p, cout, &R->norm2);
    snprintf(p, sizeof p, "%s.conv2", prefix);
    if (!s) s = load_conv(m, w, p, cout, cout, 3, &R->conv2);
    snprintf(p, sizeof p, "%s.%s", prefix, shortcut_name(w));
    if (!s && cin != cout) s = load_conv(m, w, p, cin, cout, 1, &R->shortcut);
    return s;
}

static sc_status load_attention(vae_model *m, vsrc *w, int c)
{
    vae_attention *A = &m->attn;
    char p[300];
    A->c = c;
    attention_name(p, sizeof p, w, ATT_NORM);
    sc_status s = load_norm(w, p, c, &A->norm);
    conv_layer **dst[4] = {&A->q, &A->k, &A->v, &A->out};
    for (int i = 0; i < 4 && !s; i++) {
        attention_name(p, sizeof p, w, ATT_Q + i);
        s = load_conv(m, w, p, c, c, 1, dst[i]);
    }
    return s;
}

static sc_status load_weights(vae_model *m, vsrc *w)
{
    const vae_config *c = &m->cfg;
    const int top = c->block_out[c->blocks - 1];
    char p[300];
    sc_status s = SC_OK;
    if (c->post_quant_conv)
        s = load_conv(m, w, "post_quant_conv", c->latent_channels, c->latent_channels, 1, &m->post_quant);
    if (!s) s = load_conv(m, w, "decoder.conv_in", c->latent_channels, top, 3, &m->conv_in);
    for (int i = 0; i < 2 && !s; i++) {
        mid_resnet_name(p, sizeof p, w, i);
        s = load_resnet(m, w, p, top, top, &m->mid[i]);
    }
    if (!s && c->mid_attention) s = load_attention(m, w, top);
    int prev = top;
    for (int b = 0; b < c->blocks && !s; b++) {
        vae_up_block *U = &m->up[b];
        U->cout = c->block_out[c->blocks - 1 - b];
        U->n_resnets = c->layers_per_block + 1;
        U->resnets = calloc((size_t)U->n_resnets, sizeof *U->resnets);
        if (!U->resnets) return err_fail(SC_ERR_NOMEM, "out of memory");
        for (int r = 0; r < U->n_resnets && !s; r++) {
            up_resnet_name(p, sizeof p, w, c->blocks, b, r);
            s = load_resnet(m, w, p, r == 0 ? prev : U->cout, U->cout, &U->resnets[r]);
        }
        if (!s && b < c->blocks - 1) {
            upsample_name(p, sizeof p, w, c->blocks, b);
            s = load_upsample(m, w, p, U->cout, &U->upsample);
        }
        prev = U->cout;
    }
    if (!s) s = load_norm(w, norm_out_name(w), c->block_out[0], &m->norm_out);
    if (!s) s = load_conv(m, w, "decoder.conv_out", c->block_out[0], c->out_channels, 3, &m->conv_out);
    return s;
}

/* ---- configuration ---- */

/* Every decoder channel count must split into the GroupNorm groups; `hint` ends the message. */
static sc_status check_groups(const vae_config *c, const char *what, const char *hint)
{
    for (int i = 0; i < c->blocks; i++)
        if (c->block_out[i] % c->groups)
            return err_fail(SC_ERR_FORMAT, "%s: norm_num_groups %d does not divide block_out_channels[%d] = %d%s", what,
                           c->groups, i, c->block_out[i], hint);
    return SC_OK;
}

static sc_status config_from_json(vae_config *c, const char *path)
{
    json_t *j;
    sc_status s = json_load_object_file(path, SC_JSON_FILE_CAP, &j);
    if (s) return s;
    const char *cls, *act;
    long long lpb, lat, out, groups;
    int pq, attn;
    if ((s = json_get_str(j, "_class_name", path, 0, "AutoencoderKL", &cls)) ||
        (s = json_get_str(j, "act_fn", path, 0, "silu", &act)) ||
        (s = json_get_int(j, "layers_per_block", path, 0, 0, 16, 1, &lpb)) ||
        (s = json_get_int(j, "latent_channels", path, 0, 1, 64, 4, &lat)) ||
        (s = json_get_int(j, "out_channels", path, 0, 1, 64, 3, &out)) ||
        (s = json_get_int(j, "norm_num_groups", path, 0, 1, VAE_MAX_CHANNELS, 32, &groups)) ||
        (s = json_get_num(j, "scaling_factor", path, 0, 1e-6, 1e6, SD_SCALING_FACTOR, &c->scaling_factor)) ||
        (s = json_get_num(j, "shift_factor", path, 0, -1e6, 1e6, 0.0, &c->shift_factor)) ||
        (s = json_get_bool(j, "use_post_quant_conv", path, 0, 1, &pq)) ||
        (s = json_get_bool(j, "mid_block_add_attention", path, 0, 1, &attn)))
        goto done;
    if (strcmp(cls, "AutoencoderKL")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%s\": only AutoencoderKL decoders are supported", path, cls);
        goto done;
    }
    if (strcmp(act, "silu")) {
        s = err_fail(SC_ERR_UNSUPPORTED, "%s: act_fn \"%s\": only \"silu\" is supported", path, act);
        goto done;
    }
    c->layers_per_block = (int)lpb;
    c->latent_channels = (int)lat;
    c->out_channels = (int)out;
    c->groups = (int)groups;
    c->post_quant_conv = pq;
    c->mid_attention = attn;
    /* diffusers' defaults where a key is absent: one block of 64 channels. */
    const json_t *boc = json_object_get(j, "block_out_channels");
    const json_t *ubt = json_object_get(j, "up_block_types");
    c->blocks = boc ? (int)json_array_size(boc) : 1;
    c->block_out[0] = 64;
    if (boc && (!json_is_array(boc) || c->blocks < 1 || c->blocks > VAE_MAX_BLOCKS)) {
        s = err_fail(SC_ERR_FORMAT, "%s: \"block_out_channels\" must be an array of 1 to %d integers", path,
                    VAE_MAX_BLOCKS);
        goto done;
    }
    for (int i = 0; boc && i < c->blocks; i++) {
        const json_t *v = json_array_get(boc, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > VAE_MAX_CHANNELS) {
            s = err_fail(SC_ERR_FORMAT, "%s: \"block_out_channels\"[%d] must be an integer in [1, %d]", path, i,
                        VAE_MAX_CHANNELS);
            goto done;
        }
        c->block_out[i] = (int)json_integer_value(v);
    }
    if (ubt && (!json_is_array(ubt) || (int)json_array_size(ubt) != c->blocks)) {
        s = err_fail(SC_ERR_FORMAT, "%s: \"up_block_types\" must be an array with one entry per block_out_channels entry (%d)",
                    path, c->blocks);
        goto done;
    }
    for (int i = 0; ubt && i < c->blocks; i++) {
        const char *t = json_string_value(json_array_get(ubt, (size_t)i));
        if (!t || strcmp(t, "UpDecoderBlock2D")) {
            s = err_fail(SC_ERR_UNSUPPORTED, "%s: \"up_block_types\"[%d] is %s%s%s: only \"UpDecoderBlock2D\" is supported",
                        path, i, t ? "\"" : "", t ? t : "not a string", t ? "\"" : "");
            goto done;
        }
    }
    s = check_groups(c, path, "");
done:
    json_decref(j);
    return s;
}

/* The number after `head` in `name` ("decoder.up.3.block.0.x" with head "decoder.up." -> 3),
 * or -1 when name does not continue head with digits and a dot. */
static int index_after(const char *name, const char *head)
{
    size_t n = strlen(head);
    if (strncmp(name, head, n)) return -1;
    const char *p = name + n;
    int v = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++) v = 10 * v + (*p - '0');
    return digits && *p == '.' ? v : -1;
}

/* 1 + the largest index after `head` over the file's tensors (0 if none). */
static int count_indexed(const vsrc *w, const char *head)
{
    char full[320];
    int count = 0;
    snprintf(full, sizeof full, "%s%s", w->prefix, head);
    for (size_t k = 0; k < st_count(w->f); k++) {
        int i = index_after(st_at(w->f, k)->name, full);
        if (i + 1 > count) count = i + 1;
    }
    return count;
}

/* First dimension of a rank-4 tensor, as a channel count, or an error naming it. */
static sc_status channels_of(const vsrc *w, const char *name, int *out)
{
    const st_tensor *t = vsrc_find(w, name);
    if (!t) return err_fail(SC_ERR_FORMAT, "%s: missing tensor \"%s%s\"", st_path(w->f), w->prefix, name);
    if (t->rank != 4 || t->shape[0] < 1 || t->shape[0] > VAE_MAX_CHANNELS)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s%s\" must be a conv weight [out, in, k, k] with out <= %d",
                       st_path(w->f), w->prefix, name, VAE_MAX_CHANNELS);
    *out = (int)t->shape[0];
    return SC_OK;
}

/* A lone file has no config: the block and layer counts and the channels are in its shapes;
 * groups and scaling factor take the SD values. */
static sc_status config_from_shapes(vae_config *c, const vsrc *w)
{
    const char *path = st_path(w->f);
    char p[320];
    int ldm = w->naming == VAE_NAMES_LDM;
    memset(c, 0, sizeof *c);
    c->blocks = count_indexed(w, ldm ? "decoder.up." : "decoder.up_blocks.");
    if (c->blocks < 1 || c->blocks > VAE_MAX_BLOCKS)
        return err_fail(SC_ERR_FORMAT, "%s: found %d decoder up blocks; expected 1 to %d", path, c->blocks, VAE_MAX_BLOCKS);
    up_resnet_name(p, sizeof p, w, c->blocks, 0, 0);
    p[strlen(p) - 1] = '\0'; /* "...block." / "...resnets." without the index */
    int resnets = count_indexed(w, p);
    if (resnets < 1 || resnets > 17)
        return err_fail(SC_ERR_FORMAT, "%s: found %d resnets in the first decoder up block; expected 1 to 17", path, resnets);
    c->layers_per_block = resnets - 1;
    sc_status s = SC_OK;
    for (int b = 0; b < c->blocks && !s; b++) {
        up_resnet_name(p, sizeof p, w, c->blocks, b, 0);
        strcat(p, ".conv1.weight");
        s = channels_of(w, p, &c->block_out[c->blocks - 1 - b]);
    }
    if (!s) s = channels_of(w, "decoder.conv_out.weight", &c->out_channels);
    const st_tensor *in = vsrc_find(w, "decoder.conv_in.weight");
    if (!s && (in->rank != 4 || in->shape[1] < 1 || in->shape[1] > 64))
        s = err_fail(SC_ERR_FORMAT, "%s: tensor \"%sdecoder.conv_in.weight\" must be [out, latent channels <= 64, 3, 3]",
                    path, w->prefix);
    if (s) return s;
    c->latent_channels = (int)in->shape[1];
    c->groups = SD_GROUPS;
    c->scaling_factor = SD_SCALING_FACTOR;
    c->post_quant_conv = vsrc_find(w, "post_quant_conv.weight") != NULL;
    attention_name(p, sizeof p, w, ATT_NORM);
    strcat(p, ".weight");
    c->mid_attention = vsrc_find(w, p) != NULL;
    return check_groups(c, path, " (a file without config.json gets the SD value 32: load a folder with config.json)");
}

/* ---- the path forms ---- */

/* Which key prefix and naming a weight file uses. */
static sc_status detect_naming(vsrc *w)
{
    /* Full SD checkpoints keep the VAE under first_stage_model. (some under vae.). */
    static const char *prefixes[] = {"", "first_stage_model.", "vae."};
    w->prefix = NULL;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes && !w->prefix; i++) {
        w->prefix = prefixes[i];
        if (!vsrc_find(w, "decoder.conv_in.weight")) w->prefix = NULL;
    }
    if (!w->prefix)
        return err_fail(SC_ERR_FORMAT, "%s: not a VAE: no tensor \"decoder.conv_in.weight\" (or \"first_stage_model.decoder.conv_in.weight\" in a full SD checkpoint)",
                       st_path(w->f));
    if (vsrc_find(w, "decoder.mid.block_1.conv1.weight")) w->naming = VAE_NAMES_LDM;
    else if (vsrc_find(w, "decoder.mid_block.attentions.0.query.weight")) w->naming = VAE_NAMES_LEGACY;
    else w->naming = VAE_NAMES_DIFFUSERS;
    return SC_OK;
}

static sc_status vsrc_open(vsrc *w, const char *path)
{
    sc_status s = st_open(path, &w->f);
    if (s) return s;
    w->used = calloc(st_count(w->f) + 1, 1);
    if (!w->used) return err_fail(SC_ERR_NOMEM, "out of memory");
    return detect_naming(w);
}

/* A folder: a pipeline's vae/ or a VAE folder with config.json beside its weights. */
static sc_status open_folder(vae_model *m, const char *dir, vsrc *w)
{
    char p[4096], vdir[4096];
    sc_status s;
    if ((s = file_join(p, sizeof p, dir, "model_index.json"))) return s;
    if (file_is_regular(p)) {
        json_t *j;
        if ((s = json_load_object_file(p, SC_JSON_FILE_CAP, &j))) return s;
        int has = json_object_get(j, "vae") != NULL;
        json_decref(j);
        if (!has) return err_fail(SC_ERR_FORMAT, "%s: no \"vae\" entry: this pipeline has no VAE", p);
        if ((s = file_join(vdir, sizeof vdir, dir, "vae"))) return s;
        dir = vdir;
    }
    if ((s = file_join(p, sizeof p, dir, "config.json"))) return s;
    if (!file_is_regular(p))
        return err_fail(SC_ERR_FORMAT, "%s: not a VAE folder: no config.json (expected config.json + diffusion_pytorch_model.safetensors)", dir);
    if ((s = config_from_json(&m->cfg, p))) return s;
    static const char *names[] = {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if ((s = file_join(p, sizeof p, dir, names[i]))) return s;
        if (file_is_regular(p)) return vsrc_open(w, p);
    }
    if ((s = file_join(p, sizeof p, dir, "diffusion_pytorch_model.bin"))) return s;
    if (file_is_regular(p))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: only a PyTorch pickle (diffusion_pytorch_model.bin) is here; this build reads safetensors: convert it to diffusion_pytorch_model.safetensors", dir);
    return err_fail(SC_ERR_FORMAT, "%s: no diffusion_pytorch_model.safetensors beside config.json", dir);
}

/* Warns about decoder tensors the configuration did not use (the encoder is never used). */
static void warn_unused(const vsrc *w)
{
    size_t count = 0, np = strlen(w->prefix);
    const char *example = NULL;
    for (size_t k = 0; k < st_count(w->f); k++) {
        const char *n = st_at(w->f, k)->name;
        if (w->used[k] || strncmp(n, w->prefix, np) ||
            (strncmp(n + np, "decoder.", 8) && strncmp(n + np, "post_quant_conv.", 16)))
            continue;
        if (!example) example = n;
        count++;
    }
    if (count) err_warn("%s: %zu decoder tensor(s) not used by the configuration, e.g. \"%s\"", st_path(w->f), count, example);
}

sc_status vae_load(const char *path, vae_model **out)
{
    *out = NULL;
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty VAE path");
    vae_model *m = calloc(1, sizeof *m);
    if (!m) return err_fail(SC_ERR_NOMEM, "out of memory");
    snprintf(m->path, sizeof m->path, "%s", path);
    vsrc w = {0};
    sc_status s;
    if (file_is_dir(path)) {
        s = open_folder(m, path, &w);
    } else {
        s = vsrc_open(&w, path);
        if (!s) s = config_from_shapes(&m->cfg, &w);
    }
    if (!s) {
        m->cfg.naming = w.naming;
        s = conv_create(&m->conv);
    }
    if (!s) s = mm_create(&m->mm);
    if (!s) s = load_weights(m, &w);
    if (!s) warn_unused(&w);
    free(w.used);
    if (w.f) st_close(w.f);
    if (s) {
        vae_free(m);
        return s;
    }
    *out = m;
    return SC_OK;
}

static void free_norm(vae_norm *n)
{
    mem_free(n->gamma);
    mem_free(n->beta);
}

static void free_resnet(vae_resnet *R)
{
    free_norm(&R->norm1);
    free_norm(&R->norm2);
    conv_layer_free(R->conv1);
    conv_layer_free(R->conv2);
    conv_layer_free(R->shortcut);
}

void vae_free(vae_model *m)
{
    if (!m) return;
    conv_layer_free(m->post_quant);
    conv_layer_free(m->conv_in);
    for (int i = 0; i < 2; i++) free_resnet(&m->mid[i]);
    free_norm(&m->attn.norm);
    conv_layer_free(m->attn.q);
    conv_layer_free(m->attn.k);
    conv_layer_free(m->attn.v);
    conv_layer_free(m->attn.out);
    for (int b = 0; b < VAE_MAX_BLOCKS; b++) {
        for (int r = 0; m->up[b].resnets && r < m->up[b].n_resnets; r++) free_resnet(&m->up[b].resnets[r]);
        free(m->up[b].resnets);
        conv_layer_free(m->up[b].upsample);
    }
    free_norm(&m->norm_out);
    conv_layer_free(m->conv_out);
    vae_workspace_free(&m->ws);
    mm_destroy(m->mm);
    conv_destroy(m->conv);
    free(m);
}

float vae_scaling_factor(const vae_model *m) { return (float)m->cfg.scaling_factor; }

int vae_upscale(const vae_model *m) { return 1 << (m->cfg.blocks - 1); }
