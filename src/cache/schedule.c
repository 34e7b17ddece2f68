#include "cache/schedule.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "io/json.h"

sc_status schedule_alloc(cache_schedule *s, int depth, int steps, const cache_comps *comps)
{
    size_t n = (size_t)depth * (size_t)comps->n * (size_t)steps;
    s->depth = depth;
    s->steps = steps;
    s->comps = *comps;
    s->s = malloc(n ? n : 1);
    if (!s->s) return err_fail(SC_ERR_NOMEM, "out of memory for a schedule");
    memset(s->s, 1, n);
    return SC_OK;
}

void schedule_free(cache_schedule *s)
{
    free(s->s);
    s->s = NULL;
}

/* Schedule keys of components some model families have: a file made for another family may carry
 * them, and they do not apply to a model without such a component. */
static int other_family_key(const char *name, size_t len)
{
    static const char *const names[] = {"attn", "attn1", "mlp", "ff", "cross", "attn2"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && !strncmp(names[i], name, len)) return 1;
    return 0;
}

/* "attn, mlp" with aliases in parentheses, for messages. */
static void comp_list(const cache_comps *c, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s%s%s%s", i ? ", " : "", c->name[i], c->aliases[i] ? " (" : "",
                              c->aliases[i] ? c->aliases[i] : "", c->aliases[i] ? ")" : "");
}

static sc_status read_row(const json_t *a, const char *what, const char *key, const char *context, int steps,
                          unsigned char *row)
{
    if (!json_is_array(a)) return err_fail(SC_ERR_FORMAT, "%s: \"%s\" is not an array", what, key);
    if (json_is_array(json_array_get(a, 0)))
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" holds error curves (one array per lag): this is a calibration "
                                       "file, not a schedule; use smooth:errors=FILE,alpha=A, or make a schedule with "
                                       "smoothcache schedule", what, key);
    if ((int)json_array_size(a) != steps)
        return err_fail(SC_ERR_FORMAT, "%s: \"%s\" has %zu entries but this generation makes %d model evaluations (%s)",
                       what, key, json_array_size(a), steps, context);
    for (int i = 0; i < steps; i++) {
        const json_t *v = json_array_get(a, (size_t)i);
        if (!json_is_integer(v) || (json_integer_value(v) != 0 && json_integer_value(v) != 1))
            return err_fail(SC_ERR_FORMAT, "%s: \"%s\"[%d] must be the integer 0 or 1", what, key, i);
        row[i] = (unsigned char)json_integer_value(v);
    }
    return SC_OK;
}

