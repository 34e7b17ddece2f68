/* The caching layer: SmoothCache's greedy schedule generation, the published schedules and their
 * MAC accounting (paper Table 1), schedule-file validation, cached sampling against the Python
 * hook-based reference, calibration against the reference's error curves, FORA, and --cache
 * specification errors. */
#include "backend/backend.h"
#include "backend/cpu/dft.h"
#include "cache/errors.h"
#include "cache/predict.h"
#include "cache/run.h"
#include "cache/schedule.h"
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "models/dit/dit.h"

/* DiT's components as the cache layer sees them. */
enum { COMP_ATTN = 0, COMP_MLP = 1, COMP_N = 2 };
static const char *const k_names[COMP_N] = {"attn", "mlp"};
static const cache_comps k_dit = {.n = COMP_N, .name = {"attn", "mlp"}, .aliases = {"attn1", "ff"},
                                  .role = {CACHE_ROLE_SELF_ATTENTION, CACHE_ROLE_MLP}};

/* ---------------------------------------------------------------- greedy scan */

/* The specification's test vector (docs/CACHING.md): T = 8, k = 3. */
static void vector_errors(cache_errors *e)
{
    static const double E1[] = {.05, .06, .07, .08, .12, .15, .20};
    static const double E2[] = {.09, .11, .13, .18, .25, .30};
    static const double E3[] = {.10, .15, .20, .28, .35};
    CHECK_OK(errors_alloc(e, 8, 3, 1, COMP_N, k_names));
    for (int i = 0; i < 7; i++) *errors_at(e, 0, 1, i) = E1[i];
    for (int i = 0; i < 6; i++) *errors_at(e, 0, 2, i) = E2[i];
    for (int i = 0; i < 5; i++) *errors_at(e, 0, 3, i) = E3[i];
}

static void check_greedy(const cache_errors *e, double alpha, const char *want)
{
    unsigned char s[64];
    char got[65];
    schedule_greedy(e, 0, alpha, s);
    for (int i = 0; i < e->steps; i++) got[i] = (char)('0' + s[i]);
    got[e->steps] = '\0';
    CHECK_MSG(!strcmp(got, want), "alpha %g: got %s, want %s", alpha, got, want);
}

TEST(cache_greedy_matches_the_specification_vector)
{
    cache_errors e;
    vector_errors(&e);
    check_greedy(&e, 0.05, "10111111");
    check_greedy(&e, 0.09, "10010111"); /* lag 2, then lag 1 */
    check_greedy(&e, 0.10, "10001111"); /* tie on <= */
    check_greedy(&e, 0.35, "10001001"); /* the last-step force cuts a lag-3 run */
    errors_free(&e);
}

TEST(cache_greedy_edge_cases_all_none_zero_k1_and_two_steps)
{
    cache_errors e;
    vector_errors(&e);
    check_greedy(&e, 1.0, "10001001");  /* everything below alpha: lag-3 runs */
    check_greedy(&e, 0.01, "11111111"); /* nothing below alpha */
    check_greedy(&e, 0.0, "11111111");  /* alpha 0 */
    errors_free(&e);
    CHECK_OK(errors_alloc(&e, 8, 1, 1, COMP_N, k_names));
    for (int i = 0; i < 7; i++) *errors_at(&e, 0, 1, i) = 0.01;
    check_greedy(&e, 0.5, "10101011"); /* k = 1: runs of one reuse at most */
    errors_free(&e);
    CHECK_OK(errors_alloc(&e, 2, 1, 1, COMP_N, k_names));
    *errors_at(&e, 0, 1, 0) = 0.0;
    check_greedy(&e, 0.5, "11"); /* T = 2: first and last both compute */
    errors_free(&e);
}

/* ---------------------------------------------------------------- published schedules */

static const char *shared_schedule(const char *name)
{
    static char p[2048];
    snprintf(p, sizeof p, "%s/smoothcache-schedules/%s", test_fixtures(), name);
    return p;
}

/* DiT-XL/2 256 px sub-layer and forward MACs (no weights needed). */
static void xl_macs(uint64_t *fwd, uint64_t *comp)
{
    dit_config c = {.depth = 28, .hidden = 1152, .tokens = 256, .in_channels = 4, .out_channels = 8, .patch = 2};
    *fwd = dit_macs_forward(&c);
    comp[COMP_ATTN] = dit_macs_attn(&c);
    comp[COMP_MLP] = dit_macs_mlp(&c);
}

static void check_published(const char *file, int steps, int computed, double table_ratio)
{
    cache_schedule s;
    CHECK_OK(schedule_alloc(&s, 28, steps, &k_dit));
    CHECK_OK(schedule_load(shared_schedule(file), "ddim", &s));
    for (int l = 0; l < 28; l++)
        for (int c = 0; c < COMP_N; c++)
            CHECK_MSG(schedule_computed(&s, l, c) == computed, "%s: block %d %s computes %d, paper %d", file, l,
                      k_names[c], schedule_computed(&s, l, c), computed);
    uint64_t f, macs[COMP_N];
    xl_macs(&f, macs);
    double r = schedule_mac_ratio(&s, f, macs);
    /* Table 1 counts every step's linear layers; ours adds the few per-step costs a skip keeps
     * (adaLN, embeddings, final layer): within 1% of the paper's TMACs ratio. */
    CHECK_MSG(fabs(r - table_ratio) < 0.01 * table_ratio, "%s: MAC ratio %.4f, paper %.4f", file, r, table_ratio);
    schedule_free(&s);
}

