/* The model families a checkpoint can belong to: one line each. Detection asks every family how
 * surely the checkpoint is its own and loads the surest (models/model.h). */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "models/decoder.h"
#include "models/encoder.h"
#include "models/model.h"

/* Adding a family: its folder defines `const model_family model_family_<name>`; add one line. */
#define MODEL_FAMILIES(X) \
    X(dit) \
    X(pixart) \
    X(stable_audio)

#define DECLARE(name) extern const model_family model_family_##name;
MODEL_FAMILIES(DECLARE)
#define ENTRY(name) &model_family_##name,
static const model_family *const k_families[] = {MODEL_FAMILIES(ENTRY)};

#define N_FAMILIES (int)(sizeof k_families / sizeof *k_families)

/* Decoders (pictures from latents): `const decoder_family decoder_family_<name>`, one line each. */
#define DECODER_FAMILIES(X) \
    X(sdvae) \
    X(oobleck)

#define DECLARE_DECODER(name) extern const decoder_family decoder_family_##name;
DECODER_FAMILIES(DECLARE_DECODER)
#define DECODER_ENTRY(name) &decoder_family_##name,
static const decoder_family *const k_decoders[] = {DECODER_FAMILIES(DECODER_ENTRY)};

#define N_DECODERS (int)(sizeof k_decoders / sizeof *k_decoders)

const model_family *models_family_at(int i) { return i >= 0 && i < N_FAMILIES ? k_families[i] : NULL; }

sc_status models_detect(const model_probe *p, const model_family **out)
{
    int best = 0;
    *out = NULL;
    for (int i = 0; i < N_FAMILIES; i++) {
        const int score = k_families[i]->detect(p);
        if (score > best) {
            best = score;
            *out = k_families[i];
        }
    }
    if (*out) return SC_OK;
    char known[512];
    size_t n = 0;
    known[0] = '\0';
    for (int i = 0; i < N_FAMILIES && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "",
                              p->class_name ? k_families[i]->class_names : k_families[i]->looks_for);
    if (p->class_name)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not a model this engine runs (it runs %s)",
                        p->config_path, p->class_name, known);
    return err_fail(SC_ERR_FORMAT, "%s: not a checkpoint of a model this engine runs: no %s", p->path, known);
}

sc_status decoders_detect(const decoder_probe *p, const decoder_family **out)
{
    int best = 0;
    *out = NULL;
    for (int i = 0; i < N_DECODERS; i++) {
        const int score = k_decoders[i]->detect(p);
        if (score > best) {
            best = score;
            *out = k_decoders[i];
        }
    }
    if (*out) return SC_OK;
    if (p->class_name)
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\": only AutoencoderKL decoders are supported",
                        p->config_path, p->class_name);
    char known[512];
    size_t n = 0;
    known[0] = '\0';
    for (int i = 0; i < N_DECODERS && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", k_decoders[i]->looks_for);
    return err_fail(SC_ERR_FORMAT, "%s: not a VAE: no %s", p->path, known);
}

/* Encoders (embeddings from token ids): `const encoder_family encoder_family_<name>`, one line each. */
#define ENCODER_FAMILIES(X) \
    X(t5)

#define DECLARE_ENCODER(name) extern const encoder_family encoder_family_##name;
ENCODER_FAMILIES(DECLARE_ENCODER)
#define ENCODER_ENTRY(name) &encoder_family_##name,
static const encoder_family *const k_encoders[] = {ENCODER_FAMILIES(ENCODER_ENTRY)};

#define N_ENCODERS (int)(sizeof k_encoders / sizeof *k_encoders)

sc_status encoders_detect(const encoder_probe *p, const encoder_family **out)
{
    int best = 0;
    *out = NULL;
    for (int i = 0; i < N_ENCODERS; i++) {
        const int score = k_encoders[i]->detect(p);
        if (score > best) {
            best = score;
            *out = k_encoders[i];
        }
    }
    if (*out) return SC_OK;
    char known[512];
    size_t n = 0;
    known[0] = '\0';
    for (int i = 0; i < N_ENCODERS && n < sizeof known; i++)
        n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "", k_encoders[i]->looks_for);
    return err_fail(SC_ERR_FORMAT, "%s: not a text encoder this engine runs: no %s", p->path, known);
}