sc_status schedule_from_json(const json_t *j, const char *what, const char *context, cache_schedule *out)
{
    if (!json_is_object(j) || json_object_size(j) == 0)
        return err_fail(SC_ERR_FORMAT, "%s: a schedule must be a non-empty JSON object", what);
    const int depth = out->depth, steps = out->steps, nc = out->comps.n;
    unsigned char *typed = calloc((size_t)nc, 1), *blockset = calloc((size_t)depth * nc, 1);
    if (!typed || !blockset) {
        free(typed);
        free(blockset);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    unsigned char *type_rows = malloc((size_t)(nc + 1) * steps); /* the last row: ignored keys */
    sc_status s = type_rows ? SC_OK : err_fail(SC_ERR_NOMEM, "out of memory");
    int matched = 0, ignored = 0;
    char first_ignored[64] = ""; /* the first such key, for the warning */
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)j, key, val) {
        if (s) break;
        if (key[0] == '_') continue;
        const char *dash = strchr(key, '-');
        size_t nl = dash ? (size_t)(dash - key) : strlen(key);
        int c = cache_comp_find(&out->comps, key, nl);
        if (c < 0 && !other_family_key(key, nl)) {
            char known[256];
            comp_list(&out->comps, known, sizeof known);
            s = err_fail(SC_ERR_FORMAT, "%s: unknown component \"%s\" (this model has %s; optionally -<block>)", what,
                         key, known);
            break;
        }
        int block = -1;
        if (dash) {
            const char *b = dash + 1;
            int ok = *b && strlen(b) <= 6;
            for (const char *q = b; *q && ok; q++) ok = isdigit((unsigned char)*q);
            block = ok ? atoi(b) : -1;
            if (!ok || block >= depth) {
                s = err_fail(SC_ERR_FORMAT, "%s: \"%s\": block must be in 0..%d for this model", what, key, depth - 1);
                break;
            }
        }
        if (c < 0) { /* a component this model lacks: the key cannot apply */
            if (!ignored++) snprintf(first_ignored, sizeof first_ignored, "%s", key);
            if ((s = read_row(val, what, key, context, steps, type_rows + (size_t)nc * steps))) break;
            continue;
        }
        unsigned char *dst = block >= 0 ? schedule_row(out, block, c) : type_rows + (size_t)c * steps;
        if ((s = read_row(val, what, key, context, steps, dst))) break;
        if (block >= 0) blockset[block * nc + c] = 1;
        else typed[c] = 1;
        matched++;
    }
    /* Per-block keys win; blocks without one take the per-type row; neither = always compute. */
    for (int l = 0; l < depth && !s; l++)
        for (int c = 0; c < nc; c++) {
            if (blockset[l * nc + c]) continue;
            unsigned char *r = schedule_row(out, l, c);
            if (typed[c]) memcpy(r, type_rows + (size_t)c * steps, (size_t)steps);
            else memset(r, 1, (size_t)steps);
        }
    if (!s && matched && ignored)
        err_warn("%s: %d key%s name%s components this model does not have (%s): ignored", what, ignored,
                 ignored == 1 ? "" : "s", ignored == 1 ? "s" : "", first_ignored);
    for (int c = 0; c < nc && !s && matched; c++) {
        int named = typed[c];
        for (int l = 0; l < depth && !named; l++) named = blockset[l * nc + c];
        if (!named)
            err_warn("%s: no schedule for %s%s%s%s: computed at every step", what, out->comps.name[c],
                     out->comps.aliases[c] ? " (" : "", out->comps.aliases[c] ? out->comps.aliases[c] : "",
                     out->comps.aliases[c] ? ")" : "");
    }
    if (!s && !matched) {
        char known[256];
        comp_list(&out->comps, known, sizeof known);
        s = err_fail(SC_ERR_FORMAT, "%s: no key matches this model's components (%s)%s; nothing would be cached", what,
                     known, ignored ? ": its keys name components this model does not have" : "");
    }
    if (!s) {
        for (int l = 0; l < depth; l++)
            for (int c = 0; c < nc; c++) {
                const unsigned char *r = schedule_row(out, l, c);
                if (!r[0] || !r[steps - 1]) {
                    if (steps == 1) err_warn("%s: the only evaluation always computes; entry 0 set to 1", what);
                    else err_warn("%s: the first and last evaluations always compute; entries 0 and %d set to 1", what,
                                  steps - 1);
                    l = depth;
                    break;
                }
            }
    }
    free(typed);
    free(blockset);
    free(type_rows);
    return s;
}

sc_status schedule_read(const char *path, json_t **out) { return json_load_object_file(path, SC_JSON_FILE_CAP, out); }

void schedule_check_meta(const json_t *meta, const char *path, const cache_gen *g)
{
    if (!json_is_object(meta)) return;
    const json_t *sampler = json_object_get(meta, "sampler"), *steps = json_object_get(meta, "steps");
    if (json_is_string(sampler) && strcmp(json_string_value(sampler), g->sampler))
        err_warn("%s was made for the %s sampler; this generation uses %s", path, json_string_value(sampler), g->sampler);
    if (json_is_integer(steps) && json_integer_value(steps) != g->steps)
        err_warn("%s was made for %lld steps; this generation makes %d", path, (long long)json_integer_value(steps),
                 g->steps);
    /* Guidance and the model change how much each layer's output moves between steps. */
    const json_t *cfg = json_object_get(meta, "cfg");
    if (json_is_number(cfg) && g->cfg > 0 && fabs(json_number_value(cfg) - g->cfg) > 1e-4 * fabs(g->cfg))
        err_warn("%s was made at cfg %g; this generation uses cfg %g", path, json_number_value(cfg), (double)g->cfg);
    const json_t *macs = json_object_get(meta, "macs_per_sample"), *fwd = json_object_get(macs, "forward");
    if (json_is_integer(fwd) && g->macs_forward && (uint64_t)json_integer_value(fwd) != g->macs_forward) {
        const json_t *model = json_object_get(meta, "model");
        err_warn("%s was made on another model%s%s (%.4g GMACs per forward; this one %.4g)", path,
                 json_is_string(model) ? ", " : "", json_is_string(model) ? json_string_value(model) : "",
                 (double)json_integer_value(fwd) / 1e9, (double)g->macs_forward / 1e9);
    }
}