TEST(cache_published_schedules_reproduce_paper_table1)
{
    check_published("50-N-3-threshold-0.08.json", 50, 46, 336.37 / 365.59);
    check_published("50-N-3-threshold-0.18.json", 50, 24, 175.65 / 365.59);
    check_published("30-N-3-threshold-0.35.json", 30, 16, 117.08 / 219.36);
    check_published("70-N-3-threshold-0.08.json", 70, 34, 248.8 / 511.83);
    check_published("50-N-2-fora.json", 50, 26, 190.25 / 365.59);
    check_published("30-N-2-fora.json", 30, 16, 117.08 / 219.36);
    check_published("70-N-2-fora.json", 70, 36, 263.43 / 511.83);
}

TEST(cache_published_l2c_per_block_and_diffusers_schedules_load)
{
    cache_schedule s;
    CHECK_OK(schedule_alloc(&s, 28, 50, &k_dit));
    CHECK_OK(schedule_load(shared_schedule("50-N-2-l2c.json"), "ddim", &s));
    int differ = 0;
    for (int l = 1; l < 28; l++) differ |= memcmp(schedule_row(&s, l, COMP_ATTN), schedule_row(&s, 0, COMP_ATTN), 50) != 0;
    CHECK(differ); /* genuinely per block */
    uint64_t f, macs[COMP_N];
    xl_macs(&f, macs);
    double r = schedule_mac_ratio(&s, f, macs);
    CHECK_MSG(r > 0.5 && r < 0.95, "L2C MAC ratio %.3f", r);
    schedule_free(&s);
    /* The diffusers-named file (attn1) caches attention only. */
    CHECK_OK(schedule_alloc(&s, 28, 50, &k_dit));
    CHECK_OK(schedule_load(shared_schedule("diffuser_schedule.json"), "ddim", &s));
    CHECK(schedule_computed(&s, 5, COMP_ATTN) == 24 && schedule_computed(&s, 5, COMP_MLP) == 50);
    schedule_free(&s);
}

TEST(cache_schedules_round_trip_through_the_loader)
{
    cache_schedule s, t;
    CHECK_OK(schedule_alloc(&s, 28, 50, &k_dit));
    CHECK_OK(schedule_load(shared_schedule("50-N-2-l2c.json"), "ddim", &s));
    CHECK_OK(schedule_save(test_path("l2c.json"), &s, NULL, NULL, 0));
    CHECK_OK(schedule_alloc(&t, 28, 50, &k_dit));
    CHECK_OK(schedule_load(test_path("l2c.json"), "ddim", &t));
    CHECK(memcmp(s.s, t.s, 28 * COMP_N * 50) == 0);
    schedule_free(&t);
    schedule_free(&s);
    CHECK_OK(schedule_alloc(&s, 28, 50, &k_dit));
    CHECK_OK(schedule_load(shared_schedule("50-N-3-threshold-0.18.json"), "ddim", &s));
    CHECK_OK(schedule_save(test_path("t.json"), &s, NULL, NULL, 0));
    json_t *j;
    CHECK_OK(json_load_object_file(test_path("t.json"), 1u << 20, &j));
    CHECK(json_object_size(j) == 2 && json_is_array(json_object_get(j, "attn"))); /* official per-type form */
    json_decref(j);
    schedule_free(&s);
}

static void reject_schedule(const char *json, int depth, int steps, const char *needle)
{
    test_write(test_path("s.json"), json, strlen(json));
    cache_schedule s;
    CHECK_OK(schedule_alloc(&s, depth, steps, &k_dit));
    CHECK_ERR(schedule_load(test_path("s.json"), "ddim, 4 steps", &s), SC_ERR_FORMAT, needle);
    schedule_free(&s);
}

TEST(cache_schedule_files_are_validated)
{
    reject_schedule("{\"attn\":[1,0,2,1]}", 2, 4, "\"attn\"[2] must be the integer 0 or 1");
    reject_schedule("{\"attn\":[1,true,0,1]}", 2, 4, "must be the integer 0 or 1");
    reject_schedule("{\"attn\":[1,0.0,0,1]}", 2, 4, "must be the integer 0 or 1");
    reject_schedule("{\"attn\":[1,0,1]}", 2, 4, "has 3 entries but this generation makes 4 model evaluations (ddim, 4 steps)");
    reject_schedule("{\"attn-2\":[1,0,0,1]}", 2, 4, "block must be in 0..1");
    reject_schedule("{\"attn-x\":[1,0,0,1]}", 2, 4, "block must be in 0..1");
    reject_schedule("{\"conv\":[1,0,0,1]}", 2, 4, "unknown component \"conv\" (this model has attn (attn1), mlp (ff)");
    reject_schedule("{}", 2, 4, "non-empty JSON object");
    reject_schedule("{\"_meta\":{}}", 2, 4, "no key matches");
    reject_schedule("{\"attn2\":[1,0,0,1]}", 2, 4, "its keys name components this model does not have");
    reject_schedule("[1,0]", 2, 4, "not a JSON object");
    reject_schedule("{\"attn\":\"1001\"}", 2, 4, "is not an array");
}

