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
