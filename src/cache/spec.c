#include "cache/spec.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* The names cache-dit users type for the same options: threshold (residual_diff_threshold) for
 * thresh, Fn and Bn (Fn_compute_blocks, Bn_compute_blocks) for fn and bn. */
static void spec_alias(char *key)
{
    static const char *const k_alias[][2] = {{"threshold", "thresh"}, {"Fn", "fn"}, {"Bn", "bn"}};
    for (size_t i = 0; i < sizeof k_alias / sizeof *k_alias; i++)
        if (!strcmp(key, k_alias[i][0])) {
            snprintf(key, 32, "%s", k_alias[i][1]);
            return;
        }
}

sc_status spec_parse(const char *text, cache_spec *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) return err_fail(SC_ERR_ARG, "cache spec: empty");
    if (strlen(text) >= sizeof out->text) return err_fail(SC_ERR_ARG, "cache spec: too long");
    snprintf(out->text, sizeof out->text, "%s", text);
    const char *colon = strchr(text, ':');
    size_t nl = colon ? (size_t)(colon - text) : strlen(text);
    if (nl == 0 || nl >= sizeof out->name) return err_fail(SC_ERR_ARG, "cache spec '%s': missing or too long policy name", text);
    for (size_t i = 0; i < nl; i++)
        if (!islower((unsigned char)text[i]) && !isdigit((unsigned char)text[i]) && text[i] != '_')
            return err_fail(SC_ERR_ARG, "cache spec '%s': bad policy name", text);
    memcpy(out->name, text, nl);
    if (!colon) return SC_OK;
    const char *p = colon + 1;
    if (!*p) return err_fail(SC_ERR_ARG, "cache spec '%s': nothing after ':'", text);
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p)
            return err_fail(SC_ERR_ARG, "cache spec '%s': expected key=value, got '%.*s'", text, (int)len, p);
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        if (out->n == SPEC_MAX_KV) return err_fail(SC_ERR_ARG, "cache spec '%s': too many options", text);
        spec_kv *kv = &out->kv[out->n];
        if (kl >= sizeof kv->key || vl >= sizeof kv->value || vl == 0)
            return err_fail(SC_ERR_ARG, "cache spec '%s': bad option '%.*s'", text, (int)len, p);
        memcpy(kv->key, p, kl);
        memcpy(kv->value, eq + 1, vl);
        spec_alias(kv->key);
        for (int i = 0; i < out->n; i++)
            if (!strcmp(out->kv[i].key, kv->key))
                return err_fail(SC_ERR_ARG, "cache spec '%s': option '%s' given twice", text, kv->key);
        out->n++;
        if (!comma) break;
        p = comma + 1;
    }
    return SC_OK;
}

static spec_kv *find(cache_spec *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->kv[i].key, key)) return &s->kv[i];
    return NULL;
}

int spec_has(const cache_spec *s, const char *key)
{
    return find((cache_spec *)s, key) != NULL;
}

sc_status spec_int(cache_spec *s, const char *key, int required, long min, long max, long def, long *out)
{
    spec_kv *kv = find(s, key);
    *out = def;
    if (!kv) return required ? err_fail(SC_ERR_ARG, "cache policy %s: option '%s' is required", s->name, key) : SC_OK;
    kv->used = 1;
    const char *v = kv->value;
    long x = 0;
    if (!spec_integer(v, strlen(v), &x) || x < min || x > max)
        return err_fail(SC_ERR_ARG, "cache policy %s: %s=%s is not an integer in [%ld, %ld]", s->name, key, v, min, max);
    *out = x;
    return SC_OK;
}

int spec_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (!(isdigit((unsigned char)buf[0]) || buf[0] == '.' || (buf[0] == '-' && buf[1])) || strpbrk(buf, "xXnNiI ,+/:"))
        return 0;
    if (buf[0] == '-' && buf[1] == '+') return 0;
    char *end;
    errno = 0;
    const double x = strtod(buf, &end);
    if (*end || errno == ERANGE || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

int spec_integer(const char *s, size_t len, long *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)buf[i]) && !(i == 0 && buf[i] == '-' && len > 1)) return 0;
    errno = 0;
    const long x = strtol(buf, NULL, 10);
    if (errno == ERANGE) return 0;
    *out = x;
    return 1;
}

sc_status spec_num(cache_spec *s, const char *key, int required, double min, double max, double def, double *out)
{
    spec_kv *kv = find(s, key);
    *out = def;
    if (!kv) return required ? err_fail(SC_ERR_ARG, "cache policy %s: option '%s' is required", s->name, key) : SC_OK;
    kv->used = 1;
    const char *v = kv->value;
    double x = 0;
    if (!spec_number(v, strlen(v), &x) || !(x >= min && x <= max))
        return err_fail(SC_ERR_ARG, "cache policy %s: %s=%s is not a number in [%g, %g]", s->name, key, v, min, max);
    *out = x;
    return SC_OK;
}

sc_status spec_str(cache_spec *s, const char *key, int required, const char **out)
{
    spec_kv *kv = find(s, key);
    *out = NULL;
    if (!kv) return required ? err_fail(SC_ERR_ARG, "cache policy %s: option '%s' is required", s->name, key) : SC_OK;
    kv->used = 1;
    *out = kv->value;
    return SC_OK;
}

sc_status spec_check_unused(const cache_spec *s, const char *known)
{
    for (int i = 0; i < s->n; i++)
        if (!s->kv[i].used)
            return err_fail(SC_ERR_ARG, "cache policy %s: unknown option '%s' (known: %s)", s->name, s->kv[i].key, known);
    return SC_OK;
}