/* ---------------------------------------------------------------- cached sampling */

static float *generate(sc_model *m, const char *cache, sc_cache_stats *st)
{
    static const int classes[2] = {1, 2};
    static const sc_cond cond = {.n = 2, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = 10;
    p.seed = 7;
    p.cache = cache;
    p.stats = st;
    float *out = malloc(sc_latent_bytes(m, 2));
    CHECK_OK(sc_generate(m, &p, out));
    return out;
}

/* Every policy that ends up computing every sub-layer gives the uncached latents, bit for bit. */
TEST(cache_policies_that_skip_nothing_are_bit_identical_to_uncached)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    const char *ones = "{\"attn\":[1,1,1,1,1,1,1,1,1,1],\"mlp\":[1,1,1,1,1,1,1,1,1,1]}";
    test_write(test_path("ones.json"), ones, strlen(ones));
    char sched[1200], predicted[1200];
    snprintf(sched, sizeof sched, "smooth:schedule=%s", test_path("ones.json"));
    snprintf(predicted, sizeof predicted, "smooth:schedule=%s,predict=taylor2", test_path("ones.json"));
    const char *specs[] = {"fora:n=1",          sched, predicted, "taylorseer:interval=1", "abcache:interval=1",
                           "adacache:codebook=1e9:1", "fastercache:uncond_every=1"};
    float *unc = generate(m, NULL, NULL);
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        sc_cache_stats st;
        float *out = generate(m, specs[i], &st);
        CHECK_MSG(!memcmp(out, unc, sc_latent_bytes(m, 2)), "%s is not bit-identical to uncached", specs[i]);
        CHECK_MSG(st.skipped[COMP_ATTN] == 0 && st.skipped[COMP_MLP] == 0 && st.macs == st.macs_uncached,
                  "%s skipped work", specs[i]);
        free(out);
    }
    free(unc);
    sc_model_free(m);
}

/* The policies with a Python reference (tools/reference_cache.py: SmoothCache's official helper,
 * diffusers' TaylorSeer and FasterCache hooks, on dit_a): the final latents within 1e-4, the
 * work skipped per component as the reference decides it, and a second run bit-identical to the
 * first (nothing leaks between generations). */
static const struct {
    const char *spec;      /* "%s": the fixture's schedule (short: a spec is at most 1000 bytes) */
    const char *ref;
    long skipped[COMP_N];  /* of 2 blocks x 10 evaluations per component */
    double max_mac_ratio;
} k_hook_refs[] = {
    /* attn-0 reuses 4, attn-1 reuses 4, mlp (both blocks) 5 each */
    {"smooth:schedule=%s", "cache/smooth_out.npy", {8, 10}, 1.0},
    /* n = 0,1,2 warm up, then n = 4 and 7 compute: 5 of 10 per block and component */
    {"taylorseer:interval=3,warmup=3,order=2", "cache/taylorseer_out.npy", {10, 10}, 1.0},
    /* conditional-only evaluations 1, 2, 4, 5, 7, 8; attention extrapolated at the odd ones */
    {"fastercache:uncond_every=3,uncond_until=1001,attn_until=1001", "cache/fastercache_out.npy", {6, 0}, 0.7},
};

TEST(cache_policies_match_their_python_references_and_repeat)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    float *unc = generate(m, NULL, NULL);
    for (size_t i = 0; i < sizeof k_hook_refs / sizeof *k_hook_refs; i++) {
        char spec[1000];
        snprintf(spec, sizeof spec, k_hook_refs[i].spec, test_fixture("cache/smooth_sched.json"));
        sc_cache_stats st;
        float *out = generate(m, spec, &st), *again = generate(m, spec, NULL);
        npy_array ref;
        CHECK_OK(npy_read(test_fixture(k_hook_refs[i].ref), &ref));
        CHECK(ref.numel * sizeof(float) == sc_latent_bytes(m, 2));
        const double e = test_rel_err(out, ref.data, ref.numel);
        CHECK_MSG(e <= 1e-4, "%s: relative error %.3g against its reference", spec, e);
        /* The reference is cached: uncached latents lie well outside the tolerance. */
        const double d = test_rel_err(unc, ref.data, ref.numel);
        CHECK_MSG(d > 1e-3, "%s: uncached latents are %.3g from the reference: it is not really cached", spec, d);
        for (int c = 0; c < COMP_N; c++)
            CHECK_MSG(st.skipped[c] == k_hook_refs[i].skipped[c] && st.computed[c] + st.skipped[c] == 20,
                      "%s: %s skipped %ld (want %ld), computed %ld", spec, k_names[c], st.skipped[c],
                      k_hook_refs[i].skipped[c], st.computed[c]);
        CHECK_MSG(st.macs < k_hook_refs[i].max_mac_ratio * st.macs_uncached && st.seconds > 0, "%s: MACs %.3g of %.3g",
                  spec, st.macs, st.macs_uncached);
        CHECK_MSG(!memcmp(out, again, sc_latent_bytes(m, 2)), "%s: a second run differs", spec);
        free(out);
        free(again);
        npy_free(&ref);
    }
    free(unc);
    sc_model_free(m);
}

