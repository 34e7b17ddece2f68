#include "io/json.h"

/* load_object: read Python's non-finite numbers as strings (not a jansson flag). */
#define JSON_PY_NONFINITE ((size_t)1 << 30)

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/sniff.h"

static int depth_of(const json_t *v, int limit)
{
    if (limit < 0) return 1;
    int best = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            int d = depth_of(x, limit - 1);
            if (d > best) best = d;
        }
        return best + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            int d = depth_of(x, limit - 1);
            if (d > best) best = d;
        }
        return best + 1;
    }
    return 0;
}

static sc_status parse_flags(const char *src, size_t len, const char *what, size_t flags, json_t **out)
{
    *out = NULL;
    if (len >= 3 && (unsigned char)src[0] == 0xEF && (unsigned char)src[1] == 0xBB &&
        (unsigned char)src[2] == 0xBF)
        return err_fail(SC_ERR_FORMAT, "%s: JSON starts with a byte-order mark", what);
    json_error_t err;
    json_t *root = json_loadb(src, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | flags, &err);
    if (!root)
        return err_fail(SC_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", what, err.line,
                       err.column, err.text);
    if (depth_of(root, SC_JSON_MAX_DEPTH + 1) > SC_JSON_MAX_DEPTH) {
        json_decref(root);
        return err_fail(SC_ERR_FORMAT, "%s: JSON nested deeper than %d levels", what, SC_JSON_MAX_DEPTH);
    }
    *out = root;
    return SC_OK;
}

sc_status json_parse(const char *src, size_t len, const char *what, json_t **out)
{
    return parse_flags(src, len, what, 0, out);
}

/* Python's json module writes NaN, Infinity and -Infinity (diffusers' scheduler configs hold
 * "lambda_min_clipped": -Infinity), which are not JSON: outside strings they become the strings
 * "NaN", "Infinity" and "-Infinity". *buf is replaced by a new buffer. */
static sc_status quote_nonfinite(char **buf, size_t *len)
{
    static const char *const words[] = {"-Infinity", "Infinity", "NaN"};
    const char *src = *buf;
    char *dst = malloc(*len * 2 + 1); /* every word at most doubles with its quotes */
    if (!dst) return err_fail(SC_ERR_NOMEM, "out of memory");
    size_t o = 0;
    int in_string = 0;
    for (size_t i = 0; i < *len;) {
        const char c = src[i];
        if (in_string) {
            dst[o++] = c;
            if (c == '\\' && i + 1 < *len) dst[o++] = src[++i];
            else if (c == '"') in_string = 0;
            i++;
            continue;
        }
        if (c == '"') in_string = 1;
        size_t w = 0, k = 0;
        for (; k < 3; k++) {
            w = strlen(words[k]);
            if (i + w <= *len && !memcmp(src + i, words[k], w)) break;
        }
        if (k < 3) {
            dst[o++] = '"';
            memcpy(dst + o, words[k], w);
            o += w;
            dst[o++] = '"';
            i += w;
        } else {
            dst[o++] = c;
            i++;
        }
    }
    free(*buf);
    *buf = dst;
    *len = o;
    return SC_OK;
}

static sc_status load_object(const char *path, uint64_t cap, size_t flags, json_t **out)
{
    char *buf;
    size_t len;
    *out = NULL;
    sc_status s = file_read_small(path, cap, &buf, &len);
    if (s) return s;
    if ((flags & JSON_PY_NONFINITE) && (s = quote_nonfinite(&buf, &len))) {
        free(buf);
        return s;
    }
    flags &= ~(size_t)JSON_PY_NONFINITE;
    /* Not JSON at all (a picture, arrays, a checkpoint): say what it is rather than where the
     * JSON parser stopped. */
    const file_kind k = sniff_bytes((const uint8_t *)buf, len < 65536 ? len : 65536, len);
    if (k != KIND_JSON && k != KIND_TEXT && k != KIND_UNKNOWN) {
        free(buf);
        return err_fail(SC_ERR_FORMAT, "%s: not JSON: this is %s", path, sniff_kind_text(k));
    }
    s = parse_flags(buf, len, path, flags, out);
    free(buf);
    if (s) return s;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return err_fail(SC_ERR_FORMAT, "%s: top level is not a JSON object", path);
    }
    return SC_OK;
}

sc_status json_load_object_file(const char *path, uint64_t cap, json_t **out)
{
    return load_object(path, cap, 0, out);
}

sc_status json_load_object_file_py(const char *path, uint64_t cap, json_t **out)
{
    return load_object(path, cap, JSON_PY_NONFINITE, out);
}

sc_status json_load_object_file_reals(const char *path, uint64_t cap, json_t **out)
{
    return load_object(path, cap, JSON_DECODE_INT_AS_REAL, out);
}

sc_status json_get_int(const json_t *obj, const char *key, const char *what, int required,
                       long long min, long long max, long long def, long long *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || (json_is_null(v) && !required)) {
        if (required) return err_fail(SC_ERR_FORMAT, "%s: missing key \"%s\"", what, key);
        return SC_OK;
    }
    if (!json_is_integer(v))
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be an integer", what, key);
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" = %lld is out of range [%lld, %lld]", what, key, x,
                       min, max);
    *out = x;
    return SC_OK;
}

sc_status json_get_num(const json_t *obj, const char *key, const char *what, int required,
                       double min, double max, double def, double *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || (json_is_null(v) && !required)) {
        if (required) return err_fail(SC_ERR_FORMAT, "%s: missing key \"%s\"", what, key);
        return SC_OK;
    }
    if (!json_is_number(v)) return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be a number", what, key);
    double x = json_number_value(v);
    if (!(x >= min && x <= max))
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" = %g is out of range [%g, %g]", what, key, x, min, max);
    *out = x;
    return SC_OK;
}

sc_status json_get_bool(const json_t *obj, const char *key, const char *what, int required,
                        int def, int *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || (json_is_null(v) && !required)) {
        if (required) return err_fail(SC_ERR_FORMAT, "%s: missing key \"%s\"", what, key);
        return SC_OK;
    }
    if (!json_is_boolean(v)) return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be true or false", what, key);
    *out = json_is_true(v);
    return SC_OK;
}

sc_status json_get_str(const json_t *obj, const char *key, const char *what, int required,
                       const char *def, const char **out)
{
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || (json_is_null(v) && !required)) {
        if (required) return err_fail(SC_ERR_FORMAT, "%s: missing key \"%s\"", what, key);
        return SC_OK;
    }
    if (!json_is_string(v)) return err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be a string", what, key);
    *out = json_string_value(v);
    return SC_OK;
}

sc_status json_save(const char *path, const json_t *root, size_t flags, int force)
{
    char *text = json_dumps(root, flags);
    if (!text) return err_fail(SC_ERR_NOMEM, "out of memory writing %s", path);
    file_out o;
    sc_status s = file_out_open(&o, path, force);
    if (!s) s = file_out_write(&o, text, strlen(text));
    if (!s) s = file_out_write(&o, "\n", 1);
    if (!s) s = file_out_commit(&o);
    free(text);
    return s;
}
