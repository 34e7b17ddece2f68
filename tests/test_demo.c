/* The shipped demo model (models/demo): it equals diffusers' model on the same files, samples
 * deterministically, its samples are recognised by the demo classifier, the shipped SmoothCache
 * schedule keeps that while skipping work, and every cache policy runs on it end to end. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "metrics/demo_classify.h"
#include "metrics/quality.h"

#define N_IMG 20 /* two per class */
#define STEPS 50

static const char *demo(const char *rel)
{
    static char buf[4][2048];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof buf[0], "%s/models/demo%s%s", SC_SOURCE_DIR, *rel ? "/" : "", rel);
    return p;
}

static sc_model *load_demo(void)
{
    sc_model *m;
    CHECK_OK(sc_model_load(demo(""), NULL, &m));
    return m;
}

static void fixture(const char *name, npy_array *a)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/demo/%s", test_fixtures(), name);
    CHECK_OK(npy_read(p, a));
}

TEST(demo_forward_and_trajectory_match_diffusers)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/demo/cases.json", test_fixtures());
    json_t *j;
    CHECK_OK(json_load_object_file(p, 1u << 20, &j));
    sc_model *m = load_demo();

    const json_t *f = json_object_get(j, "forward");
    npy_array x, ref;
    fixture("forward_x.npy", &x);
    fixture("forward_out.npy", &ref);
    float t[4];
    int y[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (float)json_integer_value(json_array_get(json_object_get(f, "t"), (size_t)i));
        y[i] = (int)json_integer_value(json_array_get(json_object_get(f, "y"), (size_t)i));
    }
    float *out = calloc(ref.numel, sizeof *out);
    const sc_cond rows = {.n = 4, .classes = y};
    CHECK_OK(sc_model_forward(m, &rows, x.data, t, out, 0));
    double e = test_rel_err(out, ref.data, ref.numel);
    printf("  demo forward: relative error %.3g\n", e);
    CHECK_MSG(e <= json_real_value(json_object_get(f, "tol")), "demo forward relative error %.3g", e);
    free(out);
    npy_free(&x);
    npy_free(&ref);

    const json_t *c = json_object_get(j, "trajectory");
    int classes[10];
    for (int i = 0; i < 10; i++) classes[i] = (int)json_integer_value(json_array_get(json_object_get(c, "classes"), (size_t)i));
    const sc_cond cond = {.n = 10, .classes = classes};
    sc_gen_params g = sc_gen_params_default();
    g.cond = &cond;
    g.steps = (int)json_integer_value(json_object_get(c, "steps"));
    g.cfg = (float)json_real_value(json_object_get(c, "cfg"));
    g.seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
    int ts[STEPS];
    CHECK(g.steps == STEPS);
    CHECK_OK(sc_sampler_timesteps(m, SC_SAMPLER_DDIM, g.steps, ts));
    for (int i = 0; i < g.steps; i++)
        CHECK(ts[i] == (int)json_integer_value(json_array_get(json_object_get(c, "timesteps"), (size_t)i)));
    fixture("ddim_out.npy", &ref);
    out = calloc(ref.numel, sizeof *out);
    CHECK(sc_latent_bytes(m, 10) == ref.numel * sizeof(float));
    CHECK_OK(sc_generate(m, &g, out));
    e = test_rel_err(out, ref.data, ref.numel);
    printf("  demo 50-step guided DDIM: relative error %.3g\n", e);
    CHECK_MSG(e <= json_real_value(json_object_get(c, "tol")), "demo 50-step guided DDIM relative error %.3g", e);
    free(out);
    npy_free(&ref);
    sc_model_free(m);
    json_decref(j);
}

/* n images (classes 0..9, 0..9, ..., seed 100, DDIM 50, guidance 4) with `cache`, as uint8. */
static uint8_t *sample_n(sc_model *m, int n, const char *cache, sc_cache_stats *st, float **latents)
{
    int classes[N_IMG];
    for (int i = 0; i < n; i++) classes[i] = i % 10;
    const sc_cond cond = {.n = n, .classes = classes};
    sc_gen_params g = sc_gen_params_default();
    g.cond = &cond;
    g.seed = 100;
    g.steps = STEPS;
    g.cache = cache;
    g.stats = st;
    float *lat = malloc(sc_latent_bytes(m, n));
    uint8_t *rgb = malloc((size_t)n * DEMO_SIDE * DEMO_SIDE * 3);
    CHECK_OK(sc_generate(m, &g, lat));
    CHECK(sc_image_side(m, NULL) == DEMO_SIDE);
    CHECK_OK(sc_decode_images(m, NULL, n, lat, rgb, 0));
    if (latents)
        *latents = lat;
    else
        free(lat);
    return rgb;
}

static uint8_t *sample(sc_model *m, const char *cache, sc_cache_stats *st, float **latents)
{
    return sample_n(m, N_IMG, cache, st, latents);
}

static int correct(const uint8_t *rgb)
{
    int k = 0;
    for (int i = 0; i < N_IMG; i++) k += demo_classify(rgb + (size_t)i * DEMO_SIDE * DEMO_SIDE * 3) == i % 10;
    return k;
}