TEST(cache_fora_computes_every_nth_and_the_last)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    sc_cache_stats st;
    float *out = generate(m, "fora:n=3", &st);
    /* n = 0, 3, 6, 9 compute (9 is also the last): 4 of 10 per block and component. */
    CHECK(st.computed[COMP_ATTN] == 2 * 4 && st.skipped[COMP_ATTN] == 2 * 6);
    CHECK(st.computed[COMP_MLP] + st.skipped[COMP_MLP] == 2 * 10);
    float *again = generate(m, "fora:n=3", NULL);
    CHECK(memcmp(out, again, sc_latent_bytes(m, 2)) == 0); /* nothing leaks between generations */
    free(out);
    free(again);
    sc_model_free(m);
}

static void check_calibration(const char *spec, const char *ref_file)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    sc_calibration *cal;
    CHECK_OK(sc_calibration_new(spec, &cal));
    int classes[2] = {1, 2};
    const sc_cond cond = {.n = 2, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = 10;
    p.seed = 7;
    p.calibration = cal;
    float *out = malloc(sc_latent_bytes(m, 2));
    CHECK_OK(sc_generate(m, &p, out));
    CHECK(sc_calibration_samples(cal) == 2);
    CHECK_OK(sc_calibration_save(cal, test_path("errors.json"), 0));
    cache_errors mine, ref;
    CHECK_OK(errors_load(test_path("errors.json"), &mine));
    CHECK_OK(errors_load(test_fixture(ref_file), &ref));
    CHECK(mine.steps == 10 && mine.k == 3 && mine.depth == 2 && mine.has_blocks);
    double worst = 0;
    for (int cv = 0; cv < COMP_N + 2 * COMP_N; cv++)
        for (int j = 1; j <= 3; j++)
            for (int i = 0; i < 10 - j; i++) {
                double a = *errors_at(&mine, cv, j, i), b = *errors_at(&ref, cv, j, i);
                worst = fmax(worst, fabs(a - b) / fmax(fabs(b), 1e-12));
            }
    CHECK_MSG(worst <= 1e-4, "calibration differs from the reference by %.3g (relative)", worst);
    errors_free(&mine);
    errors_free(&ref);
    free(out);
    sc_calibration_free(cal);
    sc_model_free(m);
}

TEST(cache_calibration_mean_matches_the_hook_reference)
{
    check_calibration("smooth:k=3,averaging=mean", "cache/calib_mean.json");
}
TEST(cache_calibration_pooled_matches_the_hook_reference)
{
    check_calibration("smooth:k=3,averaging=pooled", "cache/calib_pooled.json");
}
/* The default is the official calibrator's formula: one ratio over all samples pooled. */
TEST(cache_calibration_default_pools_like_the_official_calibrator)
{
    check_calibration("smooth", "cache/calib_pooled.json");
}

TEST(cache_schedule_from_errors_drives_generation)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    char spec[1200];
    snprintf(spec, sizeof spec, "smooth:errors=%s,alpha=0.25", test_fixture("cache/calib_mean.json"));
    sc_cache_stats st;
    float *out = generate(m, spec, &st);
    CHECK(st.skipped[COMP_ATTN] > 0 && st.computed[COMP_ATTN] + st.skipped[COMP_ATTN] == 20);
    free(out);
    snprintf(spec, sizeof spec, "smooth:errors=%s,alpha=0.25,per_block=1", test_fixture("cache/calib_mean.json"));
    out = generate(m, spec, &st);
    CHECK(st.computed[COMP_MLP] + st.skipped[COMP_MLP] == 20);
    free(out);
    sc_model_free(m);
}

TEST(cache_target_macs_picks_the_smallest_sufficient_alpha)
{
    cache_errors e;
    CHECK_OK(errors_load(test_fixture("cache/calib_mean.json"), &e));
    cache_schedule s;
    CHECK_OK(schedule_alloc(&s, 2, 10, &k_dit));
    double alpha;
    const uint64_t macs[COMP_N] = {200, 200};
    CHECK_OK(schedule_for_budget(&e, 0.8, 0, 1000, macs, &s, &alpha));
    CHECK(schedule_mac_ratio(&s, 1000, macs) <= 0.8);
    /* Any smaller measured alpha gives a schedule above the budget. */
    cache_schedule t;
    CHECK_OK(schedule_alloc(&t, 2, 10, &k_dit));
    CHECK_OK(schedule_from_errors(&e, alpha * 0.999, 0, &t));
    CHECK(schedule_mac_ratio(&t, 1000, macs) > 0.8);
    CHECK_ERR(schedule_for_budget(&e, 0.05, 0, 1000, macs, &s, &alpha), SC_ERR_ARG, "no schedule reaches 0.050");
    schedule_free(&t);
    schedule_free(&s);
    errors_free(&e);
}

