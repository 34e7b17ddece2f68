/* The Stable Audio family against diffusers' StableAudioDiTModel and StableAudioProjectionModel
 * (tools/reference_stable_audio.py, tests/fixtures/stableaudio/): the prompts alone, a guided
 * batch without a negative prompt (the pipeline's all-zero unconditional tokens) and one with a
 * negative prompt, for a model whose text projection is a Linear and grouped key/value heads, and
 * one whose text projection is the identity (Stable Audio Open's case). */
#include <jansson.h>
#include <math.h>

#include "harness.h"
#include "io/npy.h"
#include "pipeline/pipeline.h"
#include "smoothcache_tools.h"

static void load_case(const char *variant, const char *cid, const char *what, npy_array *a)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/case_%s_%s.npy", variant, cid, what);
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", rel), a));
}

static int *ints_of(const npy_array *a)
{
    int *v = malloc(a->numel * sizeof *v);
    CHECK(v != NULL);
    for (uint64_t i = 0; i < a->numel; i++) v[i] = (int)a->data[i];
    return v;
}

/* One case: the reference's rows through the family's conditioning (guided or raw) and the runner. */
static void check_case(sc_model *p, const char *variant, const char *cid, int guided, int negative, double tol)
{
    npy_array x, t, text, mask_a, secs, out_ref, neg_text, neg_mask_a;
    load_case(variant, cid, "x", &x);
    load_case(variant, cid, "t", &t);
    load_case(variant, cid, "text", &text);
    load_case(variant, cid, "mask", &mask_a);
    load_case(variant, cid, "seconds", &secs);
    load_case(variant, cid, "out", &out_ref);
    int *mask = ints_of(&mask_a), *neg_mask = NULL;
    const int n = (int)text.shape[0], R = (int)x.shape[0];
    float start[2], total[2];
    for (int i = 0; i < n; i++) start[i] = secs.data[2 * i], total[i] = secs.data[2 * i + 1];
    sc_cond c = {.n = n, .text = text.data, .text_mask = mask, .text_len = (int)text.shape[1],
                 .text_dim = (int)text.shape[2], .n_scalars = 2};
    c.scalars[0] = (sc_scalar){"seconds_start", start};
    c.scalars[1] = (sc_scalar){"seconds_total", total};
    if (negative) {
        load_case(variant, cid, "neg_text", &neg_text);
        load_case(variant, cid, "neg_mask", &neg_mask_a);
        neg_mask = ints_of(&neg_mask_a);
        c.neg_text = neg_text.data;
        c.neg_text_mask = neg_mask;
    }
    float *tt = malloc((size_t)R * sizeof *tt), *out = malloc(out_ref.numel * sizeof *out);
    CHECK(tt && out);
    for (int r = 0; r < R; r++) tt[r] = t.data[0];
    if (!guided) {
        CHECK(R == n);
        CHECK_OK(sc_model_forward(p, &c, x.data, tt, out, 1));
    } else {
        /* The pipeline's batch is [uncond; cond], the runner's [cond; uncond]: swap the halves of the
         * reference's latents and outputs. */
        const size_t half = x.numel / 2, ohalf = out_ref.numel / 2;
        float *tmp = malloc(x.numel * sizeof *tmp);
        CHECK(tmp != NULL);
        memcpy(tmp, x.data + half, half * sizeof *tmp);
        memcpy(tmp + half, x.data, half * sizeof *tmp);
        memcpy(x.data, tmp, x.numel * sizeof *tmp);
        free(tmp);
        tmp = malloc(out_ref.numel * sizeof *tmp);
        CHECK(tmp != NULL);
        memcpy(tmp, out_ref.data + ohalf, ohalf * sizeof *tmp);
        memcpy(tmp + ohalf, out_ref.data, ohalf * sizeof *tmp);
        memcpy(out_ref.data, tmp, out_ref.numel * sizeof *tmp);
        free(tmp);
        const model *m = p->net;
        model_cond rows;
        CHECK_OK(m->family->conditioning(m, &c, 1, 0, &rows));
        CHECK(rows.rows == R);
        model_ws *ws;
        CHECK_OK(m->family->ws_create(m, R, NULL, &ws));
        CHECK_OK(pipeline_forward(m, ws, x.data, tt, &rows, out, NULL));
        /* Again on the same workspace: the cross-attention side is reused, the result the same. */
        float *again = malloc(out_ref.numel * sizeof *again);
        CHECK(again != NULL);
        CHECK_OK(pipeline_forward(m, ws, x.data, tt, &rows, again, NULL));
        CHECK(!memcmp(out, again, out_ref.numel * sizeof *out));
        free(again);
        m->family->ws_free(m, ws);
        model_cond_free(&rows);
    }
    const double err = test_rel_err(out, out_ref.data, out_ref.numel);
    fprintf(stderr, "  %s/%s: %.3g\n", variant, cid, err);
    CHECK_MSG(err <= tol, "%s/%s: relative error %.3g (tolerance %.1g)", variant, cid, err, tol);
    if (negative) {
        npy_free(&neg_text);
        npy_free(&neg_mask_a);
        free(neg_mask);
    }
    free(tt);
    free(out);
    free(mask);
    npy_free(&x);
    npy_free(&t);
    npy_free(&text);
    npy_free(&mask_a);
    npy_free(&secs);
    npy_free(&out_ref);
}

