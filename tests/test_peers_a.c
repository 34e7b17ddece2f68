/* The step-level peer policies teacache, magcache, fbcache and dbcache: their decision rules on
 * synthetic residual streams driven through the real cache run (hand-computed decisions), the
 * polynomial fit, option errors, cached sampling (accounting, determinism, a disabled policy is
 * bit-identical to none), the calibration observers, and the decisions and final latents of
 * the references in tests/fixtures/peers_a (tools/reference_peers_a.py: diffusers' own
 * First-Block-Cache and MagCache hooks, transcriptions of TeaCache's and DBCache's rules). */
#include "backend/backend.h"
#include "cache/polyfit.h"
#include "cache/predict.h"
#include "cache/run.h"
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "pipeline/pipeline.h"

/* DiT's components as the cache layer sees them. */
enum { COMP_ATTN = 0, COMP_MLP = 1, COMP_N = 2 };
static const cache_comps k_dit = {.n = COMP_N, .name = {"attn", "mlp"}, .aliases = {"attn1", "ff"},
                                  .role = {CACHE_ROLE_SELF_ATTENTION, CACHE_ROLE_MLP}};

/* ---------------------------------------------------------------- a fake model */

/* The engine's block loop (pipeline_forward) over a synthetic residual stream [rows * tokens,
 * hidden]: the test sets the stream entering block 0 and every block's modulation, and block l
 * of evaluation n adds the residual the test chooses. Which blocks ran is recorded. Its modulated
 * input is DiT's: LN(h) (1 + scale_msa) + shift_msa. */

#define FK_ROWS 2 /* one image and its guidance row */
#define FK_TOKENS 3
#define FK_HIDDEN 4
#define FK_ELEMS (FK_ROWS * FK_TOKENS * FK_HIDDEN)
#define FK_MAX_STEPS 16
#define FK_MAX_DEPTH 8

typedef struct fake fake;
struct fake {
    int steps, depth;
    cache_run *run;
    float h[FK_ELEMS];
    float mod[FK_ROWS * 6 * FK_HIDDEN];  /* every block's modulation: shift, scale, gate, ... */
    int ran[FK_MAX_STEPS][FK_MAX_DEPTH];
    float out[FK_MAX_STEPS][FK_ELEMS];   /* the stream leaving the last block */
    /* Per test: the stream entering block 0 and the modulation, and block l's residual. */
    void (*input)(const fake *f, int n, float *h, float *mod);
    void (*block)(const fake *f, int n, int l, float *res);
    const double *series;                /* per-evaluation values the callbacks use */
    int silent;                          /* a block whose residual is zero (db_block), 0: none */
};

static sc_status fake_modulated_input(const cache_view *v, float *out)
{
    const fake *f = v->ctx;
    backend_cpu_f32()->ln_modulate(out, v->h, v->rows, FK_TOKENS, FK_HIDDEN, 1e-6f, f->mod, f->mod + FK_HIDDEN,
                                   6 * FK_HIDDEN);
    return SC_OK;
}

static void fake_begin(fake *f, const char *spec, int steps, int depth)
{
    static const int timesteps[FK_MAX_STEPS] = {0};
    CHECK(steps <= FK_MAX_STEPS && depth <= FK_MAX_DEPTH);
    f->steps = steps;
    f->depth = depth;
    CHECK_OK(cache_run_create(spec, &f->run));
    const cache_gen g = {.steps = steps, .depth = depth, .rows = FK_ROWS, .images = 1, .tokens = FK_TOKENS,
                         .hidden = FK_HIDDEN, .timesteps = timesteps, .sampler = "ddim", .comp = k_dit,
                         .has_modulated_input = 1, .be = backend_cpu_f32()};
    const uint64_t macs[COMP_N] = {100, 100};
    CHECK_OK(cache_run_begin(f->run, &g, 1000, macs));
    cache_run_set_signals(f->run, fake_modulated_input, f);
}

static void fake_eval(fake *f, int n)
{
    float res[FK_ELEMS];
    cache_run_step(f->run, n);
    memset(f->mod, 0, sizeof f->mod);
    f->input(f, n, f->h, f->mod);
    int l = 0;
    while (l < f->depth) {
        const int next = cache_run_boundary(f->run, l, f->h);
        if (next > l) {
            l = next;
            continue;
        }
        for (int c = 0; c < COMP_N; c++) { /* as dit_forward: the per-sub-layer accounting */
            float *buf;
            CHECK(cache_run_decide(f->run, l, c, &buf) == 1);
        }
        f->block(f, n, l, res);
        for (int i = 0; i < FK_ELEMS; i++) f->h[i] += res[i];
        f->ran[n][l] = 1;
        l++;
    }
    cache_run_boundary(f->run, f->depth, f->h);
    memcpy(f->out[n], f->h, sizeof f->h);
}

/* Runs every evaluation; returns "1" / "0" per evaluation for whether block `probe` ran. */
static const char *fake_run(fake *f, const char *spec, int steps, int depth, int probe, sc_cache_stats *st)
{
    static char got[FK_MAX_STEPS + 1];
    memset(f->ran, 0, sizeof f->ran);
    fake_begin(f, spec, steps, depth);
    for (int n = 0; n < steps; n++) {
        fake_eval(f, n);
        got[n] = (char)('0' + f->ran[n][probe]);
    }
    got[steps] = '\0';
    cache_run_end(f->run, st);
    cache_run_free(f->run);
    return got;
}