/* ---------------------------------------------------------------- --cache specifications */

TEST(cache_spec_errors_are_specific)
{
    cache_run *r;
    CHECK_ERR(cache_run_create("teleport", &r), SC_ERR_ARG, "unknown policy 'teleport' (known: none, fora, smooth");
    CHECK_ERR(cache_run_create("fora:m=2", &r), SC_ERR_ARG, "unknown option 'm'");
    CHECK_ERR(cache_run_create("fora:n=0", &r), SC_ERR_ARG, "n=0 is not an integer in [1, 1000]");
    CHECK_ERR(cache_run_create("fora:n=2x", &r), SC_ERR_ARG, "n=2x is not an integer");
    CHECK_ERR(cache_run_create("fora:n=2,n=3", &r), SC_ERR_ARG, "given twice");
    CHECK_ERR(cache_run_create("fora:", &r), SC_ERR_ARG, "nothing after ':'");
    CHECK_ERR(cache_run_create("fora:n", &r), SC_ERR_ARG, "expected key=value");
    CHECK_ERR(cache_run_create("smooth", &r), SC_ERR_ARG, "either schedule=FILE or errors=FILE,alpha=A");
    CHECK_ERR(cache_run_create("smooth:errors=x.json", &r), SC_ERR_ARG, "option 'alpha' is required");
    CHECK_ERR(cache_run_create("smooth:errors=x.json,alpha=nan", &r), SC_ERR_ARG, "alpha=nan is not a number");
    CHECK_ERR(cache_run_create("smooth:schedule=/nonexistent/s.json", &r), SC_ERR_IO, "cannot open");
    CHECK_OK(cache_run_create("fora:n=2", &r));
    cache_run_free(r);
}

TEST(cache_schedule_length_mismatch_fails_the_generation)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    char spec[2200];
    snprintf(spec, sizeof spec, "smooth:schedule=%s", shared_schedule("50-N-3-threshold-0.08.json"));
    int classes[1] = {1};
    const sc_cond cond = {.n = 1, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = 10;
    p.cache = spec;
    float *out = malloc(sc_latent_bytes(m, 1));
    CHECK_ERR(sc_generate(m, &p, out), SC_ERR_FORMAT, "has 50 entries but this generation makes 10 model evaluations (ddim, 10 steps)");
    free(out);
    sc_model_free(m);
}

/* ---------------------------------------------------------------- predictors */

TEST(cache_predictors_extrapolate_polynomials_exactly)
{
    /* F(n) = 1 + 2n - 0.5n^2 per element (times the element index + 1): a quadratic. Lagrange
     * through 3 points and Taylor of order 2 from unit-spaced samples are exact on it. */
    predictor lag, tay;
    const cache_gen g = {.be = backend_cpu_f32()};
    CHECK_OK(predict_init(&lag, &g, PREDICT_LAGRANGE, 2, 1, 4));
    CHECK_OK(predict_init(&tay, &g, PREDICT_TAYLOR, 2, 1, 4));
    float f[4], got[4];
    for (int n = 0; n < 3; n++) {
        for (int e = 0; e < 4; e++) f[e] = (float)((e + 1) * (1 + 2 * n - 0.5 * n * n));
        predict_update(&lag, 0, 2 * n, f); /* Lagrange at steps 0, 2, 4 */
    }
    predict_eval(&lag, 0, 7, got); /* n = 3.5 in sample units */
    for (int e = 0; e < 4; e++) CHECK_MSG(fabs(got[e] - (e + 1) * (1 + 7 - 0.5 * 12.25)) < 1e-4, "lagrange %g", got[e]);
    /* Taylor with divided differences: after samples at 0, 1, 2 the factors are
     * D0 = F(2), D1 = F(2) - F(1), D2 = (F(2) - F(1)) - (F(1) - F(0)); at q = 1:
     * D0 + D1 + D2 / 2 (TaylorSeer's expansion, exact for the linear part only). */
    for (int n = 0; n < 3; n++) {
        for (int e = 0; e < 4; e++) f[e] = (float)(1 + 2 * n - 0.5 * n * n);
        predict_update(&tay, 0, n, f);
    }
    predict_eval(&tay, 0, 3, got);
    double F0 = 1, F1 = 2.5, F2 = 3, want = F2 + (F2 - F1) + ((F2 - F1) - (F1 - F0)) / 2;
    CHECK_MSG(fabs(got[0] - want) < 1e-6, "taylor %g, want %g", got[0], want);
    predict_free(&lag);
    predict_free(&tay);
    predict_kind k;
    int o;
    CHECK_OK(predict_parse("ab3", &k, &o));
    CHECK(k == PREDICT_LAGRANGE && o == 2);
    CHECK_ERR(predict_parse("taylor9", &k, &o), SC_ERR_ARG, "taylor1..taylor4");
}

