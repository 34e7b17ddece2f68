/* The PixArt family as the registry and the runner see it: detection, conditioning (T5 text
 * embeddings with their mask, the negative side's for the unconditional rows, PixArt-alpha 1024's
 * height and width), the latent shapes it runs (any grid of whole patches), its description. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/pixart/pixart.h"

#define MAX_TEXT_LEN 4096

static int pixart_detect(const model_probe *p)
{
    if (p->class_name) {
        if (!strcmp(p->class_name, "PixArtTransformer2DModel")) return 100;
        /* diffusers' older generic class holds PixArt when its norm is adaLN-single. */
        if (!strcmp(p->class_name, "Transformer2DModel")) {
            const json_t *n = json_object_get(p->config, "norm_type");
            return n && json_is_string(n) && !strcmp(json_string_value(n), "ada_norm_single") ? 90 : 0;
        }
        return 0;
    }
    if (p->config) return json_object_get(p->config, "caption_channels") ? 60 : 0;
    if (!p->w) return 0;
    /* The PixArt authors' .pth: DiT's patch embedding with PixArt's caption projection and
     * adaLN-single (an original DiT file has neither). */
    if (weights_peek(p->w, "x_embedder.proj.weight"))
        return weights_peek(p->w, "y_embedder.y_proj.fc1.weight") || weights_peek(p->w, "t_block.1.weight") ? 95 : 0;
    /* diffusers names without their config: load() says what to do. */
    return weights_peek(p->w, "adaln_single.linear.weight") ? 30 : 0;
}

/* bias [L] = (1 - mask) * -10000 (NULL mask: every token), as diffusers turns the mask into a bias;
 * a mask must hold 0 and 1 only. */
static sc_status mask_bias(const int *mask, int L, float *bias, const char *what, int row)
{
    for (int j = 0; j < L; j++) {
        const int v = mask ? mask[j] : 1;
        if (v != 0 && v != 1)
            return err_fail(SC_ERR_ARG, "%s[%d][%d] is %d: a text mask holds 1 (a token) or 0 (padding)", what, row, j, v);
        bias[j] = (1.0f - (float)v) * -10000.0f;
    }
    return SC_OK;
}

/* The pixel height and width the micro-conditions take, from the scalars "height" and "width"
 * (one value per sample); 0 when neither is given (then the latent shape times 8 serves). */
static sc_status size_scalars(const sc_cond *c, int micro, const float **h, const float **w)
{
    *h = *w = NULL;
    for (int i = 0; i < c->n_scalars; i++) {
        const char *n = c->scalars[i].name;
        const float **dst = n && !strcmp(n, "height") ? h : n && !strcmp(n, "width") ? w : NULL;
        if (!dst)
            return err_fail(SC_ERR_ARG, "scalar \"%s\" is not a PixArt condition (it takes \"height\" and \"width\", "
                                        "in pixels, when the model has micro-conditions)", n ? n : "(null)");
        if (!micro)
            return err_fail(SC_ERR_ARG, "scalar \"%s\": this PixArt model has no micro-conditions "
                                        "(use_additional_conditions is off)", n);
        if (!c->scalars[i].values) return err_fail(SC_ERR_ARG, "scalar \"%s\" has no values", n);
        for (int k = 0; k < c->n; k++)
            if (!(c->scalars[i].values[k] >= 1.0f && c->scalars[i].values[k] <= 65536.0f))
                return err_fail(SC_ERR_ARG, "scalar \"%s\" of sample %d is %g: a size in pixels is in 1..65536", n,
                                k, (double)c->scalars[i].values[k]);
        *dst = c->scalars[i].values;
    }
    if (!*h != !*w) return err_fail(SC_ERR_ARG, "give both scalars \"height\" and \"width\", or neither");
    return SC_OK;
}