static void check_variant(const char *variant)
{
    sc_model *p;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", variant), NULL, &p));
    sc_model_info info;
    sc_model_get_info(p, &info);
    CHECK(!strcmp(info.family, "stable_audio") && info.takes_text && info.n_components == 3);
    CHECK(!strcmp(info.components[0], "attn") && !strcmp(info.components[1], "cross") &&
          !strcmp(info.components[2], "mlp"));
    check_case(p, variant, "raw", 0, 0, 1e-4);
    check_case(p, variant, "guided", 1, 0, 1e-4);
    check_case(p, variant, "neg", 1, 1, 1e-4);
    sc_model_free(p);
}

TEST(stable_audio_forward_matches_diffusers_text_projection) { check_variant("proj"); }
TEST(stable_audio_forward_matches_diffusers_identity_projection) { check_variant("ident"); }

/* The transformer folder alone (no projection model beside it) is refused, naming what is missing;
 * so is a transformer whose widths contradict its projection model. */
TEST(stable_audio_needs_its_projection_model)
{
    char dir[1024], cmd[8400];
    snprintf(dir, sizeof dir, "%s", test_path("sa_alone"));
    snprintf(cmd, sizeof cmd, "mkdir -p %s/x && cp -r %s %s/x/", dir, test_fixture_sub("stableaudio", "proj/transformer"),
             dir);
    CHECK(system(cmd) == 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/x/transformer", dir);
    sc_model *p = NULL;
    CHECK(sc_model_load(path, NULL, &p) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "projection_model") != NULL, "%s", sc_last_error());
    /* Named directly inside a pipeline folder, the transformer finds it. */
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "proj/transformer"), NULL, &p));
    sc_model_free(p);
    /* The other variant's projection model (text_encoder_dim 32) is fine for widths but the
     * conditioning widths must agree: ident's DiT takes 32-wide conditioning like proj's, so swap in
     * a projection model of another width. */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/y && cp -r %s %s/y/ && mkdir -p %s/y/projection_model && "
             "sed 's/\"conditioning_dim\": 32/\"conditioning_dim\": 16/' %s > %s/y/projection_model/config.json", dir,
             test_fixture_sub("stableaudio", "proj/transformer"), dir, dir,
             test_fixture_sub("stableaudio", "proj/projection_model/config.json"), dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/y/transformer", dir);
    CHECK(sc_model_load(path, NULL, &p) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "conditioning_dim 16") != NULL, "%s", sc_last_error());
}

