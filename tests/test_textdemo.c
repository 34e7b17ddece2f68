/* The text-to-image demo's checker against its Python specification (tools/textdemo/check.py,
 * tests/fixtures/textdemo_check/): what it reads off each picture and its verdict for the right
 * prompt and a wrong one, on data-set pictures and on noise. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "metrics/textdemo_check.h"
#include "smoothcache_tools.h"

TEST(textdemo_checker_equals_python)
{
    npy_array imgs;
    CHECK_OK(npy_read(test_fixture_sub("textdemo_check", "images.npy"), &imgs));
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("textdemo_check", "cases.json"), 1 << 22, &j));
    const json_t *cases = json_object_get(j, "cases");
    const size_t n = json_array_size(cases), px = 32 * 32 * 3;
    CHECK(n == imgs.shape[0] + 1 && imgs.rank == 4 && imgs.shape[1] == 32);
    uint8_t *img = malloc(px);
    int shown = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        for (size_t k = 0; k < px; k++) img[k] = (uint8_t)imgs.data[i * px + k];
        const json_t *cs = json_array_get(cases, i);
        const json_t *rd = json_object_get(cs, "read");
        int c, s, b;
        textdemo_read(img, &c, &s, &b);
        CHECK_MSG(c == json_integer_value(json_array_get(rd, 0)) && s == json_integer_value(json_array_get(rd, 1)) &&
                      b == json_integer_value(json_array_get(rd, 2)),
                  "case %zu: read (%d, %d, %d), Python (%lld, %lld, %lld)", i, c, s, b,
                  (long long)json_integer_value(json_array_get(rd, 0)), (long long)json_integer_value(json_array_get(rd, 1)),
                  (long long)json_integer_value(json_array_get(rd, 2)));
        const char *p = json_string_value(json_object_get(cs, "prompt")), *w = json_string_value(json_object_get(cs, "wrong"));
        CHECK(sc_textdemo_shows(img, p) == json_integer_value(json_object_get(cs, "shows")));
        CHECK(sc_textdemo_shows(img, w) == json_integer_value(json_object_get(cs, "shows_wrong")));
        shown += sc_textdemo_shows(img, p) == 1;
    }
    CHECK(shown == 100); /* every data-set picture shows its own prompt; noise shows none */
    CHECK(sc_textdemo_shows(img, "a purple square") == -1);
    CHECK(sc_textdemo_shows(img, "A RED Circle") == sc_textdemo_shows(img, "a red circle"));
    free(img);
    json_decref(j);
    npy_free(&imgs);
}

/* ---------------------------------------------------------------- the shipped model */

/* Its first 24 evaluation prompts (every seen colour-shape pair on a dark background, then four on
 * a light one), with the pipeline's sampler and steps (DPM-Solver++ 20) and the guidance it is
 * shipped at (3), seeds 0..23: measured 19 of 24 shown uncached and 22 with the shipped schedule
 * (alpha 0.15, 0.541x MACs); models/README.md has the 200-prompt figures (94.0 % and 92.0 %). The
 * floor leaves room for another thread count's rounding; it catches a broken model or pipeline. */
#define TEXTDEMO_N 24
#define TEXTDEMO_CFG 3.0f
#define TEXTDEMO_MIN_SHOWN 17

