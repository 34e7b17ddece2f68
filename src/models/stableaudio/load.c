/* Loading a Stable Audio transformer from a diffusers pipeline folder: transformer/ (config.json +
 * weights) and, beside it, projection_model/ (the text projection and the two seconds
 * conditioners the pipeline runs before the transformer); both configurations validated against
 * each other, every tensor fetched through the name tables with its shape checked, optionally
 * every weight checked finite, then prepared for the backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"
#include "models/stableaudio/stableaudio.h"

/* Stable Audio's cacheable sub-layers, none gated: self-attention (diffusers' attn1), the
 * cross-attention (attn2) and the feed-forward (ff), as the SmoothCache paper caches them. */
static const model_component k_components[] = {
    {"attn", "attn1", ROLE_SELF_ATTENTION, -1},
    {"cross", "attn2", ROLE_CROSS_ATTENTION, -1},
    {"mlp", "ff", ROLE_MLP, -1},
};

typedef struct {
    const char *path;
    sc_status s;
} check_state;

static int finite_all(const float *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k])) return 0;
    return 1;
}

static void check_one(be_linear *L, void *user)
{
    check_state *c = user;
    if (c->s || !L->w) return;
    if (!finite_all(L->w, (size_t)L->out * L->in) || (L->b && !finite_all(L->b, (size_t)L->out)))
        c->s = err_fail(SC_ERR_NUMERIC, "%s: non-finite weight in a [%d, %d] layer", c->path, L->out, L->in);
}

static sc_status check_vectors(const sa_model *m)
{
    const sa_config *c = &m->cfg;
    if (!finite_all(m->w.time_w, (size_t)c->time_dim / 2) || !finite_all(m->w.start_w, SA_NUMBER_DIM / 2) ||
        !finite_all(m->w.end_w, SA_NUMBER_DIM / 2))
        return err_fail(SC_ERR_NUMERIC, "%s: non-finite Fourier weights", m->base.path);
    for (int l = 0; l < c->depth; l++) {
        const sa_block *b = &m->w.blocks[l];
        const float *v[] = {b->n1w, b->n1b, b->n2w, b->n2b, b->n3w, b->n3b};
        for (int i = 0; i < 6; i++)
            if (!finite_all(v[i], (size_t)c->hidden))
                return err_fail(SC_ERR_NUMERIC, "%s: non-finite LayerNorm weights in block %d", m->base.path, l);
    }
    return SC_OK;
}

/* The LayerNorms' weights as the scales ln_modulate takes: z = LN(h) (1 + s) + b with s = w - 1. */
static sc_status norm_scales(sa_model *m)
{
    const int D = m->cfg.hidden;
    for (int l = 0; l < m->cfg.depth; l++) {
        sa_block *b = &m->w.blocks[l];
        const float *w[3] = {b->n1w, b->n2w, b->n3w};
        float **s[3] = {&b->n1s, &b->n2s, &b->n3s};
        for (int i = 0; i < 3; i++) {
            float *v = malloc((size_t)D * sizeof *v);
            if (!v || model_own(&m->base, v)) {
                free(v);
                return err_fail(SC_ERR_NOMEM, "out of memory");
            }
            for (int k = 0; k < D; k++) v[k] = w[i][k] - 1.0f;
            *s[i] = v;
        }
    }
    return SC_OK;
}

static void fill_base(sa_model *m)
{
    model *b = &m->base;
    const sa_config *c = &m->cfg;
    const uint64_t S = (uint64_t)c->sample_size;
    b->family = &model_family_stable_audio;
    b->depth = c->depth;
    b->tokens = c->sample_size + 1;
    b->hidden = c->hidden;
    b->n_comp = (int)(sizeof k_components / sizeof *k_components);
    b->comp = k_components;
    b->latent = (sc_shape){.rank = 2, .dims = {c->in_channels, c->sample_size}};
    b->out_channels = c->out_channels;
    b->cfg_channels = c->out_channels;
    b->learned_sigma = 0;
    b->prediction = PRED_V;
    b->macs_forward = sa_macs_forward(c, S, SA_NOMINAL_TEXT_LEN);
    b->macs_comp[0] = sa_macs_attn(c, S + 1);
    b->macs_comp[1] = sa_macs_cross(c, S + 1, SA_NOMINAL_TEXT_LEN + 2);
    b->macs_comp[2] = sa_macs_mlp(c, S + 1);
    b->params = weights_params(b->files) + weights_params(m->proj_files);
    const char *d1 = weights_dtype(b->files), *d2 = weights_dtype(m->proj_files);
    snprintf(b->dtype, sizeof b->dtype, "%s", !strcmp(d1, d2) ? d1 : "mixed");
    snprintf(b->layout, sizeof b->layout, "diffusers");
}