static sc_status pixart_conditioning(const model *m, const sc_cond *c, int guided, int raw, model_cond *rows)
{
    const pixart_config *cfg = &pixart_of(m)->cfg;
    memset(rows, 0, sizeof *rows);
    if (c->classes) return err_fail(SC_ERR_ARG, "this model is PixArt: it takes text embeddings, not class ids");
    if (c->pooled || c->neg_pooled) return err_fail(SC_ERR_ARG, "PixArt takes no pooled embeddings");
    if (!c->text)
        return err_fail(SC_ERR_ARG, "no text embeddings given (sc_cond.text): PixArt is conditioned on the T5 "
                                    "embeddings of a prompt");
    if (c->text_dim != cfg->caption_channels)
        return err_fail(SC_ERR_ARG, "the text embeddings are %d wide; this model takes %d (its caption_channels, "
                                    "the width of its T5 encoder)", c->text_dim, cfg->caption_channels);
    if (c->text_len < 1 || c->text_len > MAX_TEXT_LEN)
        return err_fail(SC_ERR_ARG, "text length %d is out of range 1..%d", c->text_len, MAX_TEXT_LEN);
    if (guided && !raw && !c->neg_text)
        return err_fail(SC_ERR_ARG, "guidance needs the negative side's text embeddings (sc_cond.neg_text): the "
                                    "PixArt pipelines use the empty prompt's T5 embeddings");
    const float *h, *w;
    sc_status s = size_scalars(c, cfg->micro, &h, &w);
    if (s) return s;
    const int n = c->n, R = guided ? 2 * n : n, L = c->text_len, Cc = c->text_dim;
    const size_t per = (size_t)L * Cc;
    rows->rows = R;
    rows->text_len = L;
    rows->text_dim = Cc;
    rows->text = malloc((size_t)R * per * sizeof(float));
    rows->text_bias = malloc((size_t)R * L * sizeof(float));
    if (h) {
        rows->n_extra = 3;
        rows->extra = malloc((size_t)R * 3 * sizeof(float));
    }
    if (!rows->text || !rows->text_bias || (h && !rows->extra)) {
        model_cond_free(rows);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < R && !s; r++) {
        const int i = r % n, neg = r >= n;
        memcpy(rows->text + (size_t)r * per, (neg ? c->neg_text : c->text) + (size_t)i * per, per * sizeof(float));
        const int *mask = neg ? c->neg_text_mask : c->text_mask;
        s = mask_bias(mask ? mask + (size_t)i * L : NULL, L, rows->text_bias + (size_t)r * L,
                      neg ? "sc_cond.neg_text_mask" : "sc_cond.text_mask", i);
        if (h) {
            float *e = rows->extra + (size_t)r * 3;
            e[0] = h[i];
            e[1] = w[i];
            e[2] = (float)((double)h[i] / (double)w[i]); /* as the pipelines compute it */
        }
    }
    if (s) model_cond_free(rows);
    return s;
}

/* diffusers' PixArt-alpha pipeline pads prompts to 120 tokens, the Sigma pipeline to 300. */
static int pixart_text_len(const char *pipeline_class)
{
    return pipeline_class && !strcmp(pipeline_class, "PixArtSigmaPipeline") ? 300 : 120;
}

/* The pipelines' text preprocessing without caption cleaning: text.lower().strip(). Here ASCII
 * letters are lower-cased and ASCII whitespace stripped; other characters stay as they are
 * (Python also lower-cases non-ASCII letters: docs/FAMILIES.md). */
static size_t pixart_prompt_prepare(const char *in, size_t len, char *out)
{
    size_t a = 0, b = len;
    while (a < b && (in[a] == ' ' || (in[a] >= '\t' && in[a] <= '\r'))) a++;
    while (b > a && (in[b - 1] == ' ' || (in[b - 1] >= '\t' && in[b - 1] <= '\r'))) b--;
    for (size_t i = a; i < b; i++) out[i - a] = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] - 'A' + 'a') : in[i];
    out[b - a] = '\0';
    return b - a;
}

static int pixart_accepts_shape(const model *m, const sc_shape *s)
{
    const pixart_config *c = &pixart_of(m)->cfg;
    if (s->rank != 3 || s->dims[0] != c->in_channels) return 0;
    for (int i = 1; i < 3; i++)
        if (s->dims[i] < c->patch || s->dims[i] > PIXART_MAX_SIDE || s->dims[i] % c->patch) return 0;
    return 1;
}

static void pixart_describe(const model *m, sc_model_info *info)
{
    const pixart_config *c = &pixart_of(m)->cfg;
    info->numerics = c->micro ? "PixArt (adaLN-single, T5 cross-attention, timestep freq /128 [cos|sin], "
                                "resolution and aspect-ratio micro-conditions)"
                              : "PixArt (adaLN-single, T5 cross-attention, timestep freq /128 [cos|sin])";
    info->heads = c->heads;
    info->head_dim = c->head_dim;
    info->patch = c->patch;
    info->takes_text = 1;
    info->text_dim = c->caption_channels;
}

const model_family model_family_pixart = {
    .name = "pixart",
    .about = "text-to-image PixArt-alpha / PixArt-Sigma (diffusers PixArtTransformer2DModel, the authors' .pth)",
    .class_names = "PixArtTransformer2DModel",
    .looks_for = "config.json naming PixArtTransformer2DModel or \"y_embedder.y_proj.fc1.weight\" (an original "
                 "PixArt .pth)",
    .detect = pixart_detect,
    .load = pixart_load,
    .free = pixart_free,
    .describe = pixart_describe,
    .conditioning = pixart_conditioning,
    .accepts_shape = pixart_accepts_shape,
    .ws_create = pixart_ws_create,
    .ws_free = pixart_ws_free,
    .embed = pixart_embed,
    .block = pixart_block_modulation,
    .component = pixart_component,
    .final = pixart_final,
    .modulated_input = pixart_modulated_input,
    .default_steps = 20,
    .default_cfg = 4.5f,
    .default_sampler = SC_SAMPLER_DPMPP2M, /* the converters' DPMSolverMultistepScheduler */
    .text_len = pixart_text_len,
    .prompt_prepare = pixart_prompt_prepare,
};