static int shown(sc_model *m, const char *cache, char lines[][128], sc_cache_stats *st)
{
    sc_tokenizer *t;
    sc_text_encoder *e;
    const char *dir = test_source("models/textdemo");
    CHECK_OK(sc_tokenizer_load(dir, SC_TOKENIZER_TRANSFORMERS, &t));
    CHECK_OK(sc_text_encoder_load(dir, &e));
    sc_model_info info;
    sc_model_get_info(m, &info);
    const int L = info.text_len, D = info.text_dim, n = TEXTDEMO_N;
    const char *prompts[TEXTDEMO_N + 1];
    for (int i = 0; i < n; i++) prompts[i] = lines[i];
    prompts[n] = "";
    float *emb = malloc((size_t)(n + 1) * L * D * sizeof *emb), *neg = malloc((size_t)n * L * D * sizeof *neg);
    int32_t *mask = malloc((size_t)(n + 1) * L * sizeof *mask), *neg_mask = malloc((size_t)n * L * sizeof *neg_mask);
    CHECK_OK(sc_encode_prompts(m, t, e, n + 1, prompts, 0, emb, mask, 0));
    for (int i = 0; i < n; i++) {
        memcpy(neg + (size_t)i * L * D, emb + (size_t)n * L * D, (size_t)L * D * sizeof *neg);
        memcpy(neg_mask + (size_t)i * L, mask + (size_t)n * L, (size_t)L * sizeof *mask);
    }
    sc_cond c = {.n = n, .text = emb, .text_mask = (const int *)mask, .neg_text = neg,
                 .neg_text_mask = (const int *)neg_mask, .text_len = L, .text_dim = D};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &c;
    p.steps = info.default_steps;
    p.cfg = TEXTDEMO_CFG;
    p.sampler = (sc_sampler)info.default_sampler;
    p.cache = cache;
    p.stats = st;
    float *lat = malloc(sc_latent_bytes(m, n));
    uint8_t *rgb = malloc((size_t)n * 32 * 32 * 3);
    CHECK_OK(sc_generate(m, &p, lat));
    CHECK(sc_image_side(m, NULL) == 32);
    CHECK_OK(sc_decode_images(m, NULL, n, lat, rgb, 0));
    int k = 0;
    for (int i = 0; i < n; i++) k += sc_textdemo_shows(rgb + (size_t)i * 32 * 32 * 3, prompts[i]) == 1;
    free(emb);
    free(neg);
    free(mask);
    free(neg_mask);
    free(lat);
    free(rgb);
    sc_text_encoder_free(e);
    sc_tokenizer_free(t);
    return k;
}

TEST(textdemo_model_draws_its_prompts_and_smoothcache_keeps_them)
{
    static char lines[TEXTDEMO_N][128];
    FILE *f = fopen(test_source("models/textdemo/prompts-seen.txt"), "r");
    CHECK(f != NULL);
    for (int i = 0; i < TEXTDEMO_N; i++) {
        CHECK(fgets(lines[i], sizeof lines[i], f) != NULL);
        lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    fclose(f);
    sc_model *m;
    CHECK_OK(sc_model_load(test_source("models/textdemo"), NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(!strcmp(info.family, "pixart") && info.text_len == 120 && info.default_steps == 20 &&
          info.default_sampler == SC_SAMPLER_DPMPP2M && info.latent.dims[0] == 3);
    sc_cache_stats st;
    const int base = shown(m, NULL, lines, &st);
    char spec[1200];
    snprintf(spec, sizeof spec, "smooth:schedule=%s", test_source("models/textdemo/cache/smooth-a0.15.json"));
    const int cached = shown(m, spec, lines, &st);
    fprintf(stderr, "  text demo: %d of %d pictures show their prompt uncached, %d with SmoothCache (MACs %.3f)\n",
            base, TEXTDEMO_N, cached, st.macs / st.macs_uncached);
    CHECK_MSG(base >= TEXTDEMO_MIN_SHOWN, "uncached: %d of %d shown", base, TEXTDEMO_N);
    CHECK_MSG(cached >= TEXTDEMO_MIN_SHOWN, "SmoothCache: %d of %d shown", cached, TEXTDEMO_N);
    CHECK(st.macs < 0.6 * st.macs_uncached);
    sc_model_free(m);
}

/* With a prompt and no --model, generate draws with the shipped text-to-image model. */
TEST(textdemo_is_the_default_model_for_prompts)
{
    char args[2048], *log = NULL;
    snprintf(args, sizeof args, "generate --prompt 'a cyan ring on a light background' --latents-out %s --threads 1",
             test_path("z.npy"));
    const int st = test_cli(args, &log);
    CHECK_MSG(st == 0 && strstr(log, "cross"), "exit %d:\n%s", st, log);
    free(log);
    npy_array z;
    CHECK_OK(npy_read(test_path("z.npy"), &z));
    CHECK(z.rank == 4 && z.shape[0] == 1 && z.shape[1] == 3 && z.shape[2] == 32);
    npy_free(&z);
}
