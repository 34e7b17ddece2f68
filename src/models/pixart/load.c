/* Loading a PixArt transformer from what the registry detected: a diffusers folder (config.json +
 * weights: safetensors or PyTorch .bin, sharded or not), or a single file in the PixArt authors'
 * naming (their .pth; the configuration read off the shapes); every tensor fetched through the
 * layout's name table with its shape checked, optionally every weight checked finite, then
 * prepared for the backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/pixart/pixart.h"

/* PixArt's cacheable sub-layers: self-attention (diffusers' attn1) and the MLP (ff), gated by the
 * block's modulation rows 2 and 5, and the cross-attention (attn2), added ungated. */
static const model_component k_components[] = {
    {"attn", "attn1", ROLE_SELF_ATTENTION, 2},
    {"cross", "attn2", ROLE_CROSS_ATTENTION, -1},
    {"mlp", "ff", ROLE_MLP, 5},
};

typedef struct {
    const char *path;
    sc_status s;
} check_state;

static void check_one(be_linear *L, void *user)
{
    check_state *c = user;
    if (c->s || !L->w) return;
    for (size_t k = 0; k < (size_t)L->out * L->in; k++)
        if (!isfinite(L->w[k])) {
            c->s = err_fail(SC_ERR_NUMERIC, "%s: non-finite weight in a [%d, %d] layer", c->path, L->out, L->in);
            return;
        }
    for (int k = 0; k < L->out; k++)
        if (!isfinite(L->b[k])) {
            c->s = err_fail(SC_ERR_NUMERIC, "%s: non-finite bias in a [%d, %d] layer", c->path, L->out, L->in);
            return;
        }
}

static sc_status check_tables(const pixart_model *m)
{
    const int D = m->cfg.hidden;
    for (int l = -1; l < m->cfg.depth; l++) {
        const float *t = l < 0 ? m->w.final_sst : m->w.blocks[l].sst;
        const size_t n = (size_t)(l < 0 ? 2 : 6) * D;
        for (size_t k = 0; k < n; k++)
            if (!isfinite(t[k]))
                return err_fail(SC_ERR_NUMERIC, "%s: non-finite scale-shift table (%s %d)", m->base.path,
                                l < 0 ? "final layer" : "block", l < 0 ? 0 : l);
    }
    return SC_OK;
}

/* What the runner, the cache and the API see. */
static void fill_base(pixart_model *m)
{
    model *b = &m->base;
    const pixart_config *c = &m->cfg;
    b->family = &model_family_pixart;
    b->depth = c->depth;
    b->tokens = c->tokens;
    b->hidden = c->hidden;
    b->n_comp = (int)(sizeof k_components / sizeof *k_components);
    b->comp = k_components;
    b->latent = (sc_shape){.rank = 3, .dims = {c->in_channels, c->sample_size, c->sample_size}};
    b->out_channels = c->out_channels;
    b->cfg_channels = c->out_channels; /* the pipelines guide every channel */
    b->learned_sigma = c->learned_sigma;
    b->prediction = PRED_EPSILON;
    b->macs_forward = pixart_macs_forward(c, (uint64_t)c->tokens, PIXART_NOMINAL_TEXT_LEN);
    b->macs_comp[0] = pixart_macs_attn(c, (uint64_t)c->tokens);
    b->macs_comp[1] = pixart_macs_cross(c, (uint64_t)c->tokens, PIXART_NOMINAL_TEXT_LEN);
    b->macs_comp[2] = pixart_macs_mlp(c, (uint64_t)c->tokens);
    b->params = weights_params(b->files);
    snprintf(b->dtype, sizeof b->dtype, "%s", weights_dtype(b->files));
    snprintf(b->layout, sizeof b->layout, "%s", m->layout == PIXART_LAYOUT_ORIGINAL ? "original" : "diffusers");
}

/* The configuration and weights of the checkpoint's layout; a folder's weights are opened once
 * its config is known to be a PixArt's (into m->base.files). */
static sc_status load_layout(pixart_model *m, const model_probe *p, const sc_load_opts *o)
{
    sc_status s;
    if (o && o->origin)
        return err_fail(SC_ERR_ARG, "%s: sc_load_opts.origin chooses between DiT's two numerics; PixArt has one",
                        p->config ? p->config_path : p->path);
    if (p->config) {
        m->layout = PIXART_LAYOUT_DIFFUSERS;
        if (o && (o->num_heads || o->input_size))
            return err_fail(SC_ERR_ARG, "%s: sc_load_opts.%s applies to original files, which have no config; this "
                                        "config states it", p->config_path, o->num_heads ? "num_heads" : "input_size");
        if ((s = pixart_config_from_object(&m->cfg, p->config, p->config_path))) return s;
        if (!m->base.files && (s = weights_open_folder(p->path, &m->base.files))) return s;
        return pixart_fetch_weights(m, m->base.files, PIXART_LAYOUT_DIFFUSERS);
    }
    if (p->w && weights_peek(p->w, "x_embedder.proj.weight")) {
        m->layout = PIXART_LAYOUT_ORIGINAL;
        if ((s = pixart_config_from_shapes(&m->cfg, p->w, o, p->path))) return s;
        return pixart_fetch_weights(m, p->w, PIXART_LAYOUT_ORIGINAL);
    }
    return err_fail(SC_ERR_FORMAT, "%s: a PixArt transformer in diffusers' naming needs its config.json: load the "
                                   "diffusers folder (transformer/ or the pipeline folder above it)", p->path);
}

sc_status pixart_load(const model_probe *p, const sc_load_opts *o, model **out)
{
    *out = NULL;
    pixart_model *m = calloc(1, sizeof *m);
    if (!m) {
        weights_close(p->w);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    m->base.family = &model_family_pixart;
    m->base.be = backend_cpu_f32();
    m->base.files = p->w;
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sc_status s = load_layout(m, p, o);
    if (!s && o && o->check_weights) {
        check_state c = {p->path, SC_OK};
        pixart_each_linear(m, check_one, &c);
        s = c.s ? c.s : check_tables(m);
    }
    if (!s) m->base.be = model_pick_backend(o, weights_dtype(m->base.files), 0);
    if (!s) {
        const char *example;
        const size_t unused = weights_unused(m->base.files, pixart_unused_is_expected, &example);
        if (unused) err_warn("%s: %zu tensor(s) not used by the model, e.g. \"%s\"", p->path, unused, example);
        fill_base(m);
    }
    if (!s && (!(o && o->no_pack) || m->base.be->dtype != SC_DTYPE_F32)) s = pixart_prepare(m);
    if (!s) pixart_count_weights(m);
    if (s) {
        pixart_free(&m->base);
        return s;
    }
    *out = &m->base;
    return SC_OK;
}

void pixart_free(model *base)
{
    if (!base) return;
    pixart_model *m = (pixart_model *)base;
    pixart_drop_prepared(m);
    model_release(base);
    free(m);
}