#define CHECK_DECISIONS(got, want) CHECK_MSG(!strcmp((got), (want)), "computed %s, want %s", (got), (want))

/* Block l adds (l + 1) * 0.01 * (n + 1) + 0.001 * i: any residual that differs per block and step. */
static void plain_block(const fake *f, int n, int l, float *res)
{
    (void)f;
    for (int i = 0; i < FK_ELEMS; i++) res[i] = (float)((l + 1) * 0.01 * (n + 1) + 0.001 * i);
}

/* ---------------------------------------------------------------- teacache */

/* h constant over each token, so LN(h) = 0 and block 0's modulated input m_n is shift_msa itself:
 * shift = series[n] everywhere makes relL1(m_n, m_{n-1}) = |s_n - s_{n-1}| / |s_{n-1}|. */
static void tea_input(const fake *f, int n, float *h, float *mod)
{
    for (int i = 0; i < FK_ELEMS; i++) h[i] = 0.5f;
    for (int r = 0; r < FK_ROWS; r++)
        for (int i = 0; i < FK_HIDDEN; i++) mod[r * 6 * FK_HIDDEN + i] = (float)f->series[n];
}

/* s_n = s_{n-1} (1 + d_n) for d = -, .1, .1, .1, .3, .05, .05, .05, .05, .05. */
static const double k_tea_shift[10] = {1.0, 1.1, 1.21, 1.331, 1.7303, 1.816815, 1.90765575, 2.0030385375,
                                       2.103190464375, 2.20835};

TEST(peers_teacache_accumulator_crosses_the_threshold_on_the_expected_step)
{
    fake f = {.input = tea_input, .block = plain_block, .series = k_tea_shift};
    /* P(x) = x, thresh 0.25: A = .1, .2 skip; .3 computes (A = 0); .3 computes; .05 .. .20 skip;
     * the last evaluation computes (engine rule). */
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=0.25", 10, 3, 0, NULL), "1001100001");
    /* The coefficients are read x^4 first: P(x) = 10 x^2 + 0.02 gives .12, .24 (skip), .36
     * (compute), 0.92 (compute), .045 .. .18 (skip). Read backwards it would never skip. */
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=0.3,coef=0/0/10/0/0.02", 10, 3, 0, NULL), "1001100001");
    /* A lower threshold: A = .1 skips, .2 computes, .1 skips, .4 computes, .05 .1 .15 skip, .2
     * computes. */
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=0.17", 10, 3, 0, NULL), "1010100011");
    /* thresh 0 with a polynomial >= 0 never skips. */
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=0", 10, 3, 0, NULL), "1111111111");
}

TEST(peers_teacache_skip_adds_the_residual_of_the_last_computed_stack)
{
    fake f = {.input = tea_input, .block = plain_block, .series = k_tea_shift};
    sc_cache_stats st;
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=0.25", 10, 3, 0, &st), "1001100001");
    /* n = 1 and 2 reuse R = hL - h0 of n = 0: out = 0.5 + sum_l plain_block(0, l). */
    for (int n = 1; n <= 2; n++)
        for (int i = 0; i < FK_ELEMS; i++) {
            const double want = 0.5 + (0.01 + 0.02 + 0.03) * 1 + 3 * 0.001 * i;
            CHECK_MSG(fabs(f.out[n][i] - want) < 1e-6, "n %d elem %d: %g, want %g", n, i, f.out[n][i], want);
        }
    /* 4 computed evaluations x 3 blocks, 6 skipped x 3, per component. */
    CHECK(st.computed[COMP_ATTN] == 12 && st.skipped[COMP_ATTN] == 18);
    CHECK(st.computed[COMP_MLP] == 12 && st.skipped[COMP_MLP] == 18);
}

/* 1, 1.01, 0, 1, 1.01, ...: the relL1 after the zero has no reference. */
static const double k_tea_zero[10] = {1, 1.01, 0, 1, 1.01, 1.0201, 1.030301, 1.04060401, 1.0510100501, 1.061520150601};

TEST(peers_teacache_zero_reference_computes)
{
    fake f = {.input = tea_input, .block = plain_block, .series = k_tea_zero};
    /* thresh 1e6 would skip everything; n = 3 compares with m_2 = 0: no reference, compute. */
    CHECK_DECISIONS(fake_run(&f, "teacache:thresh=1000000", 10, 2, 0, NULL), "1001000001");
}

/* ---------------------------------------------------------------- magcache */

static const char *write_ratios(const char *name, const double *r, int n)
{
    char text[4096];
    int k = snprintf(text, sizeof text, "{\"_meta\":{\"sampler\":\"ddim\"},\"ratios\":[");
    for (int i = 0; i < n; i++) k += snprintf(text + k, sizeof text - (size_t)k, "%s%.17g", i ? "," : "", r[i]);
    snprintf(text + k, sizeof text - (size_t)k, "]}");
    const char *p = test_path(name);
    test_write(p, text, strlen(text));
    return p;
}

/* MagCache reads no signal from the stream: any input will do. */
static void const_input(const fake *f, int n, float *h, float *mod)
{
    (void)f;
    (void)mod;
    for (int i = 0; i < FK_ELEMS; i++) h[i] = (float)(0.1 * n + 0.01 * i);
}

