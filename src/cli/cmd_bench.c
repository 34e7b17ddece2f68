/* smoothcache bench: the uncached baseline and every given cache policy on the same seeds, in
 * one process, as one table (policy, speed-up, MAC ratio, quality against the baseline). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/report.h"
#include "io/file.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS,
    CLI_SAMPLING_OPTS,
    {"--cache", "SPEC...", "a policy to compare (repeat the flag for several)"},
    {"--repeat", "R", "runs per policy, the fastest counts (default 1)"},
    {"--json", "FILE.json", "also write the table as JSON"},
    {"--force", NULL, "overwrite the JSON output if it exists"},
    {"--quiet", NULL, "no progress line"},
};

static const char k_epilog[] =
    "The baseline (no cache) runs first, after a one-step warm-up; every policy then runs on the same\n"
    "classes and seeds. Speed-up is baseline time / policy time in this process.\n"
    "example:\n"
    "  smoothcache bench --model DiT-XL-2-256/ --class 88,207 --steps 50 \\\n"
    "      --cache fora:n=2 --cache smooth:schedule=50-N-3-threshold-0.18.json\n";

int cmd_bench(int argc, char **argv)
{
    cli_args a = {"bench", "Compare cache policies against the uncached baseline on the same seeds.",
                  "--model PATH --cache SPEC [--cache SPEC ...] [sampling options]", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_gen_params p = sc_gen_params_default();
    int *classes = NULL, n = 0, n_specs;
    long repeat;
    const char *const *specs = cli_get_all(&a, &n_specs);
    const char *json = cli_get(&a, "--json");
    const int quiet = cli_get(&a, "--quiet") != NULL, force = cli_get(&a, "--force") != NULL;
    if ((r = cli_sampling(&a, &p, &classes, &n)) || cli_int(&a, "--repeat", 1, 100, 1, &repeat)) {
        free(classes);
        return r ? r : CLI_EXIT_USAGE;
    }
    if (!n_specs) {
        free(classes);
        return cli_usage_error(&a, "give at least one --cache SPEC to compare against the baseline");
    }
    if (!classes) {
        classes = calloc(1, sizeof *classes);
        n = 1;
    }
    sc_set_quiet(quiet);
    sc_model *m = NULL;
    float *base = NULL, *lat = NULL;
    report_entry *rows = calloc((size_t)n_specs + 1, sizeof *rows);
    if (json && file_out_check(json, force)) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m, 1))) goto done;
    const size_t bytes = sc_latent_bytes(m, n);
    base = malloc(bytes);
    lat = malloc(bytes);
    p.classes = classes;
    p.n_images = n;
    cli_progress ps = {.tty = !quiet && isatty(2)};
    p.progress = cli_progress_fn;
    p.progress_user = &ps;
    /* Warm-up: one step touches every weight page and creates every primitive once. */
    sc_gen_params w = p;
    w.steps = 1;
    w.progress = NULL;
    if (sc_generate(m, &w, lat) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    sc_cache_stats st, best_base = {0};
    for (int i = 0; i <= n_specs; i++) {
        p.cache = i ? specs[i - 1] : "none";
        p.stats = &st;
        ps.label = p.cache;
        sc_cache_stats best = {0};
        for (long k = 0; k < repeat; k++) {
            if (sc_generate(m, &p, i ? lat : base) != SC_OK) {
                r = cli_fail(&a);
                goto done;
            }
            if (k == 0 || st.seconds < best.seconds) best = st;
        }
        if (i == 0) best_base = best;
        report_fill(&rows[i], p.cache, &best, i ? lat : base, &best_base, base, bytes / sizeof(float));
    }
    printf("%s, %s, %d steps, cfg %g, %d image(s), seed %llu\n", cli_get(&a, "--model"), sc_sampler_name(p.sampler),
           p.steps, (double)p.cfg, n, (unsigned long long)p.seed);
    report_print_table(stdout, rows, n_specs + 1);
    if (json && report_write(json, cli_get(&a, "--model"), &p, rows, n_specs + 1, force) != SC_OK) r = cli_fail(&a);
done:
    free(rows);
    free(base);
    free(lat);
    sc_model_free(m);
    free(classes);
    return r;
}
