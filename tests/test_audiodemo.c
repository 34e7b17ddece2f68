/* The audio demo's checker against its Python specification (tools/audiodemo/check.py,
 * tests/fixtures/audiodemo/): what it hears in one clip of every kind and word, and its verdict
 * for the clip's caption and a wrong one; silence and noise too quiet to hear; channels averaged;
 * captions it does not understand. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "metrics/audiodemo_check.h"
#include "smoothcache_tools.h"

static int field(const json_t *o, const char *name) { return (int)json_integer_value(json_object_get(o, name)); }

TEST(audiodemo_checker_equals_python)
{
    npy_array clips;
    CHECK_OK(npy_read(test_fixture_sub("audiodemo", "clips.npy"), &clips));
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("audiodemo", "cases.json"), 1 << 20, &j));
    const json_t *cases = json_object_get(j, "cases");
    const int sr = field(j, "sample_rate");
    const size_t n = json_array_size(cases), S = clips.shape[1];
    CHECK(clips.rank == 2 && n == clips.shape[0] && n == 16 && sr == 8000);
    float *wave = malloc(S * sizeof *wave), *stereo = malloc(2 * S * sizeof *stereo);
    int heard = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < S; k++) wave[k] = (float)clips.data[i * S + k];
        const json_t *cs = json_array_get(cases, i), *rd = json_object_get(cs, "read");
        audiodemo_heard h;
        CHECK(audiodemo_read(wave, 1, (int64_t)S, sr, &h) == 0);
        CHECK_MSG(h.kind == field(rd, "kind") && h.midi == field(rd, "midi") && h.timbre == field(rd, "timbre") &&
                      h.root == field(rd, "root") && h.quality == field(rd, "quality") &&
                      h.direction == field(rd, "direction") && h.rate == field(rd, "rate"),
                  "case %zu: heard kind %d midi %d timbre %d root %d quality %d direction %d rate %d; Python kind %d",
                  i, h.kind, h.midi, h.timbre, h.root, h.quality, h.direction, h.rate, field(rd, "kind"));
        const double py_seconds = json_real_value(json_object_get(rd, "seconds"));
        CHECK_MSG(h.seconds == py_seconds, "case %zu: %g s, Python %g s", i, h.seconds, py_seconds);
        const char *cap = json_string_value(json_object_get(cs, "caption"));
        const char *wrong = json_string_value(json_object_get(cs, "wrong"));
        CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, sr, cap) == field(cs, "hears"));
        CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, sr, wrong) == field(cs, "hears_wrong"));
        heard += sc_audiodemo_hears(wave, 1, (int64_t)S, sr, cap) == 1;
        /* two channels of the same clip are heard as the clip */
        memcpy(stereo, wave, S * sizeof *wave);
        memcpy(stereo + S, wave, S * sizeof *wave);
        CHECK(sc_audiodemo_hears(stereo, 2, (int64_t)S, sr, cap) == field(cs, "hears"));
    }
    CHECK(heard == 14); /* every data-set clip is heard as its caption; silence and a whisper are not */
    free(wave);
    free(stereo);
    json_decref(j);
    npy_free(&clips);
}

TEST(audiodemo_checker_reads_captions_by_word)
{
    npy_array clips;
    CHECK_OK(npy_read(test_fixture_sub("audiodemo", "clips.npy"), &clips));
    const size_t S = clips.shape[1];
    float *wave = malloc(S * sizeof *wave);
    for (size_t k = 0; k < S; k++) wave[k] = (float)clips.data[6 * S + k]; /* a C major chord */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a C major chord") == 1);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "A C MAJOR CHORD") == 1);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a warm C major chord, softly") == -1); /* "chord," */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a soft C major chord") == 1);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a C minor chord") == 0);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "an A major chord") == 0);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "major chord") == -1);     /* no root */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a major chord") == 0);    /* read as "A major" */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a steady tone") == -1);   /* no note */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "a sweep") == -1);         /* no direction */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "birdsong at dawn") == -1);
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 8000, "") == -1);
    /* below 8 kHz, or shorter than one analysis frame (0.256 s), nothing is heard */
    CHECK(sc_audiodemo_hears(wave, 1, (int64_t)S, 4000, "a C major chord") == 0);
    CHECK(sc_audiodemo_hears(wave, 1, 2047, 8000, "a C major chord") == 0);
    free(wave);
    npy_free(&clips);
}

/* ---------------------------------------------------------------- the shipped model */

/* Its first AUDIODEMO_N seen prompts (every training caption in turn), with the folder's own
 * defaults (cosine-dpmpp2m-sde, the steps and guidance of model_index.json's "_smoothcache"),
 * seeds 0..N-1, uncached and with the shipped SmoothCache schedule; models/README.md has the
 * 200-prompt figures. The floor leaves room for another thread count's rounding; it catches a
 * broken model, sampler or decoder. */
