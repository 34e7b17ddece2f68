/* Timing you can trust: medians of paired runs, their range, "slower" below 1x, and a speed-up
 * beyond 1 / MAC ratio flagged as noise (here with an injected slow baseline). */
#include "harness.h"

#include <math.h>

#include "cli/report.h"
#include "io/json.h"
#include "cli/timing.h"

TEST(timing_median_and_paired_speedup)
{
    const double odd[3] = {3, 1, 2}, even[4] = {4, 1, 3, 2};
    CHECK(timing_median(odd, 3) == 2 && timing_median(even, 4) == 2.5 && odd[0] == 3);
    /* Pairs measured close together: a slow second pair slows both runs alike. */
    const double ref[3] = {2.0, 4.0, 2.2}, run[3] = {1.0, 2.1, 1.0};
    timing_summary t;
    timing_summarise(ref, run, 3, 0.5, &t);
    CHECK(t.repeats == 3 && t.seconds == 1.0 && t.ref_seconds == 2.2);
    CHECK_MSG(fabs(t.speedup - 2.0) < 1e-12 && fabs(t.speedup_lo - 4.0 / 2.1) < 1e-12 && fabs(t.speedup_hi - 2.2) < 1e-12,
              "speed-up %g in [%g, %g]", t.speedup, t.speedup_lo, t.speedup_hi);
    CHECK(t.limit == 2.0 && !t.impossible); /* 2.0 <= 1.1 * 2 */
    char buf[48];
    timing_speedup_text(buf, sizeof buf, 0.5);
    CHECK(!strcmp(buf, "2.00x slower than"));
    timing_speedup_text(buf, sizeof buf, 1.5);
    CHECK(!strcmp(buf, "1.50x faster than"));
    timing_speedup_text(buf, sizeof buf, 1.001);
    CHECK(!strcmp(buf, "as fast as"));
}

/* A report whose baseline was slowed by other work: 9.5x at MAC ratio 0.312 cannot come from
 * skipping 69% of the work, and every output says so. */
TEST(timing_flags_an_impossible_speedup_from_a_slow_baseline)
{
    sc_cache_stats st = {.seconds = 1.0, .macs = 312, .macs_uncached = 1000};
    float lat[4] = {1, 2, 3, 4};
    report_entry e[2];
    sc_cache_stats base = {.seconds = 9.5, .macs = 1000, .macs_uncached = 1000};
    report_fill(&e[0], "none", &base, lat, &base, lat, 4);
    report_fill(&e[1], "fora:n=3", &st, lat, &base, lat, 4);
    const double ref[3] = {9.5, 9.4, 9.6}, run[3] = {1.0, 1.0, 1.0}, self[3] = {9.5, 9.4, 9.6};
    report_timing(&e[0], ref, self, 3);
    report_timing(&e[1], ref, run, 3);
    CHECK(!e[0].timing.impossible && e[1].timing.impossible && fabs(e[1].speedup - 9.5) < 1e-12);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_print_line(f, &e[1], 50);
    report_print_table(f, e, 2, 0);
    fclose(f);
    CHECK_MSG(strstr(text, "9.50x faster than uncached (9.50 s; median of 3 paired runs, range 9.40-9.60x)"), "%s", text);
    CHECK_MSG(strstr(text, "warning: fora:n=3: a 9.50x speed-up at MAC ratio 0.312 is beyond what skipping work can "
                           "give (3.21x)"),
              "%s", text);
    CHECK_MSG(strstr(text, "9.50x!"), "%s", text);
    free(text);
    /* JSON says it too. */
    sc_gen_params p = sc_gen_params_default();
    int cls = 0;
    const sc_cond c = {.n = 1, .classes = &cls};
    p.cond = &c;
    CHECK_OK(report_write(test_path("r.json"), "m", "f32", &p, NULL, e, 2, 1));
    json_t *j;
    CHECK_OK(json_load_object_file(test_path("r.json"), 1u << 20, &j));
    const json_t *run1 = json_array_get(json_object_get(j, "runs"), 1);
    CHECK(json_is_true(json_object_get(run1, "speedup_is_noise")) &&
          json_integer_value(json_object_get(run1, "repeats")) == 3);
    json_decref(j);
    /* A plausible one is not flagged, and a slowdown reads as one. */
    const double slow[3] = {2.0, 2.0, 2.0};
    report_timing(&e[1], run, slow, 3);
    CHECK(!e[1].timing.impossible);
    f = open_memstream(&text, &len);
    report_print_line(f, &e[1], 50);
    fclose(f);
    CHECK_MSG(strstr(text, "2.00x slower than uncached") && !strstr(text, "warning"), "%s", text);
    free(text);
}
