/* The Oobleck configuration from a diffusers config.json (AutoencoderOobleck), validated, with the
 * class's defaults (Stable Audio Open's: ratios 2, 4, 4, 8, 8; multiples 1, 2, 4, 8, 16; 128
 * channels; 64 latent channels; stereo; 44.1 kHz). */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/oobleck/oobleck.h"

/* An array of 1..OOBLECK_MAX_BLOCKS integers in [lo, hi] (or def when absent). */
static sc_status int_list(const json_t *j, const char *key, const char *path, const int *def, int ndef, int lo, int hi,
                          int *out, int *n)
{
    const json_t *a = json_object_get(j, key);
    if (!a) {
        memcpy(out, def, (size_t)ndef * sizeof *out);
        *n = ndef;
        return SC_OK;
    }
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > OOBLECK_MAX_BLOCKS)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be an array of 1 to %d integers", path, key, OOBLECK_MAX_BLOCKS);
    *n = (int)json_array_size(a);
    for (int i = 0; i < *n; i++) {
        const json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
            return err_fail(SC_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer in [%d, %d]", path, key, i, lo, hi);
        out[i] = (int)json_integer_value(v);
    }
    return SC_OK;
}

sc_status oobleck_config_from_object(oobleck_config *c, const json_t *j, const char *path)
{
    static const int def_ratios[] = {2, 4, 4, 8, 8}, def_mult[] = {1, 2, 4, 8, 16};
    sc_status s;
    const char *cls = NULL;
    long long ch, in, audio, rate;
    int down[OOBLECK_MAX_BLOCKS], mult[OOBLECK_MAX_BLOCKS], nd, nm;
    memset(c, 0, sizeof *c);
    if ((s = json_get_str(j, "_class_name", path, 0, NULL, &cls)) ||
        (s = json_get_int(j, "decoder_channels", path, 0, 1, OOBLECK_MAX_CHANNELS, 128, &ch)) ||
        (s = json_get_int(j, "decoder_input_channels", path, 0, 1, 4096, 64, &in)) ||
        (s = json_get_int(j, "audio_channels", path, 0, 1, 8, 2, &audio)) ||
        (s = json_get_int(j, "sampling_rate", path, 0, 1, 1000000, 44100, &rate)) ||
        (s = int_list(j, "downsampling_ratios", path, def_ratios, 5, 1, 64, down, &nd)) ||
        (s = int_list(j, "channel_multiples", path, def_mult, 5, 1, 64, mult, &nm)))
        return s;
    if (cls && strcmp(cls, "AutoencoderOobleck"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not an Oobleck autoencoder", path, cls);
    if (nd != nm)
        return err_fail(SC_ERR_FORMAT, "%s: %d downsampling_ratios but %d channel_multiples (one each per block)", path,
                        nd, nm);
    c->channels = (int)ch;
    c->input_channels = (int)in;
    c->audio_channels = (int)audio;
    c->sampling_rate = (int)rate;
    c->n_blocks = nd;
    c->multiples[0] = 1;
    long long hop = 1;
    for (int i = 0; i < nd; i++) {
        c->ratios[i] = down[nd - 1 - i];
        c->multiples[i + 1] = mult[i];
        if ((long long)ch * mult[i] > OOBLECK_MAX_CHANNELS)
            return err_fail(SC_ERR_FORMAT, "%s: decoder_channels x channel_multiples[%d] = %lld is over %d", path, i,
                            (long long)ch * mult[i], OOBLECK_MAX_CHANNELS);
        hop *= down[i];
    }
    if (hop > 1 << 20) return err_fail(SC_ERR_FORMAT, "%s: the ratios' product %lld is out of range", path, hop);
    c->hop = (int)hop;
    return SC_OK;
}