/* Seconds outside the projection model's range, a start after the end, and a missing total are
 * refused by name. */
TEST(stable_audio_refuses_what_it_cannot_do)
{
    sc_model *p;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "ident"), NULL, &p));
    float text[6 * 32] = {0}, start[1] = {0}, total[1] = {60}, x[8 * 12] = {0}, t[1] = {0.5f}, out[8 * 12];
    sc_cond c = {.n = 1, .text = text, .text_len = 6, .text_dim = 32, .n_scalars = 2};
    c.scalars[0] = (sc_scalar){"seconds_start", start};
    c.scalars[1] = (sc_scalar){"seconds_total", total};
    CHECK(sc_model_forward(p, &c, x, t, out, 1) == SC_ERR_ARG); /* max_value 47 */
    CHECK_MSG(strstr(sc_last_error(), "seconds_total") && strstr(sc_last_error(), "0..47"), "%s", sc_last_error());
    total[0] = 10;
    start[0] = 11;
    CHECK(sc_model_forward(p, &c, x, t, out, 1) == SC_ERR_ARG);
    CHECK_MSG(strstr(sc_last_error(), "after seconds_total"), "%s", sc_last_error());
    start[0] = 0;
    c.n_scalars = 1;
    CHECK(sc_model_forward(p, &c, x, t, out, 1) == SC_ERR_ARG);
    CHECK_MSG(strstr(sc_last_error(), "seconds_total"), "%s", sc_last_error());
    c.n_scalars = 2;
    CHECK_OK(sc_model_forward(p, &c, x, t, out, 1));
    sc_model_free(p);
}

/* k-diffusion's sample_dpmpp_3m_sde over VDenoiser, as stable-audio-tools samples (the reference's
 * sigmas, guidance 7, its initial latents and per-step noise injected): the final latents within
 * 1e-3, and the model's time input per step as k-diffusion fed it. */
TEST(stable_audio_dpmpp3m_sde_matches_k_diffusion)
{
    sc_model *p;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "proj"), NULL, &p));
    sc_model_info info;
    sc_model_get_info(p, &info);
    CHECK(info.default_sampler == SC_SAMPLER_K_DPMPP3M_SDE);
    npy_array text, mask_a, secs, lat, noise, ref;
    load_case("proj", "guided", "text", &text);
    load_case("proj", "guided", "mask", &mask_a);
    load_case("proj", "guided", "seconds", &secs);
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/sample_latents_in.npy"), &lat));
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/sample_noise.npy"), &noise));
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/sample_out.npy"), &ref));
    int *mask = ints_of(&mask_a);
    float start[2], total[2];
    for (int i = 0; i < 2; i++) start[i] = secs.data[2 * i], total[i] = secs.data[2 * i + 1];
    sc_cond c = {.n = 2, .text = text.data, .text_mask = mask, .text_len = (int)text.shape[1],
                 .text_dim = (int)text.shape[2], .n_scalars = 2};
    c.scalars[0] = (sc_scalar){"seconds_start", start};
    c.scalars[1] = (sc_scalar){"seconds_total", total};
    sc_gen_params gp = sc_gen_params_default();
    gp.cond = &c;
    gp.steps = (int)noise.shape[0];
    gp.sampler = SC_SAMPLER_K_DPMPP3M_SDE;
    gp.cfg = 7.0f;
    gp.threads = 1;
    gp.latents_in = lat.data;
    gp.noise_in = noise.data;
    float *out = malloc(ref.numel * sizeof *out);
    CHECK(out != NULL);
    CHECK_OK(sc_generate(p, &gp, out));
    const double err = test_rel_err(out, ref.data, ref.numel);
    fprintf(stderr, "  dpmpp-3m-sde trajectory: %.3g\n", err);
    CHECK_MSG(err <= 1e-3, "final latents off by %.3g (tolerance 1e-3)", err);
    /* The engine's own noise gives another, finite result; the same seed the same one. */
    gp.noise_in = NULL;
    float *a = malloc(ref.numel * sizeof *a), *b = malloc(ref.numel * sizeof *b);
    CHECK(a && b);
    CHECK_OK(sc_generate(p, &gp, a));
    CHECK_OK(sc_generate(p, &gp, b));
    CHECK(!memcmp(a, b, ref.numel * sizeof *a));
    CHECK(test_rel_err(a, ref.data, ref.numel) > 1e-2);
    /* Samplers of other schedules are refused by name. */
    gp.sampler = SC_SAMPLER_DDIM;
    CHECK(sc_generate(p, &gp, a) == SC_ERR_ARG);
    CHECK_MSG(strstr(sc_last_error(), "sigma"), "%s", sc_last_error());
    free(a);
    free(b);
    free(out);
    free(mask);
    npy_free(&text);
    npy_free(&mask_a);
    npy_free(&secs);
    npy_free(&lat);
    npy_free(&noise);
    npy_free(&ref);
    sc_model_free(p);
}