TEST(peers_magcache_k_caps_consecutive_skips_after_retention)
{
    static const double ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    char spec[2048];
    fake f = {.input = const_input, .block = plain_block};
    /* retention 0.2 of 10: n < 2 compute; E stays 0, so k = 3 alone ends each run of skips;
     * the last evaluation is decided by the rule (cnt 4 > 3: compute). */
    snprintf(spec, sizeof spec, "magcache:ratios=%s", write_ratios("ones.json", ones, 10));
    CHECK_DECISIONS(fake_run(&f, spec, 10, 2, 0, NULL), "1100010001");
    snprintf(spec, sizeof spec, "magcache:ratios=%s,k=1,retention=0.5", test_path("ones.json"));
    CHECK_DECISIONS(fake_run(&f, spec, 10, 2, 0, NULL), "1111101010");
    /* k = 0 disables skipping. */
    snprintf(spec, sizeof spec, "magcache:ratios=%s,k=0", test_path("ones.json"));
    CHECK_DECISIONS(fake_run(&f, spec, 10, 2, 0, NULL), "1111111111");
}

TEST(peers_magcache_accumulated_error_against_the_threshold)
{
    static const double r[10] = {1, 1.5, 1.02, 0.97, 1.05, 1.0, 0.9, 1.1, 1.0, 0.98};
    char spec[2048];
    fake f = {.input = const_input, .block = plain_block};
    /* n = 2: G 1.02, E .02 skip; n = 3: G .9894, E .0306 skip; n = 4: G 1.03887, E .06947 > .06
     * compute; n = 5: E 0 skip; n = 6: E .1 compute; n = 7: E .1 compute; n = 8: E 0 skip;
     * n = 9: E .02 skip (the last evaluation too: may_skip_last, as diffusers). */
    snprintf(spec, sizeof spec, "magcache:ratios=%s,k=5", write_ratios("r.json", r, 10));
    CHECK_DECISIONS(fake_run(&f, spec, 10, 2, 0, NULL), "1100101100");
    /* thresh .01: only the evaluations where G returns to exactly 1 (n = 5, 8) stay under it. */
    snprintf(spec, sizeof spec, "magcache:ratios=%s,k=5,thresh=0.01", test_path("r.json"));
    CHECK_DECISIONS(fake_run(&f, spec, 10, 2, 0, NULL), "1111101101");
}

TEST(peers_magcache_resamples_with_round_half_to_even)
{
    /* 4 ratios at 7 steps: index round(i * 0.5) = 0 0 1 2 2 2 3 (halves to even), so gamma =
     * 1 1 5 1 1 1 1: only n = 2 (E = 4) computes after n = 0. Rounding halves away from zero
     * (0 1 1 2 2 3 3) would give gamma_1 = 5 and compute at n = 1 and n = 2. */
    static const double r[4] = {1, 5, 1, 1};
    char spec[2048];
    snprintf(spec, sizeof spec, "magcache:ratios=%s,retention=0,k=100,thresh=0.5", write_ratios("r4.json", r, 4));
    fake f = {.input = const_input, .block = plain_block};
    CHECK_DECISIONS(fake_run(&f, spec, 7, 2, 0, NULL), "1010000");
    /* One step: the file's last ratio; the first evaluation computes anyway. */
    CHECK_DECISIONS(fake_run(&f, spec, 1, 2, 0, NULL), "1");
}

/* ---------------------------------------------------------------- fbcache / dbcache */

/* h0 = 1; block 0 adds series[n] * v, v_i = 1 + 0.1 i (so relL1(r1_n, r1_ref) = |c_n - c_ref| /
 * |c_ref|); other blocks add plain_block's residual. */
static void db_input(const fake *f, int n, float *h, float *mod)
{
    (void)f;
    (void)n;
    (void)mod;
    for (int i = 0; i < FK_ELEMS; i++) h[i] = 1.0f;
}

static void db_block(const fake *f, int n, int l, float *res)
{
    if (f->silent && l == f->silent)
        memset(res, 0, FK_ELEMS * sizeof *res);
    else if (l == 0)
        for (int i = 0; i < FK_ELEMS; i++) res[i] = (float)(f->series[n] * (1 + 0.1 * i));
    else
        plain_block(f, n, l, res);
}

TEST(peers_fbcache_reference_is_the_last_computed_residual)
{
    /* thresh .1: n = 1 (c 1.05, ref 1) hits; n = 2 (1.08 vs 1: .08) hits, the reference staying
     * at n = 0's; n = 3 (1.12: .12) computes, ref 1.12; n = 4 (1.2: .071) hits; n = 5 (1.3: .16)
     * computes; n = 6, 7 hit; n = 8 (1.5: .15) computes; n = 9 hits: the last evaluation is
     * decided like any other (diffusers has no last-step rule). A reference refreshed on hits
     * would hit at n = 3 (1.12 vs 1.08). */
    static const double c[10] = {1, 1.05, 1.08, 1.12, 1.2, 1.3, 1.3, 1.3, 1.5, 1.5};
    fake f = {.input = db_input, .block = db_block, .series = c};
    CHECK_DECISIONS(fake_run(&f, "fbcache:thresh=0.1", 10, 3, 1, NULL), "1001010010");
    for (int n = 0; n < 10; n++) CHECK(f.ran[n][0] == 1 && f.ran[n][1] == f.ran[n][2]);
    /* warm-up: n < 4 compute. */
    CHECK_DECISIONS(fake_run(&f, "fbcache:thresh=0.1,warmup=4", 10, 3, 1, NULL), "1111010010");
    /* thresh 0 disables caching. */
    CHECK_DECISIONS(fake_run(&f, "fbcache:thresh=0", 10, 3, 1, NULL), "1111111111");
}

