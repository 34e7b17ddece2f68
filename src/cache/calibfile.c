#include "cache/calibfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "io/json.h"

sc_status calibfile_numbers(const char *path, const char *key, const char *shape, size_t n_min, size_t n_max, double lo,
                            double hi, double **values, size_t *n, char *sampler, size_t sampler_cap, int *steps)
{
    json_t *j;
    *values = NULL;
    *n = 0;
    sc_status s = json_load_object_file(path, SC_JSON_FILE_CAP, &j);
    if (s) return s;
    const json_t *a = json_object_get(j, key), *meta = json_object_get(j, "_meta");
    const size_t count = json_is_array(a) ? json_array_size(a) : 0;
    if (!json_is_array(a) || count < n_min || count > n_max)
        s = err_fail(SC_ERR_FORMAT, "%s: \"%s\" must be %s", path, key, shape);
    double *v = NULL;
    if (!s && !(v = malloc((count ? count : 1) * sizeof *v))) s = err_fail(SC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !s && i < count; i++) {
        const json_t *e = json_array_get(a, i);
        const double x = json_is_number(e) ? json_number_value(e) : NAN;
        if (!(isfinite(x) && x >= lo && x < hi)) {
            char bound[48] = "";
            if (isfinite(lo)) snprintf(bound, sizeof bound, " >= %g", lo);
            s = err_fail(SC_ERR_FORMAT, "%s: \"%s\"[%zu] is not a finite number%s", path, key, i, bound);
        } else {
            v[i] = x;
        }
    }
    if (!s && sampler) {
        const json_t *sm = json_is_object(meta) ? json_object_get(meta, "sampler") : NULL;
        snprintf(sampler, sampler_cap, "%s", json_is_string(sm) ? json_string_value(sm) : "");
    }
    if (!s && steps) {
        const json_t *st = json_is_object(meta) ? json_object_get(meta, "steps") : NULL;
        const json_int_t v_steps = json_is_integer(st) ? json_integer_value(st) : 0;
        *steps = v_steps > 0 && v_steps <= 100000 ? (int)v_steps : 0;
    }
    json_decref(j);
    if (s) {
        free(v);
        return s;
    }
    *values = v;
    *n = count;
    return SC_OK;
}