/* Every policy runs on Stable Audio's three components (the step-level ones on block 0's
 * normalised input), skips work and gives finite latents; SmoothCache reads a schedule under
 * diffusers' keys (attn1, attn2, ff) and one made from the engine's calibration of the three.
 * (How near the uncached latents they stay is not asserted: this random model is no denoiser, and
 * a stochastic sampler over it amplifies any change; the shipped audio model will be measured.) */
TEST(stable_audio_every_policy_runs)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "proj"), NULL, &m));
    npy_array text, mask_a, secs;
    load_case("proj", "guided", "text", &text);
    load_case("proj", "guided", "mask", &mask_a);
    load_case("proj", "guided", "seconds", &secs);
    int *mask = ints_of(&mask_a);
    float start[2], total[2];
    for (int i = 0; i < 2; i++) start[i] = secs.data[2 * i], total[i] = secs.data[2 * i + 1];
    sc_cond c = {.n = 2, .text = text.data, .text_mask = mask, .text_len = (int)text.shape[1],
                 .text_dim = (int)text.shape[2], .n_scalars = 2};
    c.scalars[0] = (sc_scalar){"seconds_start", start};
    c.scalars[1] = (sc_scalar){"seconds_total", total};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &c;
    p.steps = 10;
    p.cfg = 3.0f;
    p.sampler = SC_SAMPLER_K_DPMPP3M_SDE;
    p.threads = 1;
    float ref[2 * 8 * 16], lat[2 * 8 * 16];
    CHECK_OK(sc_generate(m, &p, ref));
    char sched[1024], ratios[1024], errs[1024], smooth[1200], smooth2[1024], magspec[1200];
    snprintf(sched, sizeof sched, "%s", test_path("sa_schedule.json"));
    FILE *f = fopen(sched, "w");
    CHECK(f != NULL);
    fprintf(f, "{\"attn1\": [1, 1, 0, 1, 1, 0, 1, 0, 1, 1], \"attn2\": [1, 0, 1, 0, 1, 0, 1, 0, 1, 1], "
               "\"ff\": [1, 1, 1, 0, 1, 1, 0, 1, 1, 1]}\n");
    fclose(f);
    /* MagCache's ratios and SmoothCache's error curves, calibrated here on the same model. */
    const char *kinds[2] = {"magcache", "smooth"};
    char *paths[2] = {ratios, errs};
    snprintf(ratios, sizeof ratios, "%s", test_path("sa_ratios.json"));
    snprintf(errs, sizeof errs, "%s", test_path("sa_errors.json"));
    for (int i = 0; i < 2; i++) {
        sc_calibration *cal;
        CHECK_OK(sc_calibration_new(kinds[i], &cal));
        sc_gen_params q = p;
        q.calibration = cal;
        CHECK_OK(sc_generate(m, &q, lat));
        CHECK_OK(sc_calibration_save(cal, paths[i], 0));
        sc_calibration_free(cal);
    }
    {
        /* the calibration file names the seconds its clips were conditioned on: the value, or the
         * range when the samples differed */
        json_error_t je;
        json_t *j = json_load_file(errs, 0, &je), *meta = j ? json_object_get(j, "_meta") : NULL;
        CHECK(meta != NULL);
        const float *v[2] = {start, total};
        const char *names[2] = {"seconds_start", "seconds_total"};
        for (int k = 0; meta && k < 2; k++) {
            /* written as decimals that read back as the same floats */
            const float lo = v[k][0] < v[k][1] ? v[k][0] : v[k][1], hi = v[k][0] < v[k][1] ? v[k][1] : v[k][0];
            const json_t *x = json_object_get(meta, names[k]);
            if (lo == hi)
                CHECK_MSG(json_is_number(x) && (float)json_number_value(x) == lo, "%s", names[k]);
            else
                CHECK_MSG(json_is_object(x) && (float)json_number_value(json_object_get(x, "min")) == lo &&
                              (float)json_number_value(json_object_get(x, "max")) == hi,
                          "%s", names[k]);
        }
        json_decref(j);
    }
    snprintf(smooth, sizeof smooth, "smooth:schedule=%s", sched);
    snprintf(smooth2, sizeof smooth2, "%s", test_path("sa_schedule2.json"));
    char args[4096], *log = NULL;
    snprintf(args, sizeof args, "schedule --errors %s --alpha 0.5 --out %s --quiet", errs, smooth2);
    const int st = test_cli(args, &log);
    CHECK_MSG(st == 0, "exit %d:\n%s", st, log);
    free(log);
    char smooth_cal[1200];
    snprintf(smooth_cal, sizeof smooth_cal, "smooth:schedule=%s", smooth2);
    snprintf(magspec, sizeof magspec, "magcache:ratios=%s,thresh=5", ratios);
    const char *specs[] = {"fora:n=2", smooth, smooth_cal, "taylorseer:interval=2,warmup=2",
                           "abcache:interval=2,warmup=3", "adacache:codebook=100:2", "teacache:thresh=20", magspec,
                           "fbcache:thresh=5", "dbcache:fn=1,thresh=5,warmup=2",
                           "fastercache:uncond_every=2,attn_every=2", "fora:n=3,store=bf16"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        sc_cache_stats s;
        p.cache = specs[i];
        p.stats = &s;
        CHECK_OK(sc_generate(m, &p, lat));
        long skipped = 0;
        for (int k = 0; k < s.n_components; k++) skipped += s.skipped[k];
        const double err = test_rel_err(lat, ref, sizeof lat / sizeof *lat);
        fprintf(stderr, "  %-40.40s MACs %.3f, relative change %.3g\n", specs[i], s.macs / s.macs_uncached, err);
        CHECK_MSG(s.n_components == 3, "%s: %d components", specs[i], s.n_components);
        CHECK_MSG(skipped > 0 || s.macs < s.macs_uncached, "%s skipped nothing", specs[i]);
        int finite = 1;
        for (size_t e = 0; e < sizeof lat / sizeof *lat; e++) finite &= isfinite(lat[e]) != 0;
        CHECK_MSG(finite, "%s: non-finite latents", specs[i]);
    }
    free(mask);
    npy_free(&text);
    npy_free(&mask_a);
    npy_free(&secs);
    sc_model_free(m);
}

