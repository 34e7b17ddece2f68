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
