/* The PixArt family against diffusers' PixArtTransformer2DModel (tools/reference_pixart.py,
 * tests/fixtures/pixart/): PixArt-alpha, alpha 1024 (micro-conditions) and Sigma (interpolation
 * scale 2), on their own grid and a non-square one, with a prompt row and an empty-prompt row. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "smoothcache_tools.h"

/* A .npy fixture of small integers as int (npy_read gives floats: exact here). */
static int *read_ints(const char *path, npy_array *a)
{
    CHECK_OK(npy_read(path, a));
    int *v = malloc(a->numel * sizeof *v);
    CHECK(v != NULL);
    for (uint64_t i = 0; i < a->numel; i++) v[i] = (int)a->data[i];
    return v;
}

static void fixture(const char *variant, const char *cid, const char *what, char *path, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/case_%s_%s.npy", variant, cid, what);
    snprintf(path, cap, "%s", test_fixture_sub("pixart", rel));
}

static void check_variant(const char *variant, double tol)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("pixart", variant), NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(!strcmp(info.family, "pixart") && info.takes_text && info.n_components == 3);
    CHECK(!strcmp(info.components[0], "attn") && !strcmp(info.components[1], "cross") &&
          !strcmp(info.components[2], "mlp"));
    const char *cases[] = {"base", "grid"};
    for (int ci = 0; ci < 2; ci++) {
        char path[2048];
        npy_array x, t, text, mask_a, out_ref, hw;
        fixture(variant, cases[ci], "x", path, sizeof path);
        CHECK_OK(npy_read(path, &x));
        fixture(variant, cases[ci], "t", path, sizeof path);
        CHECK_OK(npy_read(path, &t));
        fixture(variant, cases[ci], "text", path, sizeof path);
        CHECK_OK(npy_read(path, &text));
        fixture(variant, cases[ci], "mask", path, sizeof path);
        int *mask = read_ints(path, &mask_a);
        fixture(variant, cases[ci], "out", path, sizeof path);
        CHECK_OK(npy_read(path, &out_ref));
        const int n = (int)x.shape[0];
        sc_cond c = {.n = n, .text = text.data, .text_mask = mask, .text_len = (int)text.shape[1],
                     .text_dim = (int)text.shape[2]};
        float h[2], w[2];
        int has_hw = 0;
        fixture(variant, cases[ci], "hw", path, sizeof path);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            has_hw = 1;
            CHECK_OK(npy_read(path, &hw));
            for (int i = 0; i < n; i++) h[i] = hw.data[2 * i], w[i] = hw.data[2 * i + 1];
            c.scalars[0] = (sc_scalar){"height", h};
            c.scalars[1] = (sc_scalar){"width", w};
            c.n_scalars = 2;
        }
        const sc_shape shape = {3, {(int)x.shape[1], (int)x.shape[2], (int)x.shape[3]}};
        float *out = malloc(out_ref.numel * sizeof *out);
        CHECK_OK(sc_model_forward_shape(m, &c, &shape, x.data, t.data, out, 0));
        double err = test_rel_err(out, out_ref.data, out_ref.numel);
        fprintf(stderr, "  %s/%s: %.3g\n", variant, cases[ci], err);
        CHECK_MSG(err <= tol, "%s/%s: relative error %.3g (tolerance %.1g)", variant, cases[ci], err, tol);
        if (has_hw) {
            /* Without the scalars the sizes come from the latent shape times 8: the same numbers. */
            c.n_scalars = 0;
            CHECK_OK(sc_model_forward_shape(m, &c, &shape, x.data, t.data, out, 0));
            err = test_rel_err(out, out_ref.data, out_ref.numel);
            CHECK_MSG(err <= tol, "%s/%s without scalars: relative error %.3g", variant, cases[ci], err);
            npy_free(&hw);
        }
        free(out);
        free(mask);
        npy_free(&x);
        npy_free(&t);
        npy_free(&text);
        npy_free(&mask_a);
        npy_free(&out_ref);
    }
    sc_model_free(m);
}