TEST(peers_fbcache_zero_reference_computes)
{
    static const double zero[10] = {0};
    fake f = {.input = db_input, .block = db_block, .series = zero};
    /* r1 = 0 every time: relL1 0/0 has no reference; diffusers' `diff > thresh` would read the NaN
     * as a hit. */
    CHECK_DECISIONS(fake_run(&f, "fbcache:thresh=1000", 10, 2, 1, NULL), "1111111111");
}

TEST(peers_dbcache_gates_warmup_max_consecutive_max_cached_threshold)
{
    static const double c[10] = {1, 1, 1, 1, 1, 1.05, 1.2, 1.2, 1.2, 1.2};
    fake f = {.input = db_input, .block = db_block, .series = c};
    sc_cache_stats st;
    /* depth 4, fn 1, bn 1: middle [1, 3). n = 1 warm-up; n = 2, 3 hit; n = 4 two in a row:
     * compute; n = 5 (.05) hits; n = 6 (.2 >= .1) computes; n = 7 hits (4 cached); n = 8, 9 at
     * the max_cached cap. */
    const char *got = fake_run(&f, "dbcache:fn=1,bn=1,thresh=0.1,warmup=2,max_cached=4,max_consecutive=2", 10, 4, 1, &st);
    CHECK_DECISIONS(got, "1100101011");
    for (int n = 0; n < 10; n++) {
        CHECK(f.ran[n][0] == 1 && f.ran[n][3] == 1);       /* front and back blocks always run */
        CHECK(f.ran[n][1] == f.ran[n][2] && f.ran[n][1] == (got[n] == '1'));
    }
    CHECK(st.skipped[COMP_ATTN] == 4 * 2 && st.computed[COMP_ATTN] == 40 - 8);
    CHECK(st.skipped[COMP_MLP] == 8 && st.computed[COMP_MLP] == 32);
    /* On a hit the stream leaving block 3 is h1 + (h3 - h1 of the last computed run) + block 3's
     * own residual: n = 3 reuses n = 1's middle residual. */
    for (int i = 0; i < FK_ELEMS; i++) {
        const double h1 = 1 + 1 * (1 + 0.1 * i);
        const double mid = (0.02 + 0.03) * 2 + 2 * 0.001 * i;   /* blocks 1, 2 at n = 1 */
        const double back = 0.04 * 4 + 0.001 * i;                /* block 3 at n = 3 */
        CHECK_MSG(fabs(f.out[3][i] - (h1 + mid + back)) < 1e-5, "elem %d: %g, want %g", i, f.out[3][i], h1 + mid + back);
    }
    /* No caps: everything under the threshold hits. */
    CHECK_DECISIONS(fake_run(&f, "dbcache:fn=1,bn=1,thresh=0.1,warmup=0", 10, 4, 1, NULL), "1000001000");
    /* fn = 2: the signal is blocks 0 and 1 together (block 1 adds nothing here); bn = 0: the
     * middle runs to the end. */
    f.silent = 1;
    CHECK_DECISIONS(fake_run(&f, "dbcache:fn=2,bn=0,thresh=0.1,warmup=0", 10, 4, 2, NULL), "1000001000");
    for (int n = 0; n < 10; n++) CHECK(f.ran[n][1] == 1 && f.ran[n][3] == f.ran[n][2]);
}

TEST(peers_dbcache_checks_fn_and_bn_against_the_depth_at_begin)
{
    cache_run *r;
    CHECK_OK(cache_run_create("dbcache:fn=3,bn=1", &r));
    const int ts[4] = {0};
    const cache_gen g = {.steps = 4, .depth = 4, .rows = 1, .images = 1, .tokens = 1, .hidden = 4, .timesteps = ts,
                         .sampler = "ddim", .comp = k_dit, .be = backend_cpu_f32()};
    const uint64_t macs[COMP_N] = {1, 1};
    CHECK_ERR(cache_run_begin(r, &g, 1, macs), SC_ERR_ARG,
              "fn=3 + bn=1 leaves no middle block to skip in this 4-block model (need fn + bn < 4)");
    cache_run_free(r);
    /* The default fn is 8 on models of more than 16 blocks, a quarter of the blocks (at least 1)
     * on smaller ones: 1 here, so bn = 3 leaves nothing to skip. */
    CHECK_OK(cache_run_create("dbcache", &r));
    CHECK_OK(cache_run_begin(r, &g, 1, macs));
    cache_run_end(r, NULL);
    cache_run_free(r);
    CHECK_OK(cache_run_create("dbcache:bn=3", &r));
    CHECK_ERR(cache_run_begin(r, &g, 1, macs), SC_ERR_ARG, "fn=1 + bn=3");
    cache_run_free(r);
    cache_gen deep = g;
    deep.depth = 20;
    CHECK_OK(cache_run_create("dbcache:bn=12", &r));
    CHECK_ERR(cache_run_begin(r, &deep, 1, macs), SC_ERR_ARG, "fn=8 + bn=12 leaves no middle block to skip in this 20-block model");
    cache_run_free(r);
}