sc_status schedule_load(const char *path, const char *context, cache_schedule *out)
{
    json_t *j;
    sc_status s = json_load_object_file(path, SC_JSON_FILE_CAP, &j);
    if (s) return s;
    s = schedule_from_json(j, path, context, out);
    json_decref(j);
    return s;
}

static json_t *row_json(const unsigned char *r, int steps)
{
    json_t *a = json_array();
    for (int i = 0; i < steps; i++) json_array_append_new(a, json_integer(r[i]));
    return a;
}

sc_status schedule_save(const char *path, const cache_schedule *s, const char *const *keys, const json_t *meta,
                        int force)
{
    int shared = 1;
    for (int l = 1; l < s->depth && shared; l++)
        for (int c = 0; c < s->comps.n; c++)
            if (memcmp(schedule_row(s, l, c), schedule_row(s, 0, c), (size_t)s->steps)) shared = 0;
    json_t *root = json_object();
    for (int c = 0; c < s->comps.n; c++) {
        if (shared) {
            json_object_set_new(root, keys ? keys[c] : s->comps.name[c], row_json(schedule_row(s, 0, c), s->steps));
            continue;
        }
        for (int l = 0; l < s->depth; l++) {
            char key[48];
            snprintf(key, sizeof key, "%s-%d", keys ? keys[c] : s->comps.name[c], l);
            json_object_set_new(root, key, row_json(schedule_row(s, l, c), s->steps));
        }
    }
    if (meta) json_object_set(root, "_meta", (json_t *)meta);
    sc_status st = json_save(path, root, JSON_COMPACT | JSON_REAL_PRECISION(10), force);
    json_decref(root);
    return st;
}

void schedule_greedy(const cache_errors *e, int curve, double alpha, unsigned char *out)
{
    const int T = e->steps, k = e->k;
    memset(out, 2, (size_t)T); /* 2 = not yet decided */
    int i = 0;
    while (i < T) {
        int taken = 0;
        for (int j = k; j >= 1 && !taken; j--) {
            if (i >= T - j) continue;
            double err = *errors_at(e, curve, j, i);
            if (err <= alpha) { /* NaN (never measured) never qualifies */
                out[i] = 1;
                memset(out + i + 1, 0, (size_t)j);
                i += j + 1;
                taken = 1;
            }
        }
        if (!taken) out[i++] = 1;
    }
    out[0] = out[T - 1] = 1;
    for (int n = 0; n < T; n++)
        if (out[n] == 2) out[n] = 1;
}

/* The file's curve for the schedule's component c: by name, then by its aliases; -1 when none. */
static int curve_of(const cache_errors *e, const cache_comps *comps, int c)
{
    int k = errors_comp(e, comps->name[c]);
    const char *a = comps->aliases[c];
    while (k < 0 && a && *a) {
        char alias[32];
        size_t len = strcspn(a, " ");
        if (len < sizeof alias) {
            memcpy(alias, a, len);
            alias[len] = '\0';
            k = errors_comp(e, alias);
        }
        a += len;
        a += strspn(a, " ");
    }
    return k;
}

sc_status schedule_from_errors(const cache_errors *e, double alpha, int per_block, cache_schedule *out)
{
    if (per_block && !e->has_blocks) return err_fail(SC_ERR_FORMAT, "the calibration file has no per-block curves");
    if (out->steps != e->steps)
        return err_fail(SC_ERR_FORMAT, "the calibration covers %d evaluations but this generation makes %d", e->steps, out->steps);
    if (per_block && out->depth != e->depth)
        return err_fail(SC_ERR_FORMAT, "the calibration has %d blocks but the model has %d", e->depth, out->depth);
    int matched = 0;
    for (int c = 0; c < out->comps.n; c++) {
        const int k = curve_of(e, &out->comps, c);
        matched += k >= 0;
        for (int l = 0; l < out->depth; l++) {
            if (k < 0) memset(schedule_row(out, l, c), 1, (size_t)out->steps); /* no curves: always compute */
            else schedule_greedy(e, per_block ? errors_block_curve(e, l, k) : k, alpha, schedule_row(out, l, c));
        }
    }
    if (!matched) {
        char known[256];
        comp_list(&out->comps, known, sizeof known);
        return err_fail(SC_ERR_FORMAT, "the calibration has curves for %s%s, none of this model's components (%s)",
                        e->comp[0], e->n_comp > 1 ? ", ..." : "", known);
    }
    return SC_OK;
}