TEST(pixart_alpha_forward_matches_diffusers) { check_variant("alpha", 1e-4); }
TEST(pixart_alpha_micro_conditions_forward_matches_diffusers) { check_variant("alpha_mc", 1e-4); }
TEST(pixart_sigma_forward_matches_diffusers) { check_variant("sigma", 1e-4); }

/* ---------------------------------------------------------------- the pipeline */

static float *load_npy(const char *pipe, const char *name, npy_array *a)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/ref/%s", pipe, name);
    CHECK_OK(npy_read(test_fixture_sub("pixart", rel), a));
    return a->data;
}

/* generate from the reference's prompts and initial latents, as diffusers' pipeline ran them
 * (tools/reference_pixart_pipeline.py): final latents within tol, pictures within 1/255 on 99.9%
 * of the values (the reference's float pictures rounded as diffusers rounds them). */
static void check_pipeline(const char *pipe, const char *extra, double tol)
{
    char args[8192], rel[256], lat[1024], pics[1024];
    snprintf(lat, sizeof lat, "%s", test_path("z.npy"));
    snprintf(pics, sizeof pics, "%s", test_path("p.npz"));
    snprintf(rel, sizeof rel, "%s/ref/prompts.txt", pipe);
    char prompts[2048];
    snprintf(prompts, sizeof prompts, "%s", test_fixture_sub("pixart", rel));
    snprintf(rel, sizeof rel, "%s/ref/latents_in.npy", pipe);
    snprintf(args, sizeof args, "generate --model %s --prompts %s --latents-in %s --steps 4 --latents-out %s --out %s "
             "--threads 1 --force %s", test_fixture_sub("pixart", pipe), prompts, test_fixture_sub("pixart", rel), lat,
             pics, extra);
    char *log = NULL;
    const int st = test_cli(args, &log);
    CHECK_MSG(st == 0, "exit %d:\n%s", st, log);
    free(log);
    npy_array got, ref, img_ref;
    CHECK_OK(npy_read(lat, &got));
    load_npy(pipe, "latents_out.npy", &ref);
    CHECK(got.numel == ref.numel);
    const double err = test_rel_err(got.data, ref.data, ref.numel);
    fprintf(stderr, "  %s prompt to latents: relative error %.3g\n", pipe, err);
    CHECK_MSG(err <= tol, "%s: final latents off by %.3g (tolerance %.1g)", pipe, err, tol);
    sc_array img;
    CHECK_OK(sc_npz_read(pics, "arr_0", &img));
    load_npy(pipe, "images.npy", &img_ref);
    CHECK(img.numel == img_ref.numel && img.rank == 4 && img.shape[1] == 32 && img.shape[3] == 3);
    uint64_t off = 0;
    for (uint64_t i = 0; i < img.numel; i++)
        if (fabs((double)img.data[i] - 255.0 * img_ref.data[i]) > 1.0) off++;
    CHECK_MSG(off * 1000 <= img.numel, "%s: %llu of %llu picture values differ by more than 1/255", pipe,
              (unsigned long long)off, (unsigned long long)img.numel);
    sc_array_free(&img);
    npy_free(&got);
    npy_free(&ref);
    npy_free(&img_ref);
}

/* PixArtAlphaPipeline with DPMSolverMultistepScheduler: the folder's scheduler is the default. */
TEST(pixart_alpha_pipeline_prompt_to_image_matches_diffusers) { check_pipeline("pipe_alpha", "", 1e-4); }
/* PixArtSigmaPipeline with DDIMScheduler (clip_sample on, as its default), 300-token prompts. */
TEST(pixart_sigma_pipeline_prompt_to_image_matches_diffusers) { check_pipeline("pipe_sigma", "", 1e-3); }

/* sc_encode_prompts equals the pipeline's encode_prompt (prompts lower-cased and stripped, padded
 * to the pipeline's length, masked), and the empty prompt its negative embedding. */