TEST(peers_option_errors_are_specific)
{
    cache_run *r;
    CHECK_ERR(cache_run_create("teacache:coef=1/2/3", &r), SC_ERR_ARG, "coef=1/2/3 is not 5 finite numbers");
    CHECK_ERR(cache_run_create("teacache:coef=1/2/3/4/5/6", &r), SC_ERR_ARG, "is not 5 finite numbers");
    CHECK_ERR(cache_run_create("teacache:coef=1/2/nan/4/5", &r), SC_ERR_ARG, "is not 5 finite numbers");
    CHECK_ERR(cache_run_create("teacache:coef=1/2//4/5", &r), SC_ERR_ARG, "is not 5 finite numbers");
    CHECK_ERR(cache_run_create("teacache:coef=0/0/0/1/0,coef_file=x.json", &r), SC_ERR_ARG, "not both");
    CHECK_ERR(cache_run_create("teacache:thresh=-1", &r), SC_ERR_ARG, "thresh=-1 is not a number in [0, 1e+06]");
    CHECK_ERR(cache_run_create("teacache:coef_file=/nonexistent/c.json", &r), SC_ERR_IO, "cannot open");
    CHECK_ERR(cache_run_create("teacache:delta=1", &r), SC_ERR_ARG, "unknown option 'delta'");
    CHECK_ERR(cache_run_create("magcache", &r), SC_ERR_ARG, "option 'ratios' is required");
    CHECK_ERR(cache_run_create("magcache:ratios=x.json,k=-1", &r), SC_ERR_ARG, "k=-1 is not an integer");
    CHECK_ERR(cache_run_create("magcache:ratios=x.json,retention=2", &r), SC_ERR_ARG, "retention=2 is not a number");
    test_write(test_path("bad.json"), "{\"ratios\":[1,-0.5]}", 19);
    char spec[2048];
    snprintf(spec, sizeof spec, "magcache:ratios=%s", test_path("bad.json"));
    CHECK_ERR(cache_run_create(spec, &r), SC_ERR_FORMAT, "\"ratios\"[1] is not a finite number >= 0");
    test_write(test_path("empty.json"), "{\"ratios\":[]}", 13);
    snprintf(spec, sizeof spec, "magcache:ratios=%s", test_path("empty.json"));
    CHECK_ERR(cache_run_create(spec, &r), SC_ERR_FORMAT, "must be a non-empty array");
    CHECK_ERR(cache_run_create("fbcache:thresh=x", &r), SC_ERR_ARG, "thresh=x is not a number");
    /* An option of another policy is named as that policy's. */
    CHECK_ERR(cache_run_create("fbcache:fn=2", &r), SC_ERR_ARG,
              "cache policy fbcache has no option 'fn' (that is an option of dbcache); fbcache's options: thresh=T");
    CHECK_ERR(cache_run_create("smooth:n=2", &r), SC_ERR_ARG, "cache policy smooth has no option 'n' (that is an option of fora)");
    CHECK_ERR(cache_run_create("magcache:coef=1", &r), SC_ERR_ARG, "has no option 'coef' (that is an option of teacache)");
    CHECK_ERR(cache_run_create("dbcache:fn=0", &r), SC_ERR_ARG, "fn=0 is not an integer in [1, 100000]");
    CHECK_ERR(cache_run_create("dbcache:max_cached=-2", &r), SC_ERR_ARG, "max_cached=-2 is not an integer");
    test_write(test_path("coef.json"), "{\"coef\":[1,2,3,4]}", 18);
    snprintf(spec, sizeof spec, "teacache:coef_file=%s", test_path("coef.json"));
    CHECK_ERR(cache_run_create(spec, &r), SC_ERR_FORMAT, "\"coef\" must be an array of 5 numbers");
}

/* ---------------------------------------------------------------- polynomial fit */

TEST(peers_polyfit_recovers_a_badly_scaled_quartic)
{
    /* TeaCache's FLUX polynomial on x in [0.01, 0.2]: coefficients from 0.26 to 499 over powers
     * of a small x, the case where normal equations lose digits. */
    static const double flux[5] = {498.651651, -283.781631, 55.8554382, -3.82021401, 0.264230861};
    double x[40], y[40], c[5];
    for (int i = 0; i < 40; i++) {
        x[i] = 0.01 + 0.19 * i / 39.0;
        y[i] = polyval(flux, 4, x[i]);
    }
    CHECK_OK(polyfit(x, y, 40, 4, c));
    for (int i = 0; i < 5; i++) CHECK_MSG(fabs(c[i] - flux[i]) <= 1e-7 * fabs(flux[i]), "c%d %.12g, want %.12g", i, c[i], flux[i]);
    /* Degree 0 and 1 fits of a line. */
    for (int i = 0; i < 40; i++) y[i] = 3 - 2 * x[i];
    CHECK_OK(polyfit(x, y, 40, 1, c));
    CHECK(fabs(c[0] + 2) < 1e-12 && fabs(c[1] - 3) < 1e-12);
    CHECK_OK(polyfit(x, y, 40, 0, c));
    CHECK(fabs(c[0] - (3 - 2 * 0.105)) < 1e-12);
}

