/* smoothcache schedule: turn calibrated error curves into a SmoothCache schedule file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/errors.h"
#include "cache/schedule.h"
#include "cli/commands.h"
#include "core/error.h"
#include "io/json.h"

static const cli_opt k_opts[] = {
    {"--errors", "FILE.json", "error curves from smoothcache calibrate (required)"},
    {"--alpha", "A", "threshold: reuse while the calibrated error is <= A"},
    {"--target-macs", "F", "instead of --alpha: the smallest alpha whose schedule executes <= F of the uncached MACs"},
    {"--per-block", NULL, "one schedule per block from its own curves (default: one per component type)"},
    {"--solver", "NAME", "greedy (default: SmoothCache's scan) or dp (least summed error for the budget; needs --target-macs)"},
    {"--out", "FILE.json", "where to write the schedule (required)"},
    {"--force", NULL, "overwrite the output if it exists"},
    {"--quiet", NULL, "no summary"},
};

static const char k_epilog[] =
    "The schedule is SmoothCache's JSON ({\"attn\": [1,0,...], \"mlp\": [...]}, or \"attn-<block>\" keys\n"
    "with --per-block): use it with `generate --cache smooth:schedule=FILE`; it also loads in the\n"
    "official SmoothCache code.\n"
    "examples:\n"
    "  smoothcache schedule --errors errors.json --alpha 0.18 --out schedule.json\n"
    "  smoothcache schedule --errors errors.json --target-macs 0.5 --out schedule.json\n"
    "  smoothcache schedule --errors errors.json --solver dp --target-macs 0.5 --out schedule.json\n";

/* MACs per sample from the calibration's _meta (needed for --target-macs and the summary). */
static int meta_macs(const cache_errors *e, uint64_t *fwd, uint64_t *attn, uint64_t *mlp)
{
    const json_t *m = e->meta ? json_object_get(e->meta, "macs_per_sample") : NULL;
    const json_t *f = json_object_get(m, "forward"), *a = json_object_get(m, "attn"), *l = json_object_get(m, "mlp");
    if (!json_is_integer(f) || !json_is_integer(a) || !json_is_integer(l) || json_integer_value(f) <= 0 ||
        json_integer_value(a) < 0 || json_integer_value(l) < 0 ||
        e->depth * (json_integer_value(a) + json_integer_value(l)) > json_integer_value(f))
        return 0;
    *fwd = (uint64_t)json_integer_value(f);
    *attn = (uint64_t)json_integer_value(a);
    *mlp = (uint64_t)json_integer_value(l);
    return 1;
}

int cmd_schedule(int argc, char **argv)
{
    cli_args a = {"schedule", "Make a SmoothCache schedule from calibrated error curves (greedy scan of the paper).",
                  "--errors FILE.json (--alpha A | --target-macs F) [--per-block] --out FILE.json", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    const char *errors = cli_get(&a, "--errors"), *out = cli_get(&a, "--out");
    const int per_block = cli_get(&a, "--per-block") != NULL, force = cli_get(&a, "--force") != NULL;
    double alpha, target;
    if (cli_float(&a, "--alpha", 0.0, 1e6, NAN, &alpha) || cli_float(&a, "--target-macs", 0.0, 1.0, NAN, &target))
        return CLI_EXIT_USAGE;
    if (!errors) return cli_usage_error(&a, "--errors FILE.json is required");
    if (!out) return cli_usage_error(&a, "--out FILE.json is required");
    if (isnan(alpha) == isnan(target)) return cli_usage_error(&a, "give exactly one of --alpha and --target-macs");
    const char *solver = cli_get(&a, "--solver");
    const int dp = solver && !strcmp(solver, "dp");
    if (solver && !dp && strcmp(solver, "greedy")) return cli_usage_error(&a, "--solver: '%s' is not greedy or dp", solver);
    if (dp && isnan(target)) return cli_usage_error(&a, "--solver dp needs --target-macs (it optimises for a budget)");
    sc_set_quiet(cli_get(&a, "--quiet") != NULL);

    cache_errors e;
    cache_schedule s = {0};
    if (errors_load(errors, &e) != SC_OK) return cli_fail(&a);
    const int depth = e.depth;
    uint64_t fwd = 0, am = 0, mm = 0;
    int have_macs = meta_macs(&e, &fwd, &am, &mm);
    sc_status st = schedule_alloc(&s, depth, e.steps);
    int computed = 0;
    if (!st && dp) {
        if (!have_macs) st = err_fail(SC_ERR_FORMAT, "%s: no MAC counts in _meta: --target-macs needs a file from smoothcache calibrate", errors);
        else st = schedule_dp_for_budget(&e, target, per_block, fwd, am, mm, &s, &computed);
    } else if (!st && !isnan(target)) {
        if (!have_macs) st = err_fail(SC_ERR_FORMAT, "%s: no MAC counts in _meta: --target-macs needs a file from smoothcache calibrate", errors);
        else st = schedule_for_budget(&e, target, per_block, fwd, am, mm, &s, &alpha);
    } else if (!st) {
        st = schedule_from_errors(&e, alpha, per_block, &s);
    }
    if (!st) {
        json_t *meta = json_object();
        if (e.meta) json_object_update(meta, e.meta);
        json_object_del(meta, "classes");
        if (dp) {
            json_object_set_new(meta, "solver", json_string("dp"));
            json_object_set_new(meta, "computed", json_integer(computed));
        } else {
            json_object_set_new(meta, "solver", json_string("greedy"));
            json_object_set_new(meta, "alpha", json_real(alpha));
        }
        json_object_set_new(meta, "per_block", json_boolean(per_block));
        if (have_macs) json_object_set_new(meta, "mac_ratio", json_real(schedule_mac_ratio(&s, fwd, am, mm)));
        st = schedule_save(out, &s, meta, force);
        json_decref(meta);
    }
    if (st) {
        r = cli_fail(&a);
    } else if (!cli_get(&a, "--quiet")) {
        long comp[COMP_N] = {0};
        for (int l = 0; l < s.depth; l++)
            for (int c = 0; c < COMP_N; c++) comp[c] += schedule_computed(&s, l, (cache_comp)c);
        if (dp) fprintf(stderr, "dp, %d computed per block: computes attn %ld/%d, mlp %ld/%d evaluations", computed,
                        comp[0], s.depth * s.steps, comp[1], s.depth * s.steps);
        else fprintf(stderr, "alpha %.6g: computes attn %ld/%d, mlp %ld/%d evaluations", alpha, comp[0],
                     s.depth * s.steps, comp[1], s.depth * s.steps);
        if (have_macs) fprintf(stderr, "; MACs %.3fx uncached", schedule_mac_ratio(&s, fwd, am, mm));
        fprintf(stderr, "; wrote %s\n", out);
    }
    schedule_free(&s);
    errors_free(&e);
    return r;
}
