/* T5's config.json (transformers' T5Config / UMT5Config) and its relative position buckets. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "models/t5/t5.h"

sc_status t5_config_from_json(t5_config *c, const json_t *j, const char *path)
{
    memset(c, 0, sizeof *c);
    long long vocab, d_model, d_kv, d_ff, layers, heads, buckets, maxd;
    double eps;
    const char *ff, *type;
    sc_status s;
    if ((s = json_get_int(j, "vocab_size", path, 1, 1, 1 << 22, 0, &vocab)) ||
        (s = json_get_int(j, "d_model", path, 1, 1, 65536, 0, &d_model)) ||
        (s = json_get_int(j, "d_kv", path, 1, 1, 4096, 0, &d_kv)) ||
        (s = json_get_int(j, "d_ff", path, 1, 1, 1 << 20, 0, &d_ff)) ||
        (s = json_get_int(j, "num_layers", path, 1, 1, 1024, 0, &layers)) ||
        (s = json_get_int(j, "num_heads", path, 1, 1, 1024, 0, &heads)) ||
        (s = json_get_int(j, "relative_attention_num_buckets", path, 0, 4, 4096, 32, &buckets)) ||
        (s = json_get_int(j, "relative_attention_max_distance", path, 0, 1, 1 << 20, 128, &maxd)) ||
        (s = json_get_num(j, "layer_norm_epsilon", path, 0, 0.0, 1.0, 1e-6, &eps)) ||
        (s = json_get_str(j, "feed_forward_proj", path, 0, "relu", &ff)) ||
        (s = json_get_str(j, "model_type", path, 0, "t5", &type)))
        return s;
    if (strcmp(type, "t5") && strcmp(type, "mt5") && strcmp(type, "umt5"))
        return err_fail(SC_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not T5's (t5, mt5 or umt5)", path, type);
    if ((long long)heads * d_kv > 1 << 20) return err_fail(SC_ERR_FORMAT, "%s: num_heads x d_kv is too large", path);
    if (maxd <= buckets / 4)
        return err_fail(SC_ERR_FORMAT, "%s: relative_attention_max_distance %lld is not above a quarter of the %lld buckets",
                        path, maxd, buckets);
    /* feed_forward_proj: "<act>" or "gated-<act>"; transformers maps "gated-gelu" to gelu_new. */
    snprintf(c->feed_forward, sizeof c->feed_forward, "%s", ff);
    const char *act = ff;
    if (!strncmp(ff, "gated-", 6)) {
        c->gated = 1;
        act = ff + 6;
    } else if (strchr(ff, '-')) {
        return err_fail(SC_ERR_FORMAT, "%s: feed_forward_proj \"%s\" is neither \"<act>\" nor \"gated-<act>\"", path, ff);
    }
    if (!strcmp(act, "relu")) c->act = T5_ACT_RELU;
    else if (!strcmp(act, "gelu_new") || (c->gated && !strcmp(act, "gelu"))) c->act = T5_ACT_GELU_TANH;
    else
        return err_fail(SC_ERR_UNSUPPORTED, "%s: feed_forward_proj \"%s\": the activations read are relu, gelu_new "
                                            "and gated-gelu", path, ff);
    c->vocab = (int)vocab;
    c->d_model = (int)d_model;
    c->d_kv = (int)d_kv;
    c->d_ff = (int)d_ff;
    c->layers = (int)layers;
    c->heads = (int)heads;
    c->buckets = (int)buckets;
    c->max_distance = (int)maxd;
    c->eps = (float)eps;
    c->bias_per_layer = !strcmp(type, "umt5");
    return SC_OK;
}

/* transformers' _relative_position_bucket(bidirectional=True): n = N/2 buckets per sign (keys
 * after the query add n), e = n/2 exact ones, then e + trunc(log(a/e) / log(M/e) (n - e)) up to
 * n - 1. torch evaluates the logarithm in float32; the exact integer values at powers of the
 * ratio (a = 16, 32, 64 for N = 32, M = 128) come out exact there, which double arithmetic with
 * a 1e-6 allowance reproduces (equal to torch for every r in [-3000, 3000] over 100 (N, M) pairs,
 * tests/fixtures/t5/buckets.json). */
int t5_bucket(const t5_config *c, int r)
{
    const int n = c->buckets / 2, e = n / 2, o = r > 0 ? n : 0;
    const int a = r < 0 ? -r : r;
    if (a < e) return o + a;
    const double v = log((double)a / e) / log((double)c->max_distance / e) * (n - e);
    int b = e + (int)floor(v + 1e-6);
    if (b > n - 1) b = n - 1;
    return o + b;
}
