/* Work bounded by what the input holds: a calibration file's claimed counts never size an
 * allocation before its content is checked, and schedule searches refuse, with their estimate,
 * what would take longer than SCHEDULE_SEARCH_LIMIT instead of running for hours. */
#include <sys/resource.h>
#include <time.h>

#include "cache/errors.h"
#include "harness.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static long peak_mb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss / 1024;
}

/* {"_meta": {...}, "<comp>": [k lags of T - j values], "per_block": {blocks x comps}}. */
static void write_calibration(const char *path, int T, int k, int comps, int blocks, int values_per_lag_cut)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"_meta\": {\"blocks\": %d, \"steps\": %d, \"k\": %d, "
               "\"macs_per_sample\": {\"forward\": 4000000, \"attn\": 1000, \"mlp\": 1000}},\n",
            blocks ? blocks : 1024, T, k);
    const char *names[2] = {"attn", "mlp"};
    for (int b = -1; b < blocks; b++) {
        if (b == 0) fprintf(f, ", \"per_block\": {");
        for (int c = 0; c < comps; c++) {
            if (b < 0) fprintf(f, "%s\"%s\": [", c ? ", " : "", names[c]);
            else fprintf(f, "%s\"%s-%d\": [", b || c ? ", " : "", names[c], b);
            for (int j = 1; j <= k; j++) {
                const int n = values_per_lag_cut ? 1 : T - j;
                fprintf(f, "%s[", j > 1 ? "," : "");
                for (int i = 0; i < n; i++) fprintf(f, "%s%.4f", i ? "," : "", 1e-6 * (double)(((long)i * 7919 + (long)j * 104729 + (long)(b + 1) * 15485863 + c) % 1000003));
                fprintf(f, "]");
            }
            fprintf(f, "]");
        }
    }
    fprintf(f, "%s}\n", blocks > 0 ? "}" : "");
    fclose(f);
}

TEST(bounded_claimed_counts_never_size_an_allocation)
{
    /* 1024 blocks claimed, 16 lags of one value each where 999 are due: a few KB that used to make
     * the loader allocate and fill gigabytes before noticing the rows are short. */
    write_calibration(test_path("short.json"), 1000, 16, 2, 0, 1);
    cache_errors e;
    const double t0 = now();
    CHECK_ERR(errors_load(test_path("short.json"), &e), SC_ERR_FORMAT, "\"attn\" has 16 lags over 2 evaluations");
    /* 999 lags of [] over 1000 evaluations. */
    FILE *f = fopen(test_path("lags.json"), "w");
    fprintf(f, "{\"attn\": [[");
    for (int i = 0; i < 999; i++) fprintf(f, "%s0", i ? "," : "");
    fprintf(f, "]");
    for (int j = 2; j <= 999; j++) fprintf(f, ",[]");
    fprintf(f, "]}");
    fclose(f);
    CHECK_ERR(errors_load(test_path("lags.json"), &e), SC_ERR_FORMAT, "has 999 lags over 1000 evaluations; a calibration has 1..16 lags");
    /* Whole component curves, a short per-block one: refused before the per-block curves exist. */
    const char *pbshort = "{\"attn\": [[0.1, 0.2, 0.3], [0.1, 0.2]], \"per_block\": "
                          "{\"attn-0\": [[0.1, 0.2, 0.3], [0.1]]}}";
    test_write(test_path("pbshort.json"), pbshort, strlen(pbshort));
    CHECK_ERR(errors_load(test_path("pbshort.json"), &e), SC_ERR_FORMAT, "\"attn-0\" lag 2 must have 2 values");
    write_calibration(test_path("pb.json"), 50, 3, 2, 3, 0);
    CHECK_OK(errors_load(test_path("pb.json"), &e)); /* an intact per-block file loads */
    CHECK(e.has_blocks && e.depth == 3 && e.steps == 50 && e.k == 3);
    errors_free(&e);
    /* Without per_block, the claimed 1024 blocks are recorded, not stored. */
    write_calibration(test_path("comp.json"), 50, 3, 2, 0, 0);
    CHECK_OK(errors_load(test_path("comp.json"), &e));
    CHECK(!e.has_blocks && e.depth == 1024);
    errors_free(&e);
    CHECK_MSG(now() - t0 < 5 && peak_mb() < 400, "%.1f s, %ld MB", now() - t0, peak_mb());
}

TEST(bounded_schedule_searches_state_their_limit)
{
    /* 1000 evaluations, 16 lags, 60 per-block curves (about 2 MB): the per-block DP and budget
     * searches are refused with their estimate at once; the per-component ones run. */
    write_calibration(test_path("big.json"), 1000, 16, 1, 60, 0);
    sc_schedule_opts o = {.alpha = NAN, .target_macs = 0.9, .per_block = 1, .solver = SC_SOLVER_DP};
    double t0 = now();
    CHECK_ERR(sc_schedule_make(test_path("big.json"), &o, test_path("s.json"), 1, NULL), SC_ERR_ARG,
              "the DP solver over this calibration would take about 2.04e+09 steps, more than the limit of 2e+09");
    o.solver = SC_SOLVER_GREEDY;
    CHECK_ERR(sc_schedule_make(test_path("big.json"), &o, test_path("s.json"), 1, NULL), SC_ERR_ARG,
              "the compute-budget search over this calibration would take about");
    CHECK_MSG(now() - t0 < 20, "refusing took %.1f s", now() - t0);
    /* The same file's per-component curve: one curve in use for all 60 blocks, searched once, not
     * once per block. */
    o.per_block = 0;
    o.target_macs = 0.99;
    t0 = now();
    sc_schedule_summary sum;
    CHECK_OK(sc_schedule_make(test_path("big.json"), &o, test_path("s.json"), 1, &sum));
    o.solver = SC_SOLVER_DP;
    CHECK_OK(sc_schedule_make(test_path("big.json"), &o, test_path("d.json"), 1, &sum));
    CHECK(sum.depth == 60 && sum.steps == 1000);
    CHECK_MSG(now() - t0 < 60, "the per-component searches took %.1f s", now() - t0);
}