TEST(cache_abcache_and_smooth_prediction_account_and_repeat)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    sc_cache_stats st;
    float *a = generate(m, "abcache:interval=2,k=3", &st);
    /* warm-up 0,1,2 then every 2nd: 3, 5, 7, 9 compute: 7 of 10. */
    CHECK(st.computed[COMP_MLP] == 2 * 7 && st.skipped[COMP_MLP] == 2 * 3);
    float *b = generate(m, "abcache:interval=2,k=3", NULL);
    CHECK(memcmp(a, b, sc_latent_bytes(m, 2)) == 0);
    char spec[1200];
    snprintf(spec, sizeof spec, "smooth:schedule=%s,predict=ab2", test_fixture("cache/smooth_sched.json"));
    float *c = generate(m, spec, &st), *u = generate(m, NULL, NULL);
    CHECK(st.skipped[COMP_ATTN] == 8 && st.skipped[COMP_MLP] == 10);
    CHECK(test_rel_err(c, u, sc_latent_bytes(m, 2) / sizeof(float)) < 0.5);
    CHECK_ERR(cache_run_create("abcache:k=3,warmup=2", &(cache_run *){NULL}), SC_ERR_ARG, "warmup=2 must be at least k=3");
    float *out = malloc(sc_latent_bytes(m, 2));
    static const int classes[2] = {1, 2};
    const sc_cond cond = {.n = 2, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = 4;
    p.cache = "taylorseer:comps=ffn";
    CHECK_ERR(sc_generate(m, &p, out), SC_ERR_ARG, "comps=ffn: \"ffn\" is not a component of this model");
    p.cache = "taylorseer:comps=mlp/attn1";
    CHECK_OK(sc_generate(m, &p, out)); /* names and their aliases */
    free(out);
    free(a); free(b); free(c); free(u);
    sc_model_free(m);
}

/* ---------------------------------------------------------------- optimal schedules */

/* Summed error of a schedule on curve 0, or INFINITY when a run exceeds the measured lags. */
static double schedule_cost(const cache_errors *e, const unsigned char *s)
{
    double c = 0;
    int last = 0;
    for (int i = 1; i < e->steps; i++) {
        if (s[i]) {
            last = i;
            continue;
        }
        if (i - last > e->k) return INFINITY;
        c += *errors_at(e, 0, i - last, last);
    }
    return c;
}

TEST(cache_dp_schedule_is_optimal_by_exhaustive_search)
{
    cache_errors e;
    vector_errors(&e); /* T = 8, k = 3 */
    for (int g = 2; g <= 8; g++) {
        double best = INFINITY;
        for (int mask = 0; mask < 64; mask++) { /* evaluations 1..6 free; 0 and 7 compute */
            unsigned char s[8] = {1, 0, 0, 0, 0, 0, 0, 1};
            int count = 2;
            for (int b = 0; b < 6; b++)
                if (mask >> b & 1) s[1 + b] = 1, count++;
            if (count == g) best = fmin(best, schedule_cost(&e, s));
        }
        unsigned char s[8];
        double cost;
        sc_status st = schedule_dp(&e, 0, g, s, &cost);
        if (isinf(best)) {
            CHECK_MSG(st == SC_ERR_ARG, "g = %d should be infeasible", g);
            continue;
        }
        CHECK_MSG(st == SC_OK, "g = %d: %s", g, sc_last_error());
        int count = 0;
        for (int i = 0; i < 8; i++) count += s[i];
        CHECK(count == g && s[0] && s[7]);
        CHECK_MSG(fabs(cost - best) < 1e-12 && fabs(schedule_cost(&e, s) - best) < 1e-12,
                  "g = %d: dp cost %g, exhaustive best %g", g, cost, best);
    }
    errors_free(&e);
}

TEST(cache_dp_for_budget_beats_or_ties_greedy_at_equal_macs)
{
    cache_errors e;
    CHECK_OK(errors_load(test_fixture("cache/calib_mean.json"), &e));
    cache_schedule g, d;
    CHECK_OK(schedule_alloc(&g, 2, 10, &k_dit));
    CHECK_OK(schedule_alloc(&d, 2, 10, &k_dit));
    double alpha;
    const uint64_t macs[COMP_N] = {200, 200};
    CHECK_OK(schedule_for_budget(&e, 0.7, 0, 1000, macs, &g, &alpha));
    int computed;
    CHECK_OK(schedule_dp_for_budget(&e, 0.7, 0, 1000, macs, &d, &computed));
    CHECK(schedule_mac_ratio(&d, 1000, macs) <= 0.7);
    /* Per component, the DP schedule's error is no worse than greedy's at the same count. */
    for (int c = 0; c < COMP_N; c++) {
        int n = schedule_computed(&g, 0, c);
        unsigned char s[10];
        double dp_cost, greedy_cost = 0;
        int last = 0;
        for (int i = 1; i < 10; i++) {
            if (schedule_row(&g, 0, c)[i]) last = i;
            else greedy_cost += *errors_at(&e, c, i - last, last);
        }
        CHECK_OK(schedule_dp(&e, c, n, s, &dp_cost));
        CHECK_MSG(dp_cost <= greedy_cost + 1e-12, "%s: dp %g > greedy %g", k_names[c], dp_cost, greedy_cost);
    }
    schedule_free(&g);
    schedule_free(&d);
    errors_free(&e);
}

