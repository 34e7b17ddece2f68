/* The Stable Audio family as the registry and the runner see it: detection, conditioning (T5 text
 * embeddings with their mask, the clip's start and total seconds, the unconditional rows as the
 * pipeline makes them), the latent shapes it runs (any number of frames), its description. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/stableaudio/stableaudio.h"

#define MAX_TEXT_LEN 4096

static int sa_detect(const model_probe *p)
{
    if (p->class_name) return !strcmp(p->class_name, "StableAudioDiTModel") ? 100 : 0;
    if (p->config) return json_object_get(p->config, "global_states_input_dim") ? 60 : 0;
    return p->w && weights_peek(p->w, "global_proj.0.weight") ? 30 : 0;
}

/* The scalars "seconds_start" (default 0) and "seconds_total" (required): one value per sample,
 * checked as StableAudioPipeline checks audio_start_in_s and audio_end_in_s. */
static sc_status seconds(const sa_config *cfg, const sc_cond *c, const float **start, const float **total)
{
    *start = *total = NULL;
    for (int i = 0; i < c->n_scalars; i++) {
        const char *n = c->scalars[i].name;
        const float **dst = n && !strcmp(n, "seconds_start") ? start : n && !strcmp(n, "seconds_total") ? total : NULL;
        if (!dst)
            return err_fail(SC_ERR_ARG, "scalar \"%s\" is not a Stable Audio condition (it takes \"seconds_start\" "
                                        "and \"seconds_total\")", n ? n : "(null)");
        if (!c->scalars[i].values) return err_fail(SC_ERR_ARG, "scalar \"%s\" has no values", n);
        for (int k = 0; k < c->n; k++) {
            const double v = c->scalars[i].values[k];
            if (!(v >= cfg->min_value && v <= cfg->max_value))
                return err_fail(SC_ERR_ARG, "scalar \"%s\" of sample %d is %g: this model takes seconds in %g..%g (its "
                                            "projection model's min_value and max_value)", n, k, v, cfg->min_value,
                                cfg->max_value);
        }
        *dst = c->scalars[i].values;
    }
    if (!*total)
        return err_fail(SC_ERR_ARG, "give the scalar \"seconds_total\" (the clip's length in seconds, the pipeline's "
                                    "audio_end_in_s)");
    for (int k = 0; *start && k < c->n; k++)
        if ((*start)[k] > (*total)[k])
            return err_fail(SC_ERR_ARG, "sample %d: seconds_start %g is after seconds_total %g", k, (double)(*start)[k],
                            (double)(*total)[k]);
    return SC_OK;
}

static sc_status check_mask(const int *mask, int L, const char *what, int row)
{
    for (int j = 0; mask && j < L; j++)
        if (mask[j] != 0 && mask[j] != 1)
            return err_fail(SC_ERR_ARG, "%s[%d][%d] is %d: a text mask holds 1 (a token) or 0 (padding)", what, row, j,
                            mask[j]);
    return SC_OK;
}

/* Rows: [cond n; uncond n] when guided. An unconditional row takes the negative prompt's text when
 * one is given, else it is the pipeline's null row: every cross-attention token zero (extra[r][2] =
 * 1); both keep the sample's durations (its global token). raw: c's rows as they are. */
