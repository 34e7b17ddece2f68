/* smoothcache schedule: turn calibrated error curves into a SmoothCache schedule file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

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
    if ((r = cli_path_ext(&a, "--out", ".json"))) return r;
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
    const sc_schedule_opts o = {.alpha = alpha, .target_macs = target, .per_block = per_block,
                                .solver = dp ? SC_SOLVER_DP : SC_SOLVER_GREEDY};
    sc_schedule_summary sum;
    if (sc_schedule_make(errors, &o, out, force, &sum) != SC_OK) {
        r = cli_fail(&a);
        cli_where_it_goes(&a, "--errors", errors);
        return r;
    }
    if (!cli_get(&a, "--quiet")) {
        if (dp) fprintf(stderr, "dp, %d computed per block: computes", sum.computed);
        else fprintf(stderr, "alpha %.6g: computes", sum.alpha);
        for (int c = 0; c < sum.n_components; c++)
            fprintf(stderr, "%s %s %ld/%d", c ? "," : "", sum.components[c], sum.computes[c], sum.depth * sum.steps);
        fprintf(stderr, " evaluations");
        if (!isnan(sum.mac_ratio)) fprintf(stderr, "; MACs %.3fx uncached", sum.mac_ratio);
        fprintf(stderr, "; wrote %s\n", out);
    }
    return 0;
}