TEST(pixart_encode_prompts_equals_pipeline_encode_prompt)
{
    const char *pipes[] = {"pipe_alpha", "pipe_sigma"};
    for (int p = 0; p < 2; p++) {
        sc_model *m;
        sc_tokenizer *t;
        sc_text_encoder *e;
        const char *dir = test_fixture_sub("pixart", pipes[p]);
        CHECK_OK(sc_model_load(dir, NULL, &m));
        CHECK_OK(sc_tokenizer_load(dir, SC_TOKENIZER_TRANSFORMERS, &t));
        CHECK_OK(sc_text_encoder_load(dir, &e));
        sc_model_info info;
        sc_model_get_info(m, &info);
        CHECK(info.text_len == (p ? 300 : 120) && info.text_dim == 32 && info.default_steps == 20);
        CHECK(info.default_sampler == (p ? SC_SAMPLER_DDIM : SC_SAMPLER_DPMPP2M));
        npy_array pe, pm, ne, nm;
        load_npy(pipes[p], "prompt_embeds.npy", &pe);
        load_npy(pipes[p], "attention_mask.npy", &pm);
        load_npy(pipes[p], "negative_embeds.npy", &ne);
        load_npy(pipes[p], "negative_mask.npy", &nm);
        const char *prompts[3] = {"A Red cube on a white background ", "a small blue ball", ""};
        const int L = info.text_len;
        CHECK(pe.shape[1] == (uint64_t)L);
        float *emb = malloc(3 * (size_t)L * 32 * sizeof *emb);
        int32_t *mask = malloc(3 * (size_t)L * sizeof *mask);
        CHECK_OK(sc_encode_prompts(m, t, e, 3, prompts, 0, emb, mask, 1));
        for (size_t i = 0; i < 2 * (size_t)L; i++) CHECK(mask[i] == (int32_t)pm.data[i]);
        for (size_t i = 0; i < (size_t)L; i++) CHECK(mask[2 * (size_t)L + i] == (int32_t)nm.data[i]);
        double err = test_rel_err(emb, pe.data, pe.numel);
        CHECK_MSG(err <= 1e-5, "%s prompts: relative error %.3g", pipes[p], err);
        err = test_rel_err(emb + 2 * (size_t)L * 32, ne.data, (size_t)L * 32);
        CHECK_MSG(err <= 1e-5, "%s empty prompt: relative error %.3g", pipes[p], err);
        /* The wrong encoder width is named. */
        sc_text_encoder *e2;
        CHECK_OK(sc_text_encoder_load(test_fixture_sub("t5", "v1_0"), &e2));
        sc_text_encoder_info ei;
        sc_text_encoder_get_info(e2, &ei);
        if (ei.width != 32) CHECK_ERR(sc_encode_prompts(m, t, e2, 1, prompts, 0, emb, mask, 1), SC_ERR_ARG, "wide");
        sc_text_encoder_free(e2);
        free(emb);
        free(mask);
        npy_free(&pe);
        npy_free(&pm);
        npy_free(&ne);
        npy_free(&nm);
        sc_text_encoder_free(e);
        sc_tokenizer_free(t);
        sc_model_free(m);
    }
}

/* Prompts encoded once by `encode` and given as --prompt-embeds give the same latents as the
 * prompts themselves; the negative prompt then comes from the pipeline's encoder. */
TEST(pixart_prompt_embeds_from_encode_equal_prompts)
{
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "%s", test_fixture_sub("pixart", "pipe_alpha"));
    char args[8192], npz[1024], a[1024], b[1024], prompts[1024], lat_in[1024];
    snprintf(npz, sizeof npz, "%s", test_path("e.npz"));
    snprintf(a, sizeof a, "%s", test_path("a.npy"));
    snprintf(b, sizeof b, "%s", test_path("b.npy"));
    snprintf(prompts, sizeof prompts, "%s", test_fixture_sub("pixart", "pipe_alpha/ref/prompts.txt"));
    snprintf(lat_in, sizeof lat_in, "%s", test_fixture_sub("pixart", "pipe_alpha/ref/latents_in.npy"));
    /* encode tokenizes as written: lower-case the prompts as the pipeline would. */
    snprintf(args, sizeof args, "encode --model %s --prompt 'a red cube on a white background' --prompt 'a small blue "
             "ball' --max-length 120 --out %s --quiet", pipe, npz);
    CHECK(test_cli(args, NULL) == 0);
    snprintf(args, sizeof args, "generate --model %s --prompt-embeds %s --latents-in %s --steps 3 --latents-out %s "
             "--quiet --threads 1", pipe, npz, lat_in, a);
    char *log = NULL;
    int st = test_cli(args, &log);
    CHECK_MSG(st == 0, "exit %d:\n%s", st, log);
    free(log);
    snprintf(args, sizeof args, "generate --model %s --prompts %s --latents-in %s --steps 3 --latents-out %s --quiet "
             "--threads 1", pipe, prompts, lat_in, b);
    CHECK(test_cli(args, NULL) == 0);
    npy_array x, y;
    CHECK_OK(npy_read(a, &x));
    CHECK_OK(npy_read(b, &y));
    CHECK(x.numel == y.numel && !memcmp(x.data, y.data, x.numel * sizeof(float)));
    npy_free(&x);
    npy_free(&y);
}