/* projection_model/ beside the transformer: in the pipeline folder it came from, else in the
 * folder above the one named (pipe/transformer). */
static sc_status find_projection(const model_probe *p, char *out, size_t cap)
{
    sc_status s;
    if (p->pipeline) {
        if ((s = file_join(out, cap, p->pipeline, "projection_model"))) return s;
    } else {
        char up[4096];
        if ((s = file_join(up, sizeof up, p->path, ".."))) return s;
        if ((s = file_join(out, cap, up, "projection_model"))) return s;
    }
    if (file_is_dir(out)) return SC_OK;
    return err_fail(SC_ERR_FORMAT, "%s: a Stable Audio transformer runs with its pipeline's projection_model/ (the "
                                   "text projection and the seconds conditioners), and there is none at %s: load "
                                   "the pipeline folder", p->path, out);
}

sc_status sa_load(const model_probe *p, const sc_load_opts *o, model **out)
{
    *out = NULL;
    sa_model *m = calloc(1, sizeof *m);
    if (!m) {
        weights_close(p->w);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    m->base.family = &model_family_stable_audio;
    m->base.be = backend_cpu_f32();
    m->base.files = p->w;
    snprintf(m->base.path, sizeof m->base.path, "%s", p->path);
    sc_status s = SC_OK;
    json_t *pconf = NULL;
    char pconf_path[4200] = "";
    if (!p->config)
        s = err_fail(SC_ERR_FORMAT, "%s: a Stable Audio transformer needs its config.json: load the diffusers "
                                    "pipeline folder", p->path);
    if (!s && o && (o->num_heads || o->input_size || o->origin))
        s = err_fail(SC_ERR_ARG, "%s: sc_load_opts.%s applies to original DiT files", p->config_path,
                     o->num_heads ? "num_heads" : o->input_size ? "input_size" : "origin");
    if (!s) s = find_projection(p, m->proj_path, sizeof m->proj_path);
    if (!s) s = file_join(pconf_path, sizeof pconf_path, m->proj_path, "config.json");
    if (!s && !file_is_regular(pconf_path))
        s = err_fail(SC_ERR_FORMAT, "%s: no config.json (StableAudioProjectionModel's)", m->proj_path);
    if (!s) s = json_load_object_file(pconf_path, SC_JSON_FILE_CAP, &pconf);
    if (!s) s = sa_config_from_objects(&m->cfg, p->config, p->config_path, pconf, pconf_path);
    if (!s && !m->base.files) s = weights_open_folder(p->path, &m->base.files);
    if (!s) s = weights_open_folder(m->proj_path, &m->proj_files);
    if (!s) s = sa_fetch_weights(m, m->base.files, m->proj_files);
    if (!s && o && o->check_weights) {
        check_state c = {p->path, SC_OK};
        sa_each_linear(m, check_one, &c);
        s = c.s ? c.s : check_vectors(m);
    }
    if (!s) s = norm_scales(m);
    if (!s) m->base.be = model_pick_backend(o, weights_dtype(m->base.files), 0);
    if (!s) {
        const char *example;
        weights *all[2] = {m->base.files, m->proj_files};
        for (int i = 0; i < 2; i++) {
            const size_t unused = weights_unused(all[i], NULL, &example);
            if (unused)
                err_warn("%s: %zu tensor(s) not used by the model, e.g. \"%s\"", weights_path(all[i]), unused, example);
        }
        fill_base(m);
    }
    if (!s && (!(o && o->no_pack) || m->base.be->dtype != SC_DTYPE_F32)) s = sa_prepare(m);
    if (!s) sa_count_weights(m);
    if (pconf) json_decref(pconf);
    if (s) {
        sa_free(&m->base);
        return s;
    }
    *out = &m->base;
    return SC_OK;
}

void sa_free(model *base)
{
    if (!base) return;
    sa_model *m = (sa_model *)base;
    sa_drop_prepared(m);
    model_release(base);
    weights_close(m->proj_files);
    free(m);
}