TEST(peers_polyfit_rejects_too_few_distinct_points)
{
    double x[6] = {0.1, 0.1, 0.2, 0.2, 0.3, 0.3}, y[6] = {1, 2, 3, 4, 5, 6}, c[5];
    CHECK_ERR(polyfit(x, y, 6, 4, c), SC_ERR_ARG, "at least 5 distinct x values");
    CHECK_ERR(polyfit(x, y, 4, 4, c), SC_ERR_ARG, "at least 5 points (got 4)");
    x[2] = NAN;
    CHECK_ERR(polyfit(x, y, 6, 2, c), SC_ERR_ARG, "point 2 of the fit is not finite");
}

/* ---------------------------------------------------------------- fixtures */

static json_t *cases(void)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture("peers_a/cases.json"), 1u << 20, &j));
    return j;
}

static sc_gen_params params(int steps)
{
    static const int classes[2] = {1, 2};
    static const sc_cond cond = {.n = 2, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = steps;
    p.seed = 7;
    return p;
}

/* ---------------------------------------------------------------- cached sampling */

static float *generate(sc_model *m, const char *cache, int steps, sc_cache_stats *st)
{
    sc_gen_params p = params(steps);
    p.cache = cache;
    p.stats = st;
    float *out = malloc(sc_latent_bytes(m, 2));
    CHECK_OK(sc_generate(m, &p, out));
    return out;
}

static void check_policy_e2e(sc_model *m, int depth, const char *spec, const char *disabled, const float *uncached)
{
    sc_cache_stats st;
    const size_t bytes = sc_latent_bytes(m, 2);
    float *a = generate(m, spec, 10, &st), *b = generate(m, spec, 10, NULL), *off = generate(m, disabled, 10, NULL);
    for (int c = 0; c < COMP_N; c++)
        CHECK_MSG(st.computed[c] + st.skipped[c] == depth * 10, "%s: %s computed %ld + skipped %ld != %d", spec,
                  k_dit.name[c], st.computed[c], st.skipped[c], depth * 10);
    CHECK_MSG(st.skipped[COMP_ATTN] > 0 && st.macs < st.macs_uncached, "%s skipped nothing", spec);
    CHECK_MSG(memcmp(a, b, bytes) == 0, "%s: the same request gave different latents", spec);
    CHECK_MSG(memcmp(off, uncached, bytes) == 0, "%s is not bit-identical to uncached", disabled);
    CHECK_MSG(memcmp(a, uncached, bytes) != 0, "%s changed nothing", spec);
    free(a);
    free(b);
    free(off);
}

TEST(peers_cached_sampling_accounting_determinism_and_disabled_is_uncached)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    float *unc = generate(m, "none", 10, NULL);
    char mag[2400], magoff[2400];
    snprintf(mag, sizeof mag, "magcache:ratios=%s,thresh=0.3", test_fixture("peers_a/magcache_ratios.json"));
    snprintf(magoff, sizeof magoff, "magcache:ratios=%s,thresh=0.3,k=0", test_fixture("peers_a/magcache_ratios.json"));
    check_policy_e2e(m, 2, "teacache:thresh=0.5", "teacache:thresh=0", unc);
    check_policy_e2e(m, 2, mag, magoff, unc);
    check_policy_e2e(m, 2, "fbcache:thresh=0.5", "fbcache:thresh=0", unc);
    check_policy_e2e(m, 2, "dbcache:fn=1,warmup=1,thresh=0.5", "dbcache:fn=1,warmup=1,thresh=0", unc);
    free(unc);
    sc_model_free(m);
    /* Front and back blocks on the 4-block model. */
    CHECK_OK(sc_model_load(test_fixture("peers_a/dit_e"), NULL, &m));
    unc = generate(m, "none", 10, NULL);
    check_policy_e2e(m, 4, "dbcache:fn=1,bn=1,warmup=1,thresh=0.75", "dbcache:fn=1,bn=1,warmup=1,max_cached=0", unc);
    free(unc);
    sc_model_free(m);
}

/* ---------------------------------------------------------------- against the references */

/* The policy of `spec` run through the pipeline's loop, with its boundary hook wrapped to record
 * whether the segment starting at `first` ran at each evaluation. */
static const cache_policy_ops *g_real;
static int g_first;
static char g_computed[64];

static int recording_boundary(void *st, int n, int l, const cache_view *v)
{
    const int next = g_real->boundary(st, n, l, v);
    if (l == g_first) g_computed[n] = next == l ? '1' : '0';
    return next;
}

static float *generate_recorded(sc_model *m, const char *text, int steps, int first, sc_cache_stats *st)
{
    cache_spec spec;
    void *state;
    CHECK_OK(spec_parse(text, &spec));
    g_real = cache_policy_find(spec.name);
    CHECK(g_real != NULL);
    CHECK_OK(g_real->create(&spec, &state));
    CHECK_OK(spec_check_unused(&spec, g_real->options));
    cache_policy_ops ops = *g_real;
    ops.boundary = recording_boundary;
    g_first = first;
    memset(g_computed, 0, sizeof g_computed);
    sc_gen_params p = params(steps);
    p.stats = st;
    float *out = malloc(sc_latent_bytes(m, 2));
    CHECK_OK(pipeline_generate(m, &p, &ops, state, out));
    g_real->destroy(state);
    return out;
}

/* Runs case `name` of cases.json (with `extra` appended to its spec) and checks the decisions
 * exactly, the final latents within 1e-4 and the accounting against the decisions. */