int schedule_computed(const cache_schedule *s, int l, int c)
{
    const unsigned char *r = schedule_row(s, l, c);
    int n = 0;
    for (int i = 0; i < s->steps; i++) n += r[i] || i == 0 || i == s->steps - 1;
    return n;
}

double schedule_mac_ratio(const cache_schedule *s, uint64_t macs_forward, const uint64_t *macs_comp)
{
    double full = (double)macs_forward * s->steps, skipped = 0;
    for (int l = 0; l < s->depth; l++)
        for (int c = 0; c < s->comps.n; c++) skipped += (double)macs_comp[c] * (s->steps - schedule_computed(s, l, c));
    return (full - skipped) / full;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The curves a search for `out` reads: per component (per_block = 0), or per block and component;
 * curve[l * comps + c] (l = 0 only without per_block), -1 for a component without curves. */
static int search_curves(const cache_errors *e, int per_block, const cache_schedule *out, int *curve)
{
    const int blocks = per_block ? out->depth : 1;
    int used = 0;
    for (int l = 0; l < blocks; l++)
        for (int c = 0; c < out->comps.n; c++) {
            const int k = curve_of(e, &out->comps, c);
            curve[l * out->comps.n + c] = k < 0 ? -1 : per_block ? errors_block_curve(e, l, k) : k;
            used += k >= 0;
        }
    return used;
}

/* Executed / uncached MACs when every block of component c computes computed[l * comps + c]
 * evaluations (one row for all blocks without per_block). */
static double counts_ratio(const cache_schedule *out, int per_block, const int *computed, uint64_t macs_forward,
                           const uint64_t *macs_comp)
{
    const double full = (double)macs_forward * out->steps;
    double skipped = 0;
    for (int l = 0; l < out->depth; l++)
        for (int c = 0; c < out->comps.n; c++)
            skipped += (double)macs_comp[c] * (out->steps - computed[(per_block ? l : 0) * out->comps.n + c]);
    return (full - skipped) / full;
}

static sc_status search_too_big(const char *what, double work)
{
    return err_fail(SC_ERR_ARG, "the %s over this calibration would take about %.3g steps, more than the limit of %.0e "
                                "(it grows with evaluations, lags and per-block curves): give a threshold alpha instead, "
                                "or use the per-component curves", what, work, SCHEDULE_SEARCH_LIMIT);
}

sc_status schedule_for_budget(const cache_errors *e, double target, int per_block, uint64_t macs_forward,
                              const uint64_t *macs_comp, cache_schedule *out, double *alpha)
{
    if (per_block && !e->has_blocks) return err_fail(SC_ERR_FORMAT, "the calibration file has no per-block curves");
    if (out->steps != e->steps)
        return err_fail(SC_ERR_FORMAT, "the calibration covers %d evaluations but this generation makes %d", e->steps, out->steps);
    if (per_block && out->depth != e->depth)
        return err_fail(SC_ERR_FORMAT, "the calibration has %d blocks but the model has %d", e->depth, out->depth);
    const int blocks = per_block ? out->depth : 1, rows = blocks * out->comps.n, T = e->steps;
    int *curve = malloc((size_t)rows * sizeof *curve), *computed = malloc((size_t)rows * sizeof *computed);
    unsigned char *row = malloc((size_t)T);
    double *cand = NULL;
    sc_status s = SC_OK;
    if (!curve || !computed || !row) {
        s = err_fail(SC_ERR_NOMEM, "out of memory");
        goto done;
    }
    const int used = search_curves(e, per_block, out, curve);
    /* The schedule only changes where alpha crosses a measured error of a curve in use: try those,
     * ascending, each costing one greedy scan per curve in use (not per block when the blocks
     * share their component's curve). */
    size_t cap = (size_t)used * e->k * T + 1, n = 0;
    if (!(cand = malloc(cap * sizeof *cand))) {
        s = err_fail(SC_ERR_NOMEM, "out of memory");
        goto done;
    }
    cand[n++] = 0.0;
    for (int r = 0; r < rows; r++)
        for (int j = 1; curve[r] >= 0 && j <= e->k; j++)
            for (int i = 0; i < T - j; i++) {
                double v = *errors_at(e, curve[r], j, i);
                if (isfinite(v)) cand[n++] = v;
            }
    qsort(cand, n, sizeof *cand, cmp_double);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (!i || cand[i] != cand[unique - 1]) cand[unique++] = cand[i];
    const double work = (double)unique * (double)(used ? used : 1) * T * e->k;
    if (work > SCHEDULE_SEARCH_LIMIT) {
        s = search_too_big("compute-budget search", work);
        goto done;
    }
    double best = NAN, ratio = 1.0;
    for (size_t i = 0; i < unique && isnan(best); i++) {
        for (int r = 0; r < rows; r++) {
            if (curve[r] < 0) {
                computed[r] = T;
                continue;
            }
            schedule_greedy(e, curve[r], cand[i], row);
            int m = 0;
            for (int t = 0; t < T; t++) m += row[t];
            computed[r] = m;
        }
        ratio = counts_ratio(out, per_block, computed, macs_forward, macs_comp);
        if (ratio <= target) best = cand[i];
    }
    if (isnan(best)) {
        s = err_fail(SC_ERR_ARG, "no schedule reaches %.3f of the uncached MACs: the most aggressive one (k=%d) executes %.3f",
                     target, e->k, ratio);
        goto done;
    }
    if (!(s = schedule_from_errors(e, best, per_block, out))) *alpha = best;
done:
    free(curve);
    free(computed);
    free(row);
    free(cand);
    return s;
}

/* CacheQuant's dynamic programme for one curve, for every number of computations at once:
 * C[g][n] is the least summed error of a schedule of evaluations 0..n with g + 1 computations,
 * the last at n; from[g][n] the computation before it. The error of reusing p's output at
 * p+1 .. n-1 comes from prefix sums over the lag (R[p][d] = sum_{j<=d} err(j, p)), so the table
 * costs O(gmax * T * (k + 1)). Tables are [gmax][T]; the caller frees *C and *from. */
static sc_status dp_tables(const cache_errors *e, int curve, int gmax, double **Cout, int **fromout)
{
    const int T = e->steps, k = e->k;
    const size_t cells = (size_t)gmax * T;
    double *C = malloc(cells * sizeof *C), *R = malloc((size_t)T * (k + 1) * sizeof *R);
    int *from = malloc(cells * sizeof *from);
    if (!C || !from || !R) {
        free(C);
        free(from);
        free(R);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int p = 0; p < T; p++) {
        double acc = 0;
        R[(size_t)p * (k + 1)] = 0;
        for (int d = 1; d <= k; d++) {
            const double v = p + d < T ? *errors_at(e, curve, d, p) : INFINITY;
            acc = isfinite(v) && isfinite(acc) ? acc + v : INFINITY;
            R[(size_t)p * (k + 1) + d] = acc;
        }
    }
    for (size_t i = 0; i < cells; i++) {
        C[i] = INFINITY;
        from[i] = -1;
    }
    C[0] = 0.0; /* g = 0: the first evaluation */
    for (int g = 1; g < gmax; g++)
        for (int n = g; n < T; n++) {
            double best = INFINITY;
            int arg = -1;
            for (int p = n - 1; p >= 0 && n - p - 1 <= k; p--) {
                const double prev = C[(size_t)(g - 1) * T + p];
                if (!isfinite(prev)) continue;
                const double run = R[(size_t)p * (k + 1) + (n - p - 1)]; /* reusing p at p+1 .. n-1 */
                if (isfinite(run) && prev + run < best) {
                    best = prev + run;
                    arg = p;
                }
            }
            C[(size_t)g * T + n] = best;
            from[(size_t)g * T + n] = arg;
        }
    free(R);
    *Cout = C;
    *fromout = from;
    return SC_OK;
}

/* The schedule of `computed` computations out of the tables (computed <= gmax). */
static void dp_backtrack(const int *from, int T, int computed, unsigned char *out)
{
    memset(out, 0, (size_t)T);
    for (int g = computed - 1, n = T - 1; g >= 0 && n >= 0; n = from[(size_t)g * T + n], g--) out[n] = 1;
}

sc_status schedule_dp(const cache_errors *e, int curve, int computed, unsigned char *out, double *cost)
{
    const int T = e->steps, k = e->k;
    if (computed < 2 || computed > T)
        return err_fail(SC_ERR_ARG, "a schedule of %d evaluations computes between 2 and %d of them (asked %d)", T, T,
                       computed);
    double *C;
    int *from;
    sc_status s = dp_tables(e, curve, computed, &C, &from);
    if (s) return s;
    const double total = C[(size_t)(computed - 1) * T + (T - 1)];
    if (!isfinite(total)) {
        s = err_fail(SC_ERR_ARG, "no schedule of %d evaluations computes only %d with reuse runs of at most k=%d", T,
                    computed, k);
    } else {
        dp_backtrack(from, T, computed, out);
        if (cost) *cost = total;
    }
    free(C);
    free(from);
    return s;
}

sc_status schedule_dp_for_budget(const cache_errors *e, double target, int per_block, uint64_t macs_forward,
                                 const uint64_t *macs_comp, cache_schedule *out, int *computed)
{
    if (per_block && !e->has_blocks) return err_fail(SC_ERR_FORMAT, "the calibration file has no per-block curves");
    if (out->steps != e->steps)
        return err_fail(SC_ERR_FORMAT, "the calibration covers %d evaluations but this generation makes %d", e->steps, out->steps);
    if (per_block && out->depth != e->depth)
        return err_fail(SC_ERR_FORMAT, "the calibration has %d blocks but the model has %d", e->depth, out->depth);
    const int T = e->steps, blocks = per_block ? out->depth : 1, rows = blocks * out->comps.n;
    int *curve = malloc((size_t)rows * sizeof *curve), *counts = malloc((size_t)rows * sizeof *counts);
    /* feasible[g]: every curve in use has a schedule of g computations (g = 2..T). */
    unsigned char *feasible = malloc((size_t)T + 1);
    sc_status s = SC_OK;
    if (!curve || !counts || !feasible) {
        s = err_fail(SC_ERR_NOMEM, "out of memory");
        goto done;
    }
    const int used = search_curves(e, per_block, out, curve);
    /* One table per curve in use, not per block sharing it, for every count at once; built twice
     * (feasibility, then the chosen count's schedules). */
    const double work = 2.0 * (used ? used : 1) * (double)T * T * (e->k + 1);
    if (work > SCHEDULE_SEARCH_LIMIT) {
        s = search_too_big("DP solver", work);
        goto done;
    }
    memset(feasible, 1, (size_t)T + 1);
    for (int r = 0; r < rows && !s; r++) {
        if (curve[r] < 0) continue;
        double *C;
        int *from;
        if ((s = dp_tables(e, curve[r], T, &C, &from))) break;
        for (int g = 2; g <= T; g++) feasible[g] &= isfinite(C[(size_t)(g - 1) * T + (T - 1)]) != 0;
        free(C);
        free(from);
    }
    if (s) goto done;
    /* Ratios fall as g falls: the largest feasible g within the budget is the best schedule. */
    int best = -1;
    for (int g = T; g >= 2 && best < 0; g--) {
        if (!feasible[g]) continue;
        for (int r = 0; r < rows; r++) counts[r] = curve[r] < 0 ? T : g;
        if (counts_ratio(out, per_block, counts, macs_forward, macs_comp) <= target) best = g;
    }
    if (best < 0) {
        s = err_fail(SC_ERR_ARG, "no schedule reaches %.3f of the uncached MACs with reuse runs of at most k=%d", target,
                     e->k);
        goto done;
    }
    for (int r = 0; r < rows && !s; r++) {
        const int c = r % out->comps.n;
        unsigned char *row0 = schedule_row(out, per_block ? r / out->comps.n : 0, c);
        if (curve[r] < 0) {
            memset(row0, 1, (size_t)T);
        } else {
            double *C;
            int *from;
            if ((s = dp_tables(e, curve[r], best, &C, &from))) break;
            dp_backtrack(from, T, best, row0);
            free(C);
            free(from);
        }
        if (!per_block) /* every block shares its component's schedule */
            for (int l = 1; l < out->depth; l++) memcpy(schedule_row(out, l, c), row0, (size_t)T);
    }
    if (!s) *computed = best;
done:
    free(curve);
    free(counts);
    free(feasible);
    return s;
}