/* ---------------------------------------------------------------- reject suites */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* A pipeline folder with these two configs (no weights: every case fails before them). */
static sc_status load_configs(const char *dit, const char *proj)
{
    char dir[900], p[2400];
    snprintf(dir, sizeof dir, "%s", test_path("sa_reject"));
    snprintf(p, sizeof p, "mkdir -p %s/transformer %s/projection_model", dir, dir);
    CHECK(system(p) == 0);
    snprintf(p, sizeof p, "%s/model_index.json", dir);
    write_file(p, "{\"_class_name\": \"StableAudioPipeline\", \"transformer\": [\"diffusers\", \"StableAudioDiTModel\"], "
                  "\"projection_model\": [\"stable_audio\", \"StableAudioProjectionModel\"]}");
    snprintf(p, sizeof p, "%s/transformer/config.json", dir);
    write_file(p, dit);
    snprintf(p, sizeof p, "%s/projection_model/config.json", dir);
    write_file(p, proj);
    sc_model *m = NULL;
    const sc_status s = sc_model_load(dir, NULL, &m);
    sc_model_free(m);
    return s;
}

/* Each configuration mistake is refused with its own message naming the file. */
TEST(stable_audio_config_reject_suite)
{
    static const char *proj_ok = "{\"_class_name\": \"StableAudioProjectionModel\", \"text_encoder_dim\": 24, "
                                 "\"conditioning_dim\": 32, \"min_value\": 0, \"max_value\": 512}";
#define SA_DIT(extra)                                                                                           \
    "{\"_class_name\": \"StableAudioDiTModel\", \"sample_size\": 16, \"in_channels\": 8, \"num_layers\": 2, "  \
    "\"out_channels\": 8, \"cross_attention_dim\": 32, \"global_states_input_dim\": 64, "                      \
    "\"cross_attention_input_dim\": 32" extra "}"
    static const struct {
        const char *dit, *proj, *want;
    } cases[] = {
        {SA_DIT(", \"attention_head_dim\": 18, \"num_attention_heads\": 4"), NULL, "multiple of 4"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 3"), NULL,
         "not a multiple of num_key_value_attention_heads 3"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 2, \"num_key_value_attention_heads\": 4"), NULL,
         "not a multiple of num_key_value_attention_heads 4"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2, "
                "\"time_proj_dim\": 15"), NULL, "time_proj_dim 15 must be even"},
        {"{\"_class_name\": \"StableAudioDiTModel\", \"sample_size\": 0, \"attention_head_dim\": 16}", NULL,
         "sample_size"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2, "
                "\"num_layers\": 1.5"), NULL, "num_layers"},
        {"{\"_class_name\": \"StableAudioDiTModel2\", \"global_states_input_dim\": 64}", NULL,
         "is not a model this engine runs"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2"),
         "{\"text_encoder_dim\": 24, \"conditioning_dim\": 32, \"min_value\": 5, \"max_value\": 5}",
         "max_value 5 must be above min_value 5"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2"),
         "{\"conditioning_dim\": 32, \"min_value\": 0, \"max_value\": 5}", "text_encoder_dim"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2"),
         "{\"_class_name\": \"T5EncoderModel\", \"text_encoder_dim\": 24, \"conditioning_dim\": 32, \"min_value\": 0, "
         "\"max_value\": 5}", "not Stable Audio's projection model"},
        {SA_DIT(", \"attention_head_dim\": 16, \"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2"),
         "{\"text_encoder_dim\": 24, \"conditioning_dim\": 16, \"min_value\": 0, \"max_value\": 5}",
         "cross_attention_input_dim 32 differs"},
        {"{\"_class_name\": \"StableAudioDiTModel\", \"in_channels\": 8, \"num_layers\": 2, \"attention_head_dim\": 16, "
         "\"num_attention_heads\": 4, \"num_key_value_attention_heads\": 2, \"cross_attention_dim\": 32, "
         "\"global_states_input_dim\": 48, \"cross_attention_input_dim\": 32}", NULL,
         "global_states_input_dim 48 is not twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const sc_status s = load_configs(cases[i].dit, cases[i].proj ? cases[i].proj : proj_ok);
        CHECK_MSG(s != SC_OK, "case %zu loaded", i);
        CHECK_MSG(strstr(sc_last_error(), cases[i].want) && strstr(sc_last_error(), "config.json"),
                  "case %zu: \"%s\" lacks \"%s\"", i, sc_last_error(), cases[i].want);
    }
#undef SA_DIT
}