static void check_case(const char *name, const char *extra, int first, int seg_len)
{
    json_t *j = cases(), *c = json_object_get(j, name);
    CHECK_MSG(c != NULL, "no case %s", name);
    char spec[2400], want[64] = {0}, model_dir[256];
    snprintf(spec, sizeof spec, "%s%s", json_string_value(json_object_get(c, "spec")), extra);
    snprintf(model_dir, sizeof model_dir, "%s", json_string_value(json_object_get(c, "model")));
    const int steps = (int)json_integer_value(json_object_get(c, "steps"));
    const json_t *computed = json_object_get(c, "computed");
    CHECK((int)json_array_size(computed) == steps);
    int skips = 0;
    for (int n = 0; n < steps; n++) {
        want[n] = (char)('0' + json_integer_value(json_array_get(computed, (size_t)n)));
        skips += want[n] == '0';
    }
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture(model_dir), NULL, &m));
    sc_cache_stats st;
    float *out = generate_recorded(m, spec, steps, first, &st);
    CHECK_MSG(!strcmp(g_computed, want), "%s: computed %s, reference %s", name, g_computed, want);
    CHECK(st.skipped[COMP_ATTN] == (long)skips * seg_len && st.skipped[COMP_MLP] == (long)skips * seg_len);
    npy_array ref;
    char path[300];
    snprintf(path, sizeof path, "peers_a/%s", json_string_value(json_object_get(c, "out")));
    CHECK_OK(npy_read(test_fixture(path), &ref));
    CHECK(ref.numel * sizeof(float) == sc_latent_bytes(m, 2));
    const double e = test_rel_err(out, ref.data, ref.numel);
    CHECK_MSG(e <= 1e-4, "%s: final latents differ from the reference by %.3g (relative)", name, e);
    npy_free(&ref);
    free(out);
    sc_model_free(m);
    json_decref(j);
}

TEST(peers_fbcache_matches_diffusers_first_block_cache) { check_case("fbcache", "", 1, 1); }

TEST(peers_magcache_matches_diffusers_mag_cache)
{
    char extra[2200];
    snprintf(extra, sizeof extra, ",ratios=%s", test_fixture("peers_a/magcache_ratios.json"));
    check_case("magcache_10", extra, 0, 2);
    check_case("magcache_7", extra, 0, 2); /* the 10 ratios resampled to 7 steps */
}

TEST(peers_teacache_matches_the_transcribed_rule) { check_case("teacache", "", 0, 2); }

TEST(peers_dbcache_matches_the_transcribed_rule) { check_case("dbcache", "", 1, 2); }

/* ---------------------------------------------------------------- calibration */

/* A calibration for `policy` observing one generation of two samples, saved to `out`. */
static sc_calibration *calibrate(const char *policy, const char *out)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    sc_calibration *c;
    CHECK_OK(sc_calibration_new(policy, &c));
    sc_gen_params p = params(10);
    p.calibration = c;
    float *lat = malloc(sc_latent_bytes(m, 2));
    CHECK_OK(sc_generate(m, &p, lat));
    CHECK(sc_calibration_samples(c) == 2);
    CHECK_OK(sc_calibration_save(c, out, 0));
    free(lat);
    sc_model_free(m);
    return c;
}

static void plot(const sc_calibration *c, const char *path)
{
    sc_figure f;
    CHECK_OK(sc_calibration_figure(c, &f));
    CHECK_OK(sc_figure_write_png(&f, path, 0));
    sc_figure_free(&f);
}

static void check_array(const json_t *mine, const json_t *ref, double tol, const char *what)
{
    CHECK_MSG(json_array_size(mine) == json_array_size(ref), "%s: %zu values, reference %zu", what,
              json_array_size(mine), json_array_size(ref));
    for (size_t i = 0; i < json_array_size(ref); i++) {
        const double a = json_number_value(json_array_get(mine, i)), b = json_number_value(json_array_get(ref, i));
        CHECK_MSG(fabs(a - b) <= tol * fabs(b), "%s[%zu]: %.9g, reference %.9g", what, i, a, b);
    }
}

TEST(peers_magcache_calibration_matches_diffusers)
{
    sc_calibration *c = calibrate("magcache", test_path("ratios.json"));
    json_t *mine, *ref;
    CHECK_OK(json_load_object_file(test_path("ratios.json"), 1u << 20, &mine));
    CHECK_OK(json_load_object_file(test_fixture("peers_a/magcache_ratios.json"), 1u << 20, &ref));
    check_array(json_object_get(mine, "ratios"), json_object_get(ref, "ratios"), 1e-5, "ratios");
    CHECK(json_number_value(json_array_get(json_object_get(mine, "ratios"), 0)) == 1.0);
    plot(c, test_path("ratios.png"));
    json_decref(mine);
    json_decref(ref);
    sc_calibration_free(c);
}

