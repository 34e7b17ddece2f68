/* The DiT family as the registry and the runner see it: detection, conditioning (class ids; the
 * null class for the unconditional rows), the latent shapes it runs, its description. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/dit/dit.h"

static int dit_detect(const model_probe *p)
{
    if (p->class_name) {
        if (!strcmp(p->class_name, "DiTTransformer2DModel")) return 100;
        /* diffusers' older generic class; the config reader refuses what is not a DiT block. */
        return !strcmp(p->class_name, "Transformer2DModel") ? 50 : 0;
    }
    if (p->config) return 50; /* a config without _class_name: the config reader decides */
    if (weights_peek(p->w, "x_embedder.proj.weight"))
        return weights_peek(p->w, "y_embedder.embedding_table.weight") ? 90 : 20;
    /* diffusers names without their config: load() says what to do. */
    return weights_peek(p->w, "pos_embed.proj.weight") ? 10 : 0;
}

static sc_status dit_conditioning(const model *m, const sc_cond *c, int guided, int raw, model_cond *rows)
{
    const dit_config *cfg = &dit_of(m)->cfg;
    memset(rows, 0, sizeof *rows);
    if (c->text || c->pooled || c->n_scalars)
        return err_fail(SC_ERR_ARG, "this model is a class-conditional DiT: it takes class ids, not text, pooled "
                                    "embeddings or scalars");
    if (!c->classes) return err_fail(SC_ERR_ARG, "no class labels given");
    for (int i = 0; i < c->n; i++) {
        const int y = c->classes[i];
        if (raw && (y < 0 || y > cfg->num_classes))
            return err_fail(SC_ERR_ARG, "class %d is out of range 0..%d (%d = null class)", y, cfg->num_classes,
                            cfg->num_classes);
        if (!raw && (y < 0 || y >= cfg->num_classes))
            return err_fail(SC_ERR_ARG, "class %d is out of range: this model has classes 0..%d", y, cfg->num_classes - 1);
    }
    rows->rows = guided ? 2 * c->n : c->n;
    rows->classes = malloc((size_t)rows->rows * sizeof *rows->classes);
    if (!rows->classes) return err_fail(SC_ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->n; i++) {
        rows->classes[i] = c->classes[i];
        if (guided) rows->classes[c->n + i] = cfg->num_classes; /* the null class */
    }
    return SC_OK;
}

static int dit_accepts_shape(const model *m, const sc_shape *s)
{
    return s->rank == 3 && !memcmp(s->dims, m->latent.dims, 3 * sizeof *s->dims);
}

static void dit_describe(const model *m, sc_model_info *info)
{
    const dit_model *d = dit_of(m);
    const dit_config *c = &d->cfg;
    info->origin = c->freq_div == 128 ? SC_ORIGIN_ORIGINAL : SC_ORIGIN_DIFFUSERS;
    info->numerics = info->origin == SC_ORIGIN_ORIGINAL
                         ? "original DiT (timestep freq /128, LayerNorm eps 1e-6, CFG on 3 channels)"
                         : "diffusers (timestep freq /127, pre-MLP LayerNorm eps from config, CFG on all channels)";
    info->heads = c->heads;
    info->head_dim = c->head_dim;
    info->patch = c->patch;
    info->num_classes = c->num_classes;
}

const model_family model_family_dit = {
    .name = "dit",
    .about = "class-conditional DiT (facebookresearch/DiT, diffusers DiTTransformer2DModel)",
    .class_names = "DiTTransformer2DModel",
    .looks_for = "\"x_embedder.proj.weight\" (an original DiT file) or config.json naming DiTTransformer2DModel",
    .detect = dit_detect,
    .load = dit_load,
    .free = dit_free,
    .describe = dit_describe,
    .conditioning = dit_conditioning,
    .accepts_shape = dit_accepts_shape,
    .ws_create = dit_ws_create,
    .ws_free = dit_ws_free,
    .embed = dit_embed,
    .block = dit_block_modulation,
    .component = dit_component,
    .final = dit_final,
    .modulated_input = dit_modulated_input,
    .default_steps = 50,
    .default_cfg = 4.0f,
    .default_sampler = SC_SAMPLER_DDIM,
};