/* The sparsest schedule, one computation every k + 1 evaluations, is within the search when
 * k + 1 divides T - 1 (T = 9, k = 3: 0, 4 and 8 compute). */
TEST(cache_dp_for_budget_reaches_the_sparsest_schedule)
{
    cache_errors e;
    CHECK_OK(errors_alloc(&e, 9, 3, 1, COMP_N, k_names));
    for (int j = 1; j <= 3; j++)
        for (int i = 0; i < 9 - j; i++) *errors_at(&e, 0, j, i) = *errors_at(&e, 1, j, i) = 0.01 * j;
    cache_schedule d;
    CHECK_OK(schedule_alloc(&d, 1, 9, &k_dit));
    const uint64_t macs[COMP_N] = {500, 500};
    int computed = 0;
    CHECK_OK(schedule_dp_for_budget(&e, 0.34, 0, 1000, macs, &d, &computed));
    CHECK_MSG(computed == 3, "computed %d, the sparsest schedule computes 3", computed);
    for (int c = 0; c < COMP_N; c++)
        for (int i = 0; i < 9; i++) CHECK(schedule_row(&d, 0, c)[i] == (i % 4 == 0));
    schedule_free(&d);
    errors_free(&e);
}

/* A file of the wrong kind says what it is and where it goes. */
TEST(cache_files_of_the_wrong_kind_are_named_for_what_they_are)
{
    cache_schedule s;
    CHECK_OK(schedule_alloc(&s, 2, 10, &k_dit));
    CHECK_ERR(schedule_load(test_fixture("cache/calib_mean.json"), "ddim, 10 steps", &s), SC_ERR_FORMAT,
              "this is a calibration file, not a schedule");
    schedule_free(&s);
    cache_errors e;
    json_t *j = json_loads("{\"_meta\": {\"policy\": \"teacache\"}, \"coef\": [0, 0, 0, 1, 0]}", 0, NULL);
    CHECK(j != NULL);
    CHECK_ERR(errors_from_object(j, "tea.json", &e), SC_ERR_FORMAT, "a calibration for teacache, not SmoothCache's");
    json_decref(j);
}

/* ---------------------------------------------------------------- adacache */

TEST(cache_adacache_rate_follows_the_codebook)
{
    extern const cache_policy_ops cache_adacache;
    cache_spec spec;
    CHECK_OK(spec_parse("adacache:probe=0", &spec));
    void *st;
    CHECK_OK(cache_adacache.create(&spec, &st));
    cache_gen g = {.steps = 10, .depth = 2, .rows = 1, .images = 1, .tokens = 1, .hidden = 4, .sampler = "ddim",
                   .comp = k_dit, .be = backend_cpu_f32()};
    CHECK_OK(cache_adacache.begin(st, &g)); /* 10 steps: the "fast" codebook 0.08:6/0.16:5/... */
    float zero[4] = {0}, one[4] = {1, 1, 1, 1}, more[4] = {1.1f, 1.1f, 1.1f, 1.1f};
    cache_view v0 = {.h = zero, .rows = 1, .tokens = 1, .hidden = 4}, v1 = v0, v2 = v0;
    v1.h = one;
    v2.h = more;
    CHECK(cache_adacache.boundary(st, 0, 0, &v0) == 0); /* evaluation 0 computes; probe input 0 */
    CHECK(cache_adacache.boundary(st, 0, 1, &v1) == 1); /* residual 1: no history, rate 1 */
    CHECK(cache_adacache.boundary(st, 1, 0, &v0) == 0);
    CHECK(cache_adacache.boundary(st, 1, 1, &v2) == 1); /* change 0.1/1 / rate 1 = 0.1 -> rate 5 */
    for (int n = 2; n < 6; n++) CHECK_MSG(cache_adacache.boundary(st, n, 0, &v0) == 2, "evaluation %d should skip", n);
    CHECK(cache_adacache.boundary(st, 6, 0, &v0) == 0);
    cache_adacache.end(st);
    cache_adacache.destroy(st);
    cache_run *r;
    CHECK_ERR(cache_run_create("adacache:codebook=0.2:3/0.1:2", &r), SC_ERR_ARG, "must be ascending");
}