/* What a text-to-image model refuses, with the flag or field named. */
TEST(pixart_refuses_bad_conditioning)
{
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "%s", test_fixture_sub("pixart", "pipe_alpha"));
    char args[4096];
    char *log = NULL;
    snprintf(args, sizeof args, "generate --model %s --class 3 --latents-out %s", pipe, test_path("x.npy"));
    CHECK(test_cli(args, &log) == 2 && strstr(log, "--class: this model draws from prompts"));
    free(log);
    snprintf(args, sizeof args, "generate --model %s --latents-out %s", pipe, test_path("x.npy"));
    CHECK(test_cli(args, &log) == 2 && strstr(log, "give --prompt TEXT"));
    free(log);
    snprintf(args, sizeof args, "generate --model %s --prompt cat --latents-out %s", test_fixture("dit_a"),
             test_path("x.npy"));
    CHECK(test_cli(args, &log) == 2 && strstr(log, "class-conditional"));
    free(log);
    snprintf(args, sizeof args, "generate --model %s --prompt cat --prompt-embeds %s --latents-out %s", pipe,
             test_path("e.npz"), test_path("x.npy"));
    CHECK(test_cli(args, &log) == 2 && strstr(log, "not both"));
    free(log);
    /* A transformer folder alone has no text encoder to encode with. */
    snprintf(args, sizeof args, "generate --model %s --prompt cat --latents-out %s",
             test_fixture_sub("pixart", "alpha"), test_path("x.npy"));
    CHECK(test_cli(args, &log) == 2 && strstr(log, "no text_encoder/") && strstr(log, "--text-encoder PATH"));
    free(log);
    /* The library: text of the wrong width, no negative side with guidance, a bad mask, scalars. */
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("pixart", "alpha"), NULL, &m));
    float text[2 * 7 * 32] = {0}, x[2 * 4 * 8 * 8] = {0}, out[2 * 8 * 8 * 8], t[2] = {500, 500};
    int mask[14] = {1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0};
    sc_cond c = {.n = 2, .text = text, .text_mask = mask, .text_len = 7, .text_dim = 24};
    CHECK_ERR(sc_model_forward(m, &c, x, t, out, 1), SC_ERR_ARG, "caption_channels");
    c.text_dim = 32;
    CHECK_OK(sc_model_forward(m, &c, x, t, out, 1));
    mask[3] = 2;
    CHECK_ERR(sc_model_forward(m, &c, x, t, out, 1), SC_ERR_ARG, "sc_cond.text_mask[0][3] is 2");
    mask[3] = 0;
    const float hw[2] = {64, 64};
    c.scalars[0] = (sc_scalar){"height", hw};
    c.n_scalars = 1;
    CHECK_ERR(sc_model_forward(m, &c, x, t, out, 1), SC_ERR_ARG, "no micro-conditions");
    c.n_scalars = 0;
    const int classes[2] = {0, 1};
    c.classes = classes;
    CHECK_ERR(sc_model_forward(m, &c, x, t, out, 1), SC_ERR_ARG, "not class ids");
    c.classes = NULL;
    const sc_shape odd = {3, {4, 8, 7}};
    CHECK_ERR(sc_model_forward_shape(m, &c, &odd, x, t, out, 1), SC_ERR_ARG, "shape");
    sc_gen_params p = sc_gen_params_default();
    p.cond = &c;
    p.steps = 2;
    float lat[2 * 4 * 8 * 8];
    CHECK_ERR(sc_generate(m, &p, lat), SC_ERR_ARG, "sc_cond.neg_text");
    c.neg_text = text;
    c.neg_text_mask = mask;
    CHECK_OK(sc_generate(m, &p, lat));
    sc_model_free(m);
    /* alpha-1024's micro-conditions: both sizes or neither, in range. */
    CHECK_OK(sc_model_load(test_fixture_sub("pixart", "alpha_mc"), NULL, &m));
    float x16[2 * 4 * 16 * 16] = {0}, out16[2 * 8 * 16 * 16];
    sc_cond d = {.n = 2, .text = text, .text_mask = mask, .text_len = 7, .text_dim = 32};
    d.scalars[0] = (sc_scalar){"height", hw};
    d.n_scalars = 1;
    CHECK_ERR(sc_model_forward(m, &d, x16, t, out16, 1), SC_ERR_ARG, "both");
    const float zero[2] = {0, 64};
    d.scalars[1] = (sc_scalar){"width", zero};
    d.n_scalars = 2;
    CHECK_ERR(sc_model_forward(m, &d, x16, t, out16, 1), SC_ERR_ARG, "\"width\" of sample 0 is 0");
    d.scalars[1] = (sc_scalar){"fps", hw};
    CHECK_ERR(sc_model_forward(m, &d, x16, t, out16, 1), SC_ERR_ARG, "\"fps\" is not a PixArt condition");
    sc_model_free(m);
}

