/* The Stable Audio configuration from its two config.json files (the transformer's
 * StableAudioDiTModel and the pipeline's StableAudioProjectionModel), validated against each
 * other, with the defaults the diffusers classes apply; and the multiply-accumulate counts. */
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/stableaudio/stableaudio.h"

sc_status sa_config_from_objects(sa_config *c, const json_t *j, const char *path, const json_t *pj,
                                 const char *ppath)
{
    sc_status s;
    long long sample, in, layers, hd, heads, kvh, out, cross, tdim, gdim, cin, ct, cd;
    double vmin, vmax;
    const char *cls = NULL, *pcls = NULL;
    memset(c, 0, sizeof *c);
    if ((s = json_get_str(j, "_class_name", path, 0, NULL, &cls)) ||
        (s = json_get_int(j, "sample_size", path, 0, 1, SA_MAX_FRAMES, 1024, &sample)) ||
        (s = json_get_int(j, "in_channels", path, 0, 1, 1024, 64, &in)) ||
        (s = json_get_int(j, "num_layers", path, 0, 1, 256, 24, &layers)) ||
        (s = json_get_int(j, "attention_head_dim", path, 0, 4, 1024, 64, &hd)) ||
        (s = json_get_int(j, "num_attention_heads", path, 0, 1, 256, 24, &heads)) ||
        (s = json_get_int(j, "num_key_value_attention_heads", path, 0, 1, 256, 12, &kvh)) ||
        (s = json_get_int(j, "out_channels", path, 0, 1, 1024, 64, &out)) ||
        (s = json_get_int(j, "cross_attention_dim", path, 0, 1, 65536, 768, &cross)) ||
        (s = json_get_int(j, "time_proj_dim", path, 0, 2, 65536, 256, &tdim)) ||
        (s = json_get_int(j, "global_states_input_dim", path, 0, 2, 131072, 1536, &gdim)) ||
        (s = json_get_int(j, "cross_attention_input_dim", path, 0, 1, 65536, 768, &cin)))
        return s;
    if (cls && strcmp(cls, "StableAudioDiTModel"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not a Stable Audio transformer "
                                            "(expected StableAudioDiTModel)", path, cls);
    if (hd % 4)
        return err_fail(SC_ERR_FORMAT, "%s: attention_head_dim %lld must be a multiple of 4 (the rotary embedding "
                                       "turns half of every head, in pairs)", path, hd);
    if (kvh > heads || heads % kvh)
        return err_fail(SC_ERR_FORMAT, "%s: num_attention_heads %lld is not a multiple of "
                                       "num_key_value_attention_heads %lld (each key/value head serves a group of "
                                       "query heads)", path, heads, kvh);
    if (tdim % 2)
        return err_fail(SC_ERR_FORMAT, "%s: time_proj_dim %lld must be even (cosines and sines)", path, tdim);
    const long long D = heads * hd;
    if (D > 16384) return err_fail(SC_ERR_FORMAT, "%s: width %lld (heads x head dim) is out of range", path, D);
    if ((s = json_get_str(pj, "_class_name", ppath, 0, NULL, &pcls)) ||
        (s = json_get_int(pj, "text_encoder_dim", ppath, 1, 1, 65536, 0, &ct)) ||
        (s = json_get_int(pj, "conditioning_dim", ppath, 1, 1, 65536, 0, &cd)) ||
        (s = json_get_num(pj, "min_value", ppath, 1, -1e6, 1e6, 0, &vmin)) ||
        (s = json_get_num(pj, "max_value", ppath, 1, -1e6, 1e6, 0, &vmax)))
        return s;
    if (pcls && strcmp(pcls, "StableAudioProjectionModel"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: _class_name \"%.60s\" is not Stable Audio's projection model "
                                            "(expected StableAudioProjectionModel)", ppath, pcls);
    if (!(vmax > vmin))
        return err_fail(SC_ERR_FORMAT, "%s: max_value %g must be above min_value %g (the seconds are scaled by "
                                       "their difference)", ppath, vmax, vmin);
    if (cin != cd)
        return err_fail(SC_ERR_FORMAT, "%s: cross_attention_input_dim %lld differs from the projection model's "
                                       "conditioning_dim %lld (%s)", path, cin, cd, ppath);
    if (gdim != 2 * cd)
        return err_fail(SC_ERR_FORMAT, "%s: global_states_input_dim %lld is not twice the projection model's "
                                       "conditioning_dim %lld (%s): the global token is the start and end seconds' "
                                       "embeddings side by side", path, gdim, cd, ppath);
    c->depth = (int)layers;
    c->heads = (int)heads;
    c->kv_heads = (int)kvh;
    c->head_dim = (int)hd;
    c->hidden = (int)D;
    c->in_channels = (int)in;
    c->out_channels = (int)out;
    c->sample_size = (int)sample;
    c->cross_dim = (int)cross;
    c->cross_input_dim = (int)cin;
    c->global_input_dim = (int)gdim;
    c->time_dim = (int)tdim;
    c->rot = (int)hd / 2;
    c->eps = 1e-5f; /* StableAudioDiTBlock's norm_eps, not in the config */
    c->text_dim = (int)ct;
    c->text_identity = ct == cd;
    c->min_value = vmin;
    c->max_value = vmax;
    return SC_OK;
}

/* Multiply-accumulates of one sample at T tokens (frames + the global token) and Lc cross tokens. */
uint64_t sa_macs_attn(const sa_config *c, uint64_t T)
{
    const uint64_t D = (uint64_t)c->hidden;
    return T * 3 * D * D + 2 * T * T * D + T * D * D; /* qkv, scores and values, out */
}

uint64_t sa_macs_cross(const sa_config *c, uint64_t T, uint64_t Lc)
{
    /* q, scores and values, out; the keys and values of the cross tokens are computed once per
     * conditioning. */
    const uint64_t D = (uint64_t)c->hidden;
    return T * D * D + 2 * T * Lc * D + T * D * D;
}

uint64_t sa_macs_mlp(const sa_config *c, uint64_t T)
{
    const uint64_t D = (uint64_t)c->hidden;
    return T * D * 8 * D + T * 4 * D * D; /* SwiGLU's two halves, then down */
}

uint64_t sa_macs_forward(const sa_config *c, uint64_t S, uint64_t L)
{
    const uint64_t D = (uint64_t)c->hidden, C = (uint64_t)c->in_channels, Co = (uint64_t)c->out_channels;
    const uint64_t T = S + 1, Lc = L + 2;
    const uint64_t per_block = sa_macs_attn(c, T) + sa_macs_cross(c, T, Lc) + sa_macs_mlp(c, T);
    const uint64_t embed = S * C * C + S * C * D + (uint64_t)c->time_dim * D + D * D + (uint64_t)c->global_input_dim * D +
                           D * D;
    return embed + (uint64_t)c->depth * per_block + S * D * Co + S * Co * Co;
}