#define AUDIODEMO_N 24
#define AUDIODEMO_MIN_HEARD 20

static int heard(const char *prompts, const char *cache_flag, char lines[][128])
{
    CHECK_CLI(0, "", "generate --model %s --prompts %s --out %s --threads 1 --force --quiet %s",
              test_source("models/audiodemo"), prompts, test_path("ad.npz"), cache_flag);
    sc_array a = {0}, r = {0};
    CHECK_OK(sc_npz_read(test_path("ad.npz"), "audio", &a));
    CHECK_OK(sc_npz_read(test_path("ad.npz"), "sample_rate", &r));
    CHECK(a.rank == 3 && a.shape[0] == AUDIODEMO_N && a.shape[1] == 1 && a.shape[2] == 16384 && r.data[0] == 8000);
    int k = 0;
    for (int i = 0; i < AUDIODEMO_N; i++)
        k += sc_audiodemo_hears(a.data + (size_t)i * 16384, 1, 16384, 8000, lines[i]) == 1;
    sc_array_free(&a);
    sc_array_free(&r);
    return k;
}

TEST(audiodemo_model_sounds_like_its_prompts_and_smoothcache_keeps_them)
{
    static char lines[AUDIODEMO_N][128];
    FILE *f = fopen(test_source("models/audiodemo/prompts-seen.txt"), "r"), *o = fopen(test_path("p.txt"), "w");
    CHECK(f != NULL && o != NULL);
    for (int i = 0; i < AUDIODEMO_N; i++) {
        CHECK(fgets(lines[i], sizeof lines[i], f) != NULL);
        fputs(lines[i], o);
        lines[i][strcspn(lines[i], "\n")] = '\0';
    }
    fclose(f);
    fclose(o);
    const int base = heard(test_path("p.txt"), "", lines);
    char flag[1200];
    snprintf(flag, sizeof flag, "--cache smooth:schedule=%s", test_source("models/audiodemo/cache/smooth-a0.3.json"));
    const int cached = heard(test_path("p.txt"), flag, lines);
    fprintf(stderr, "  audio demo: %d of %d clips heard as their prompt uncached, %d with SmoothCache\n", base,
            AUDIODEMO_N, cached);
    CHECK_MSG(base >= AUDIODEMO_MIN_HEARD, "uncached: %d of %d heard", base, AUDIODEMO_N);
    CHECK_MSG(cached >= AUDIODEMO_MIN_HEARD, "SmoothCache: %d of %d heard", cached, AUDIODEMO_N);
}

/* With prompts and a .wav to write and no --model, generate makes sound with the audio demo;
 * the README's example. */
TEST(audiodemo_is_the_default_model_for_sound)
{
    CHECK_CLI(0, "wrote", "generate --prompt 'a C major chord' --out %s --threads 1", test_path("chord.wav"));
    CHECK(strstr(test_cli_output, "chord.wav"));
    FILE *f = fopen(test_path("chord.wav"), "rb");
    CHECK(f != NULL);
    fclose(f);
}

/* A negative prompt does nothing without guidance: said, not silently dropped. */
TEST(audiodemo_negative_prompt_without_guidance_is_noted)
{
    CHECK_CLI(0, "--negative-prompt has no effect without guidance (--cfg 1)",
              "generate --model %s --prompt 'a C major chord' --negative-prompt 'a noise burst' --cfg 1 --steps 2 "
              "--out %s --threads 1 --quiet",
              test_source("models/audiodemo"), test_path("n.wav"));
    CHECK_CLI(0, "", "generate --model %s --prompt 'a C major chord' --negative-prompt 'a noise burst' --steps 2 "
                     "--out %s --threads 1 --force --quiet",
              test_source("models/audiodemo"), test_path("n.wav"));
    CHECK(!strstr(test_cli_output, "no effect"));
}

/* A prompt longer than the tokenizer's model_max_length (32 here) is cut as the pipeline cuts it,
 * and the command line says so. */
TEST(audiodemo_long_prompt_is_noted)
{
    CHECK_CLI(0, "prompt 2 is longer than 32 tokens: cut to its first 31 pieces",
              "generate --model %s --prompt 'a C major chord' --prompt 'a C major chord played very softly on a warm "
              "summer evening by the sea with the waves rolling in and the gulls calling far away above the old "
              "harbour walls' --steps 2 --out %s --threads 1 --quiet",
              test_source("models/audiodemo"), test_path("l.npz"));
    CHECK(!strstr(test_cli_output, "prompt 1 is longer"));
}