/* ---------------------------------------------------------------- caching */

/* A JSON fixture's integer field (0 when absent). */
static long json_count(const char *rel, const char *key)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("pixart", rel), 1 << 20, &j));
    const json_t *v = json_object_get(j, key);
    const long n = json_is_integer(v) ? (long)json_integer_value(v) : 0;
    json_decref(j);
    return n;
}

/* A schedule applied by the official SmoothCache helpers on diffusers' pipeline
 * (tools/reference_pixart_cache.py: DiffuserCacheHelper on attn1; SmoothCacheHelper on attn1, attn2
 * and ff with a per-block key) and by --cache smooth:schedule= here: the same latents, the same
 * reuses per component. */
TEST(pixart_smoothcache_schedule_equals_official_helper)
{
    const char *cases[] = {"attn1", "all"};
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "%s", test_fixture_sub("pixart", "pipe_alpha"));
    for (int c = 0; c < 2; c++) {
        char args[8192], lat[1024], rep[1024], rel[256], sched[1024];
        snprintf(lat, sizeof lat, "%s", test_path("z.npy"));
        snprintf(rep, sizeof rep, "%s", test_path("r.json"));
        snprintf(rel, sizeof rel, "cache/%s.json", cases[c]);
        snprintf(sched, sizeof sched, "%s", test_fixture_sub("pixart", rel));
        snprintf(args, sizeof args, "generate --model %s --prompts %s --latents-in %s --steps 10 --cache "
                 "smooth:schedule=%s --latents-out %s --report %s --quiet --force --threads 1", pipe,
                 test_fixture_sub("pixart", "pipe_alpha/ref/prompts.txt"),
                 test_fixture_sub("pixart", "pipe_alpha/ref/latents_in.npy"), sched, lat, rep);
        char *log = NULL;
        const int st = test_cli(args, &log);
        CHECK_MSG(st == 0, "exit %d:\n%s", st, log);
        free(log);
        npy_array got, ref;
        CHECK_OK(npy_read(lat, &got));
        snprintf(rel, sizeof rel, "cache/%s_out.npy", cases[c]);
        CHECK_OK(npy_read(test_fixture_sub("pixart", rel), &ref));
        const double err = test_rel_err(got.data, ref.data, ref.numel);
        fprintf(stderr, "  %s schedule against the official helper: relative error %.3g\n", cases[c], err);
        CHECK_MSG(err <= 1e-4, "%s: latents off by %.3g", cases[c], err);
        json_t *r;
        CHECK_OK(json_load_object_file(rep, 1 << 20, &r));
        const json_t *skipped = json_object_get(json_array_get(json_object_get(r, "runs"), 0), "skipped");
        snprintf(rel, sizeof rel, "cache/%s_reused.json", cases[c]);
        const char *ours[3] = {"attn", "cross", "mlp"}, *theirs[3] = {"attn1", "attn2", "ff"};
        for (int k = 0; k < 3; k++) {
            const long want = json_count(rel, theirs[k]);
            const long got_k = (long)json_integer_value(json_object_get(skipped, ours[k]));
            CHECK_MSG(got_k == want, "%s: %s reused %ld times, the official helper %ld", cases[c], ours[k], got_k, want);
        }
        json_decref(r);
        npy_free(&got);
        npy_free(&ref);
    }
}

