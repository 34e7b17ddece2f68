/* Loading a DiT from what the registry detected: a diffusers folder (config.json + weights) or a
 * single original-naming file (configuration read off the shapes); every tensor fetched through
 * the name tables with its shape checked (names.c), the position table computed where the file
 * has none, optionally every weight checked finite, then prepared for the backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/dit/dit.h"

/* DiT's cacheable sub-layers: self-attention (diffusers' attn1) and the MLP (ff), both gated by
 * the block's adaLN rows 2 and 5. */
static const model_component k_components[] = {
    {"attn", "attn1", ROLE_SELF_ATTENTION, 2},
    {"mlp", "ff", ROLE_MLP, 5},
};

static sc_status finish_weights(dit_model *m, const sc_load_opts *o)
{
    const dit_config *c = &m->cfg;
    if (!m->w.pos) {
        float *pos = mem_alloc_array((size_t)c->tokens * c->hidden, sizeof(float), "position table");
        if (!pos) return SC_ERR_NOMEM;
        dit_pos_embed(pos, c->grid, c->hidden);
        m->w.pos = pos;
        sc_status s = model_own(&m->base, pos);
        if (s) return s;
    }
    if (o && o->check_weights) {
        const be_linear *all[4 + 7] = {&m->w.x_embed, &m->w.t1, &m->w.t2, &m->w.final_ada, &m->w.final_lin};
        for (int l = -1; l < c->depth; l++) {
            int n = 5;
            if (l >= 0) {
                const dit_block *b = &m->w.blocks[l];
                const be_linear *bl[] = {&b->ada, &b->qkv, &b->q, &b->k, &b->v, &b->proj, &b->fc1};
                n = 0;
                for (int i = 0; i < 7; i++) all[n++] = bl[i];
                all[n++] = &b->fc2;
            }
            for (int i = 0; i < n; i++) {
                const be_linear *L = all[i];
                if (!L->w) continue;
                for (size_t k = 0; k < (size_t)L->out * L->in; k++)
                    if (!isfinite(L->w[k]))
                        return err_fail(SC_ERR_NUMERIC, "%s: non-finite weight (block %d)", m->base.path, l);
                for (int k = 0; k < L->out; k++)
                    if (!isfinite(L->b[k]))
                        return err_fail(SC_ERR_NUMERIC, "%s: non-finite bias (block %d)", m->base.path, l);
            }
        }
    }
    return SC_OK;
}

/* The configuration and weights of the checkpoint's layout; a folder's weights are opened once
 * its config is known to be a DiT's (into m->base.files). */
static sc_status load_layout(dit_model *m, const model_probe *p, const sc_load_opts *o)
{
    sc_status s;
    if (p->config) {
        m->layout = DIT_LAYOUT_DIFFUSERS;
        if ((s = dit_config_from_object(&m->cfg, p->config, p->config_path))) return s;
        /* Heads and size are read off a lone original file's shapes; a config states them. */
        if (o && o->num_heads && o->num_heads != m->cfg.heads)
            return err_fail(SC_ERR_ARG, "%s gives %d heads: sc_load_opts.num_heads (%d) applies to original files, "
                                        "which have no config", p->config_path, m->cfg.heads, o->num_heads);
        if (o && o->input_size && o->input_size != m->cfg.input_size)
            return err_fail(SC_ERR_ARG, "%s gives a latent side of %d: sc_load_opts.input_size (%d) applies to "
                                        "original files, which have no config", p->config_path, m->cfg.input_size,
                            o->input_size);
        if ((s = dit_config_finish(&m->cfg, o && o->origin ? o->origin : SC_ORIGIN_DIFFUSERS, p->config_path)))
            return s;
        if (!m->base.files && (s = weights_open_folder(p->path, &m->base.files))) return s;
        return dit_fetch_weights(m, m->base.files, DIT_LAYOUT_DIFFUSERS);
    }
    if (weights_peek(p->w, "x_embedder.proj.weight")) {
        m->layout = DIT_LAYOUT_ORIGINAL;
        if ((s = dit_config_from_shapes(&m->cfg, p->w, o, p->path)) ||
            (s = dit_config_finish(&m->cfg, o && o->origin ? o->origin : SC_ORIGIN_ORIGINAL, p->path)))
            return s;
        return dit_fetch_weights(m, p->w, DIT_LAYOUT_ORIGINAL);
    }
    return err_fail(SC_ERR_FORMAT, "%s: diffusers tensor names but no config: load the folder that holds config.json",
                    p->path);
}

/* What the runner, the cache and the API see. */
static void fill_base(dit_model *m)
{
    model *b = &m->base;
    const dit_config *c = &m->cfg;
    b->family = &model_family_dit;
    b->depth = c->depth;
    b->tokens = c->tokens;
    b->hidden = c->hidden;
    b->n_comp = (int)(sizeof k_components / sizeof *k_components);
    b->comp = k_components;
    b->latent = (sc_shape){.rank = 3, .dims = {c->in_channels, c->input_size, c->input_size}};
    b->out_channels = c->out_channels;
    b->cfg_channels = c->cfg_channels;
    b->learned_sigma = c->learned_sigma;
    b->prediction = PRED_EPSILON;
    b->macs_forward = dit_macs_forward(c);
    b->macs_comp[0] = dit_macs_attn(c);
    b->macs_comp[1] = dit_macs_mlp(c);
    b->params = weights_params(b->files);
    snprintf(b->dtype, sizeof b->dtype, "%s", weights_dtype(b->files));
    snprintf(b->layout, sizeof b->layout, "%s", m->layout == DIT_LAYOUT_ORIGINAL ? "original" : "diffusers");
}

sc_status dit_load(const model_probe *p, const sc_load_opts *o, model **out)
{
    *out = NULL;
    dit_model *m = calloc(1, sizeof *m);
    if (!m) {
        weights_close(p->w);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    m->base.family = &model_family_dit;
    m->base.be = backend_cpu_f32();
    m->base.files = p->w;
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sc_status s = load_layout(m, p, o);
    if (!s) s = finish_weights(m, o);
    if (!s) m->base.be = model_pick_backend(o, weights_dtype(m->base.files), 0);
    if (!s) {
        const char *example;
        const size_t unused = weights_unused(m->base.files, dit_unused_is_expected, &example);
        if (unused) err_warn("%s: %zu tensor(s) not used by the model, e.g. \"%s\"", p->path, unused, example);
        fill_base(m);
    }
    if (!s && (!(o && o->no_pack) || m->base.be->dtype != SC_DTYPE_F32)) s = dit_prepare(m);
    if (!s) dit_count_weights(m);
    if (s) {
        dit_free(&m->base);
        return s;
    }
    *out = &m->base;
    return SC_OK;
}

void dit_free(model *base)
{
    if (!base) return;
    dit_model *m = (dit_model *)base;
    dit_drop_prepared(m);
    model_release(base);
    free(m);
}