TEST(cache_adacache_skips_whole_stacks_at_the_codebook_rate)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    sc_cache_stats st;
    float *c = generate(m, "adacache:codebook=1e9:3", &st);
    CHECK(st.skipped[COMP_ATTN] > 0 && st.skipped[COMP_ATTN] % 2 == 0); /* whole stacks of 2 blocks */
    CHECK(st.computed[COMP_ATTN] + st.skipped[COMP_ATTN] == 20);
    free(c);
    sc_model_free(m);
}

/* ---------------------------------------------------------------- fastercache */

/* Every coefficient against the definition, for the plain DFT (6 x 10), the radix-2 FFT
 * (8 x 16, 1 x 32) and the two mixed (16 x 6). */
static void check_dft(int H, int W)
{
    const int n = H * W;
    float *x = malloc(sizeof(float) * n), *back = malloc(sizeof(float) * n);
    double *spec = malloc(sizeof(double) * 2 * n), *work = malloc(sizeof(double) * dft_work_doubles(H, W));
    for (int i = 0; i < n; i++) x[i] = (float)sin(0.7 * i) + (float)(i % 7) * 0.1f;
    dft2_real(x, H, W, spec, work);
    for (int u = 0; u < H; u++)
        for (int v = 0; v < W; v++) {
            double re = 0, im = 0;
            for (int y = 0; y < H; y++)
                for (int k = 0; k < W; k++) {
                    double a = -2 * 3.14159265358979323846 * ((double)u * y / H + (double)v * k / W);
                    re += x[y * W + k] * cos(a);
                    im += x[y * W + k] * sin(a);
                }
            CHECK_MSG(fabs(spec[2 * (u * W + v)] - re) < 1e-9 && fabs(spec[2 * (u * W + v) + 1] - im) < 1e-9,
                      "%dx%d (%d, %d): %g%+gi vs %g%+gi", H, W, u, v, spec[2 * (u * W + v)],
                      spec[2 * (u * W + v) + 1], re, im);
        }
    idft2_real(spec, H, W, back, work);
    for (int i = 0; i < n; i++) CHECK_MSG(fabs(back[i] - x[i]) < 1e-6, "%dx%d %d: %g vs %g", H, W, i, back[i], x[i]);
    /* The paired transforms give both planes' spectra and both planes back. */
    float *y = malloc(sizeof(float) * n), *back2 = malloc(sizeof(float) * n);
    double *sx = malloc(sizeof(double) * 2 * n), *sy = malloc(sizeof(double) * 2 * n);
    for (int i = 0; i < n; i++) y[i] = (float)cos(1.3 * i) - (float)(i % 5) * 0.2f;
    dft2_real(y, H, W, spec, work);
    dft2_real_pair(x, y, H, W, sx, sy, work);
    double *one = malloc(sizeof(double) * 2 * n);
    dft2_real(x, H, W, one, work);
    for (int i = 0; i < 2 * n; i++)
        CHECK_MSG(fabs(sx[i] - one[i]) < 1e-9 && fabs(sy[i] - spec[i]) < 1e-9, "%dx%d pair %d: %g %g vs %g %g", H, W,
                  i, sx[i], sy[i], one[i], spec[i]);
    idft2_real_pair(sx, sy, H, W, back, back2, work);
    for (int i = 0; i < n; i++)
        CHECK_MSG(fabs(back[i] - x[i]) < 1e-6 && fabs(back2[i] - y[i]) < 1e-6, "%dx%d pair %d", H, W, i);
    free(x); free(back); free(spec); free(work); free(y); free(back2); free(sx); free(sy); free(one);
}

TEST(cache_dft_round_trips_and_matches_the_definition)
{
    check_dft(6, 10);
    check_dft(8, 16);
    check_dft(1, 32);
    check_dft(16, 6);
}


/* store=bf16 keeps the stored outputs in bf16: a reuse then adds the bf16-rounded output, so the
 * result moves by about bf16's precision (2^-9 relative) of what was reused, never more; a policy
 * that never reuses is unchanged, and any other value of store is refused. */
TEST(cache_store_bf16_rounds_only_what_is_reused)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    const size_t n = sc_latent_bytes(m, 2) / sizeof(float);
    sc_cache_stats st;
    float *f32 = generate(m, "fora:n=2", &st);
    float *b16 = generate(m, "fora:n=2,store=bf16", &st);
    float *plain = generate(m, "none", &st);
    const double moved = test_rel_err(b16, f32, n), cached = test_rel_err(f32, plain, n);
    CHECK_MSG(moved > 0 && moved < 0.05 * cached, "store=bf16 moved the result by %.3g (caching itself: %.3g)", moved,
              cached);
    float *none16 = generate(m, "none:store=bf16", &st);
    CHECK(!memcmp(none16, plain, n * sizeof(float)));
    sc_gen_params p = sc_gen_params_default();
    static const int classes[1] = {1};
    static const sc_cond cond = {.n = 1, .classes = classes};
    p.cond = &cond;
    p.steps = 4;
    p.cache = "fora:store=f16";
    CHECK_ERR(sc_generate(m, &p, f32), SC_ERR_ARG, "store='f16' is not f32 or bf16");
    free(f32), free(b16), free(plain), free(none16);
    sc_model_free(m);
}