/* calibrate --prompts with the official averaging (pooled over the batch, then over blocks) gives
 * the curves of the official DiffuserCalibrationHelper on attn1, attn2 and ff, and the schedule
 * made from them is the one the helper writes, under diffusers' keys. */
TEST(pixart_calibration_equals_official_helper)
{
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "%s", test_fixture_sub("pixart", "pipe_alpha"));
    char args[8192], cal[1024], sched[1024];
    snprintf(cal, sizeof cal, "%s", test_path("cal.json"));
    snprintf(sched, sizeof sched, "%s", test_path("s.json"));
    snprintf(args, sizeof args, "calibrate --model %s --prompts %s --latents-in %s --steps 10 --batch 2 --out %s "
             "--quiet --threads 1", pipe, test_fixture_sub("pixart", "pipe_alpha/ref/prompts.txt"),
             test_fixture_sub("pixart", "pipe_alpha/ref/latents_in.npy"), cal);
    char *log = NULL;
    int st = test_cli(args, &log);
    CHECK_MSG(st == 0, "exit %d:\n%s", st, log);
    free(log);
    /* --samples against the prompts file: refused before anything is encoded */
    snprintf(args, sizeof args, "calibrate --model %s --prompts %s --samples 99 --steps 10 --out %s", pipe,
             test_fixture_sub("pixart", "pipe_alpha/ref/prompts.txt"), test_path("cal99.json"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 2 && strstr(log, "--samples 99: the prompts give") && !strstr(log, "encoding"), "exit %d:\n%s", st,
              log);
    free(log);
    json_t *ours, *ref;
    CHECK_OK(json_load_object_file(cal, 1 << 20, &ours));
    CHECK_OK(json_load_object_file(test_fixture_sub("pixart", "cache/calib_rows.json"), 1 << 20, &ref));
    const char *mine[3] = {"attn", "cross", "mlp"}, *theirs[3] = {"attn1", "attn2", "ff"};
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        const json_t *a = json_object_get(ours, mine[k]), *b = json_object_get(json_object_get(ref, "rows"), theirs[k]);
        CHECK(json_array_size(a) == 3 && json_array_size(b) == 3);
        for (size_t lag = 0; lag < 3; lag++) {
            const json_t *ra = json_array_get(a, lag), *rb = json_array_get(b, lag);
            CHECK(json_array_size(ra) == json_array_size(rb) && json_array_size(rb) == 9 - lag);
            for (size_t i = 0; i < json_array_size(rb); i++) {
                const double d = fabs(json_number_value(json_array_get(ra, i)) - json_number_value(json_array_get(rb, i)));
                worst = d > worst ? d : worst;
            }
        }
    }
    fprintf(stderr, "  calibration curves against the official helper: largest difference %.3g\n", worst);
    CHECK_MSG(worst <= 1e-5, "calibration curves differ by %.3g", worst);
    json_decref(ours);
    json_decref(ref);
    snprintf(args, sizeof args, "schedule --errors %s --alpha 0.35 --out %s --quiet", cal, sched);
    CHECK(test_cli(args, NULL) == 0);
    CHECK_OK(json_load_object_file(sched, 1 << 20, &ours));
    CHECK_OK(json_load_object_file(test_fixture_sub("pixart", "cache/calib_schedule.json"), 1 << 20, &ref));
    for (int k = 0; k < 3; k++)
        CHECK_MSG(json_equal(json_object_get(ours, theirs[k]), json_object_get(ref, theirs[k])),
                  "schedule for %s differs from the official helper's", theirs[k]);
    json_decref(ours);
    json_decref(ref);
}