static sc_status sa_conditioning(const model *m, const sc_cond *c, int guided, int raw, model_cond *rows)
{
    const sa_config *cfg = &sa_of(m)->cfg;
    memset(rows, 0, sizeof *rows);
    if (c->classes) return err_fail(SC_ERR_ARG, "this model is Stable Audio: it takes text embeddings, not class ids");
    if (c->pooled || c->neg_pooled) return err_fail(SC_ERR_ARG, "Stable Audio takes no pooled embeddings");
    if (!c->text)
        return err_fail(SC_ERR_ARG, "no text embeddings given (sc_cond.text): Stable Audio is conditioned on the T5 "
                                    "embeddings of a prompt");
    if (c->text_dim != cfg->text_dim)
        return err_fail(SC_ERR_ARG, "the text embeddings are %d wide; this model takes %d (its projection model's "
                                    "text_encoder_dim, the width of its T5 encoder)", c->text_dim, cfg->text_dim);
    if (c->text_len < 1 || c->text_len > MAX_TEXT_LEN)
        return err_fail(SC_ERR_ARG, "text length %d is out of range 1..%d", c->text_len, MAX_TEXT_LEN);
    const float *start, *total;
    sc_status s = seconds(cfg, c, &start, &total);
    if (s) return s;
    const int n = c->n, R = guided && !raw ? 2 * n : n, L = c->text_len, Ct = c->text_dim;
    const size_t per = (size_t)L * Ct;
    rows->rows = R;
    rows->text_len = L;
    rows->text_dim = Ct;
    rows->n_extra = 3;
    rows->text = malloc((size_t)R * per * sizeof(float));
    rows->text_mask = malloc((size_t)R * L * sizeof(int));
    rows->extra = malloc((size_t)R * 3 * sizeof(float));
    if (!rows->text || !rows->text_mask || !rows->extra) {
        model_cond_free(rows);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int r = 0; r < R && !s; r++) {
        const int i = r % n, uncond = r >= n, neg = uncond && c->neg_text;
        const float *text = (neg ? c->neg_text : c->text) + (size_t)i * per;
        const int *mask = neg ? c->neg_text_mask : c->text_mask;
        s = check_mask(mask ? mask + (size_t)i * L : NULL, L, neg ? "sc_cond.neg_text_mask" : "sc_cond.text_mask", i);
        memcpy(rows->text + (size_t)r * per, text, per * sizeof(float));
        for (int j = 0; j < L; j++) rows->text_mask[(size_t)r * L + j] = mask ? mask[(size_t)i * L + j] : 1;
        float *e = rows->extra + (size_t)r * 3;
        e[0] = start ? start[i] : 0.0f;
        e[1] = total[i];
        e[2] = uncond && !neg ? 1.0f : 0.0f;
    }
    if (s) model_cond_free(rows);
    return s;
}

/* Stable Audio Open's tokenizer pads prompts to 128 tokens. */
static int sa_text_len(const char *pipeline_class)
{
    (void)pipeline_class;
    return SA_NOMINAL_TEXT_LEN;
}

/* StableAudioPipeline hands the prompt to the tokenizer as it is. */
static size_t sa_prompt_prepare(const char *in, size_t len, char *out)
{
    memcpy(out, in, len);
    out[len] = '\0';
    return len;
}

static int sa_accepts_shape(const model *m, const sc_shape *s)
{
    const sa_config *c = &sa_of(m)->cfg;
    return s->rank == 2 && s->dims[0] == c->in_channels && s->dims[1] >= 1 && s->dims[1] <= SA_MAX_FRAMES;
}

static void sa_describe(const model *m, sc_model_info *info)
{
    const sa_config *c = &sa_of(m)->cfg;
    info->numerics = "Stable Audio (global token: durations + timestep Fourier features [cos|sin]; rotary "
                     "self-attention; grouped-head cross-attention; SwiGLU; v-prediction)";
    info->heads = c->heads;
    info->head_dim = c->head_dim;
    info->patch = 1;
    info->takes_text = 1;
    info->text_dim = c->text_dim;
}

const model_family model_family_stable_audio = {
    .name = "stable_audio",
    .about = "text-to-audio Stable Audio Open (diffusers StableAudioDiTModel + StableAudioProjectionModel)",
    .class_names = "StableAudioDiTModel",
    .looks_for = "config.json naming StableAudioDiTModel",
    .detect = sa_detect,
    .load = sa_load,
    .free = sa_free,
    .describe = sa_describe,
    .conditioning = sa_conditioning,
    .accepts_shape = sa_accepts_shape,
    .ws_create = sa_ws_create,
    .ws_free = sa_ws_free,
    .embed = sa_embed,
    .block = sa_block_step,
    .component = sa_component,
    .final = sa_final,
    .modulated_input = sa_modulated_input,
    .default_steps = 100,   /* StableAudioPipeline's num_inference_steps (diffusers' default; the model card's example asks for 200) */
    .default_cfg = 7.0f,
    .default_sampler = SC_SAMPLER_K_DPMPP3M_SDE, /* stable-audio-tools' and the SmoothCache paper's */
    .time_input = MODEL_TIME_SIGMA_ATAN,
    .text_len = sa_text_len,
    .prompt_prepare = sa_prompt_prepare,
};