TEST(peers_teacache_calibration_points_and_fit_match_the_reference)
{
    sc_calibration *c = calibrate("teacache", test_path("tea.json"));
    json_t *mine, *ref;
    CHECK_OK(json_load_object_file(test_path("tea.json"), 1u << 20, &mine));
    CHECK_OK(json_load_object_file(test_fixture("peers_a/teacache_calib.json"), 1u << 20, &ref));
    check_array(json_object_get(mine, "x"), json_object_get(ref, "x"), 1e-5, "x");
    check_array(json_object_get(mine, "y"), json_object_get(ref, "y"), 1e-5, "y");
    /* The fit on the reference's own points against numpy.polyfit: the same polynomial (compared
     * by value over the points; the coefficients of a badly conditioned basis carry more noise). */
    const json_t *rx = json_object_get(ref, "x"), *ry = json_object_get(ref, "y"), *rc = json_object_get(ref, "coef");
    const int n = (int)json_array_size(rx);
    double *x = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)n), coef[5], np[5], ymax = 0;
    for (int i = 0; i < n; i++) {
        x[i] = json_number_value(json_array_get(rx, (size_t)i));
        y[i] = json_number_value(json_array_get(ry, (size_t)i));
        ymax = fmax(ymax, fabs(y[i]));
    }
    for (int i = 0; i < 5; i++) np[i] = json_number_value(json_array_get(rc, (size_t)i));
    CHECK_OK(polyfit(x, y, n, 4, coef));
    for (int i = 0; i < n; i++)
        CHECK_MSG(fabs(polyval(coef, 4, x[i]) - polyval(np, 4, x[i])) <= 1e-9 * ymax, "fit differs at x %g", x[i]);
    /* The saved coefficients are the fit of the saved points, x^4 first. */
    const json_t *mc = json_object_get(mine, "coef");
    CHECK(json_array_size(mc) == 5);
    plot(c, test_path("tea.png"));
    free(x);
    free(y);
    json_decref(mine);
    json_decref(ref);
    sc_calibration_free(c);
}

TEST(peers_calibrate_cli_writes_coefficients_teacache_can_load)
{
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "calibrate --for teacache --model %s --steps 6 --samples 2 --out %s --plot %s --quiet",
             test_fixture("dit_a"), test_path("c.json"), test_path("c.png"));
    CHECK_MSG(test_cli(args, &out) == 0, "%s", out ? out : "");
    free(out);
    char spec[2100];
    snprintf(spec, sizeof spec, "teacache:coef_file=%s,thresh=0.2", test_path("c.json"));
    cache_run *r;
    CHECK_OK(cache_run_create(spec, &r));
    cache_run_free(r);
    snprintf(args, sizeof args, "calibrate --for magcache --model %s --steps 6 --out %s --quiet", test_fixture("dit_a"),
             test_path("m.json"));
    CHECK(test_cli(args, NULL) == 0);
    json_t *j;
    CHECK_OK(json_load_object_file(test_path("m.json"), 1u << 20, &j));
    CHECK(json_array_size(json_object_get(j, "ratios")) == 6);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "_meta"), "samples")) == 1); /* magcache's default */
    json_decref(j);
    snprintf(args, sizeof args, "calibrate --for magcache --k 2 --model %s --out %s", test_fixture("dit_a"), test_path("k.json"));
    CHECK(test_cli(args, &out) == 2 && strstr(out, "--k and --averaging apply to --for smooth only"));
    free(out);
    snprintf(args, sizeof args, "calibrate --for easycache --model %s --out %s", test_fixture("dit_a"), test_path("k.json"));
    CHECK(test_cli(args, &out) == 2 && strstr(out, "'easycache' is not a policy that calibrates (smooth, teacache, magcache)"));
    free(out);
}

/* Every number inside an option value goes through the strict syntax of the others: no spaces,
 * '+', hex, inf or nan, in AdaCache's codebook and TeaCache's coefficients; predictor names
 * exact. */
TEST(peers_numbers_inside_option_values_are_strict)
{
    static const char *const bad[] = {
        "adacache:codebook= 0.1:2", "adacache:codebook=0x1p-3:2", "adacache:codebook=0.1:+2",
        "adacache:codebook=0.1: 2", "adacache:codebook=inf:2", "adacache:codebook=nan:2", "adacache:codebook=0.1:2/",
        "adacache:codebook=0.1:2/0.05:3", "adacache:codebook=0.1:2.5", "adacache:codebook=-0.1:2",
        "adacache:codebook=0.1:0", "adacache:codebook=0.1", "teacache:coef=1/2/3/4/+5", "teacache:coef=1/2/3/4/ 5",
        "teacache:coef=1/2/3/4/1e999", "fora:n=+3", "fora:n= 3", "taylorseer:interval=0x4",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cache_run *r = NULL;
        const sc_status s = cache_run_create(bad[i], &r);
        CHECK_MSG(s == SC_ERR_ARG, "%s: status %d (%s)", bad[i], s, sc_last_error());
        cache_run_free(r);
    }
    cache_run *r;
    CHECK_OK(cache_run_create("adacache:codebook=0.05:4/0.1:2/1e0:1", &r));
    cache_run_free(r);
    CHECK_OK(cache_run_create("teacache:coef=-1.5e2/0/.5/1/0", &r));
    cache_run_free(r);
    predict_kind k;
    int order;
    CHECK_ERR(predict_parse("taylor+2", &k, &order), SC_ERR_ARG, "not taylor1..taylor4");
    CHECK_ERR(predict_parse("ab 3", &k, &order), SC_ERR_ARG, "not taylor1..taylor4");
    CHECK_ERR(predict_parse("taylor02", &k, &order), SC_ERR_ARG, "not taylor1..taylor4");
    CHECK_OK(predict_parse("ab3", &k, &order));
    CHECK(k == PREDICT_LAGRANGE && order == 2);
}