/* Every policy runs on PixArt's three components (the step-level ones on its block-0 modulated
 * input), skips work, and stays near the uncached latents. */
TEST(pixart_every_policy_runs)
{
    sc_model *m;
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "%s", test_fixture_sub("pixart", "pipe_alpha"));
    CHECK_OK(sc_model_load(pipe, NULL, &m));
    sc_tokenizer *t;
    sc_text_encoder *e;
    CHECK_OK(sc_tokenizer_load(pipe, SC_TOKENIZER_TRANSFORMERS, &t));
    CHECK_OK(sc_text_encoder_load(pipe, &e));
    const char *prompts[3] = {"a red cube on a white background", "a small blue ball", ""};
    const int L = 120, D = 32;
    float *emb = malloc(3 * (size_t)L * D * sizeof *emb);
    int32_t *mask = malloc(3 * (size_t)L * sizeof *mask);
    CHECK_OK(sc_encode_prompts(m, t, e, 3, prompts, 0, emb, mask, 1));
    float *neg = malloc(2 * (size_t)L * D * sizeof *neg);
    int32_t *neg_mask = malloc(2 * (size_t)L * sizeof *neg_mask);
    for (int i = 0; i < 2; i++) {
        memcpy(neg + (size_t)i * L * D, emb + 2 * (size_t)L * D, (size_t)L * D * sizeof *neg);
        memcpy(neg_mask + (size_t)i * L, mask + 2 * (size_t)L, (size_t)L * sizeof *mask);
    }
    sc_cond c = {.n = 2, .text = emb, .text_mask = (const int *)mask, .neg_text = neg,
                 .neg_text_mask = (const int *)neg_mask, .text_len = L, .text_dim = D};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &c;
    p.steps = 10; /* the schedule's length */
    p.cfg = 4.5f;
    p.sampler = SC_SAMPLER_DPMPP2M;
    p.threads = 1;
    float ref[2 * 4 * 8 * 8], lat[2 * 4 * 8 * 8];
    CHECK_OK(sc_generate(m, &p, ref));
    /* MagCache needs its ratios: calibrated here on the same model. */
    sc_calibration *cal;
    CHECK_OK(sc_calibration_new("magcache", &cal));
    sc_gen_params q = p;
    q.calibration = cal;
    CHECK_OK(sc_generate(m, &q, lat));
    char ratios[1024], smooth[1200], magspec[1200];
    snprintf(ratios, sizeof ratios, "%s", test_path("ratios.json"));
    CHECK_OK(sc_calibration_save(cal, ratios, 0));
    sc_calibration_free(cal);
    snprintf(smooth, sizeof smooth, "smooth:schedule=%s", test_fixture_sub("pixart", "cache/all.json"));
    snprintf(magspec, sizeof magspec, "magcache:ratios=%s,thresh=0.5", ratios);
    const char *specs[] = {"fora:n=2", smooth, "taylorseer:interval=2,warmup=2", "abcache:interval=2,warmup=3",
                           "adacache", "teacache:thresh=0.5", magspec, "fbcache:thresh=0.5",
                           "dbcache:fn=1,thresh=0.5,warmup=2", "fastercache:uncond_every=2,attn_every=2",
                           "fora:n=3,store=bf16"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        sc_cache_stats st;
        p.cache = specs[i];
        p.stats = &st;
        CHECK_OK(sc_generate(m, &p, lat));
        long skipped = 0;
        for (int k = 0; k < st.n_components; k++) skipped += st.skipped[k];
        const double err = test_rel_err(lat, ref, sizeof lat / sizeof *lat);
        fprintf(stderr, "  %-40.40s MACs %.3f, relative change %.3g\n", specs[i], st.macs / st.macs_uncached, err);
        CHECK_MSG(st.n_components == 3, "%s: %d components", specs[i], st.n_components);
        CHECK_MSG(skipped > 0 || st.macs < st.macs_uncached, "%s skipped nothing", specs[i]);
        CHECK_MSG(err < 0.5, "%s: latents %.3g away from uncached", specs[i], err);
    }
    free(emb);
    free(mask);
    free(neg);
    free(neg_mask);
    sc_text_encoder_free(e);
    sc_tokenizer_free(t);
    sc_model_free(m);
}