/* The bar: at least 90 % of uncached samples recognised (18 of these 20 seeds; 20/20 are
 * measured, and models/README.md has the larger held-out figures, 94-98 %). */
#define DEMO_MIN_CORRECT 18
/* Measured on these 20 seeds with the shipped schedule (alpha 0.08, 0.59x MACs): 32.3 dB. */
#define SMOOTH_MIN_PSNR 30.0

TEST(demo_samples_deterministically_at_its_accuracy_and_smoothcache_keeps_it)
{
    sc_model *m = load_demo();
    float *a, *b;
    sc_cache_stats st;
    uint8_t *rgb = sample(m, NULL, NULL, &a), *again = sample(m, NULL, NULL, &b);
    CHECK(memcmp(a, b, sc_latent_bytes(m, N_IMG)) == 0);
    const int base = correct(rgb);
    CHECK_MSG(base >= DEMO_MIN_CORRECT, "uncached: %d/%d recognised", base, N_IMG);

    char spec[2200];
    snprintf(spec, sizeof spec, "smooth:schedule=%s", demo("cache/smooth-a0.08.json"));
    uint8_t *cached = sample(m, spec, &st, NULL);
    const double ratio = st.macs / st.macs_uncached;
    CHECK_MSG(ratio < 0.6 && st.skipped[0] > 0 && st.skipped[1] > 0, "MAC ratio %.3f", ratio);
    /* Within 3 points of 20 images: not one sample lost. */
    const int k = correct(cached);
    CHECK_MSG(k >= base, "SmoothCache: %d/%d recognised, uncached %d", k, N_IMG, base);
    const size_t bytes = (size_t)N_IMG * DEMO_SIDE * DEMO_SIDE * 3;
    const double psnr = metric_psnr(cached, rgb, bytes);
    printf("  uncached %d/%d recognised; SmoothCache %d/%d at MACs %.3f, PSNR %.2f dB\n", base, N_IMG, k, N_IMG,
           ratio, psnr);
    CHECK_MSG(psnr >= SMOOTH_MIN_PSNR, "SmoothCache PSNR %.2f dB < %.1f", psnr, SMOOTH_MIN_PSNR);
    free(a); free(b); free(rgb); free(again); free(cached);
    sc_model_free(m);
}

/* Every policy, at a moderate setting, on the trained model (one image per class): it skips
 * work, and its images stay near the uncached ones (floors below each one's measured PSNR). */
TEST(demo_every_cache_policy_runs_end_to_end)
{
    sc_model *m = load_demo();
    uint8_t *ref = sample_n(m, 10, NULL, NULL, NULL);
    char specs[11][2200];
    /* measured: 39.3, 40.7, 45.2, 44.6, 18.4, 29.3, 25.3, 21.2, 26.1, 36.7 dB */
    const double floor_db[11] = {36, 38, 42, 42, 16, 27, 23, 19, 24, 34, 0};
    snprintf(specs[0], sizeof specs[0], "fora:n=2");
    snprintf(specs[1], sizeof specs[1], "smooth:schedule=%s,predict=taylor1", demo("cache/smooth-a0.08.json"));
    snprintf(specs[2], sizeof specs[2], "taylorseer:interval=2,order=1");
    snprintf(specs[3], sizeof specs[3], "abcache:interval=2,k=2");
    snprintf(specs[4], sizeof specs[4], "adacache");
    snprintf(specs[5], sizeof specs[5], "teacache:coef_file=%s,thresh=0.01", demo("cache/teacache.json"));
    snprintf(specs[6], sizeof specs[6], "magcache:ratios=%s,thresh=0.02", demo("cache/magcache.json"));
    snprintf(specs[7], sizeof specs[7], "fbcache:thresh=0.05");
    snprintf(specs[8], sizeof specs[8], "dbcache:fn=1,bn=1,warmup=2,thresh=0.05");
    snprintf(specs[9], sizeof specs[9], "fastercache:uncond_every=3");
    snprintf(specs[10], sizeof specs[10], "none");
    const size_t bytes = (size_t)10 * DEMO_SIDE * DEMO_SIDE * 3;
    for (int i = 0; i < 11; i++) {
        sc_cache_stats st;
        uint8_t *rgb = sample_n(m, 10, specs[i], &st, NULL);
        const double ratio = st.macs / st.macs_uncached, psnr = metric_psnr(rgb, ref, bytes);
        if (i == 10) {
            CHECK(ratio == 1.0 && memcmp(rgb, ref, bytes) == 0);
        } else {
            CHECK_MSG(ratio < 0.9, "%.900s: MAC ratio %.3f", specs[i], ratio);
            printf("  %-40.40s MACs %.3f  PSNR %.2f dB\n", specs[i], ratio, psnr);
            CHECK_MSG(psnr >= floor_db[i], "%.900s: PSNR %.2f dB < %.0f", specs[i], psnr, floor_db[i]);
        }
        free(rgb);
    }
    free(ref);
    sc_model_free(m);
}
