/* T5's tokenizer against the references on the same files (tools/reference_tokenizer.py,
 * tests/fixtures/t5tok/): SentencePiece unigram models trained here in T5's layout, a tiny and a
 * large vocabulary, each with the spiece.model and the tokenizer.json transformers writes for it,
 * and >1000 strings (generated plus hard cases) with the ids of sentencepiece and of transformers'
 * fast T5 tokenizer. */
#include "harness.h"
#include "io/json.h"
#include "text/utf8.h"

#define CAP 8192

/* The case's text from its code points (exact, whatever JSON escaping did). */
static char *text_of(const json_t *c, size_t *len)
{
    const json_t *cps = json_object_get(c, "cps");
    char *t = malloc(4 * json_array_size(cps) + 1);
    CHECK(t != NULL);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(cps); i++)
        n += (size_t)utf8_encode((uint32_t)json_integer_value(json_array_get(cps, i)), (uint8_t *)t + n);
    t[n] = '\0';
    *len = n;
    return t;
}

static int same_ids(const json_t *want, const int32_t *got, int n)
{
    if (json_array_size(want) != (size_t)n) return 0;
    for (int i = 0; i < n; i++)
        if (json_integer_value(json_array_get(want, (size_t)i)) != got[i]) return 0;
    return 1;
}

static void ids_text(char *buf, size_t cap, const int32_t *ids, int n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k + 12 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? " " : "", ids[i]);
}

/* Every case of model `name` through the tokenizer at `file` with semantics `sem`, against the
 * case's `key` ids ("spm" or "hf"). */
static void check_all(const char *name, const char *file, sc_tokenizer_semantics sem, const char *key)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/cases.json", name);
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("t5tok", rel), 64u << 20, &j));
    snprintf(rel, sizeof rel, "%s/%s", name, file);
    sc_tokenizer *t;
    CHECK_OK(sc_tokenizer_load(test_fixture_sub("t5tok", rel), sem, &t));
    const json_t *cases = json_object_get(j, "cases");
    CHECK(json_array_size(cases) >= 1000);
    static int32_t ids[CAP];
    int bad = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        size_t len;
        char *text = text_of(c, &len);
        int n;
        CHECK_OK(sc_tokenize(t, text, len, 0, ids, NULL, CAP, &n));
        if (!same_ids(json_object_get(c, key), ids, n)) {
            char got[512];
            ids_text(got, sizeof got, ids, n);
            if (bad++ < 5)
                fprintf(stderr, "    %s %s case %zu \"%s\": got %s\n", name, rel, i,
                        json_string_value(json_object_get(c, "name")), got);
        }
        free(text);
    }
    CHECK_MSG(!bad, "%s (%s semantics): %d of %zu cases differ from %s", rel,
              sem == SC_TOKENIZER_TRANSFORMERS ? "transformers" : "sentencepiece", bad, json_array_size(cases), key);
    sc_tokenizer_free(t);
    json_decref(j);
}

TEST(tokenizer_sentencepiece_semantics_equal_sentencepiece)
{
    check_all("tiny", "spiece.model", SC_TOKENIZER_SENTENCEPIECE, "spm");
    check_all("large", "spiece.model", SC_TOKENIZER_SENTENCEPIECE, "spm");
}

TEST(tokenizer_json_equals_transformers_fast_t5_tokenizer)
{
    check_all("tiny", "tokenizer.json", SC_TOKENIZER_TRANSFORMERS, "hf");
    check_all("large", "tokenizer.json", SC_TOKENIZER_TRANSFORMERS, "hf");
}

/* spiece.model alone, built into transformers' pipeline as T5Tokenizer builds itself. */
TEST(tokenizer_spiece_model_with_transformers_semantics_equals_transformers)
{
    check_all("tiny", "spiece.model", SC_TOKENIZER_TRANSFORMERS, "hf");
    check_all("large", "spiece.model", SC_TOKENIZER_TRANSFORMERS, "hf");
}

/* As the pipelines call it: padding="max_length", truncation=True. */
TEST(tokenizer_pads_and_truncates_as_the_pipelines)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("t5tok", "large/cases.json"), 64u << 20, &j));
    sc_tokenizer *t;
    CHECK_OK(sc_tokenizer_load(test_fixture_sub("t5tok", "large"), SC_TOKENIZER_TRANSFORMERS, &t));
    const json_t *cases = json_object_get(j, "cases");
    int checked = 0;
    static int32_t ids[CAP], mask[CAP];
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i), *padded = json_object_get(c, "padded");
        const char *len_key;
        json_t *p;
        json_object_foreach((json_t *)padded, len_key, p) {
            const int L = atoi(len_key);
            size_t len;
            char *text = text_of(c, &len);
            int n;
            CHECK_OK(sc_tokenize(t, text, len, L, ids, mask, CAP, &n));
            CHECK_MSG(same_ids(json_object_get(p, "input_ids"), ids, L) &&
                          same_ids(json_object_get(p, "attention_mask"), mask, L),
                      "case %zu \"%s\", max_length %d: ids or mask differ", i,
                      json_string_value(json_object_get(c, "name")), L);
            free(text);
            checked++;
        }
    }
    CHECK(checked >= 50);
    sc_tokenizer_free(t);
    json_decref(j);
}

TEST(tokenizer_refuses_invalid_text_and_bad_files)
{
    sc_tokenizer *t;
    CHECK_OK(sc_tokenizer_load(test_fixture_sub("t5tok", "tiny"), SC_TOKENIZER_TRANSFORMERS, &t));
    int32_t ids[64];
    int n;
    CHECK_ERR(sc_tokenize(t, "ab\xC3", 3, 0, ids, NULL, 64, &n), SC_ERR_ARG, "not valid UTF-8 (byte 2)");
    CHECK_ERR(sc_tokenize(t, "a b c d e f g", 13, 0, ids, NULL, 2, &n), SC_ERR_ARG, "room was given for 2");
    CHECK_ERR(sc_tokenize(t, "a", 1, 1, ids, NULL, 64, &n), SC_OK, "");
    CHECK(n == 1 && ids[0] == 1); /* max_length 1: </s> alone */
    sc_tokenizer_free(t);
    /* A truncated model file, a file that is no model, an empty folder. */
    size_t size;
    char *bytes = test_read(test_fixture_sub("t5tok", "tiny/spiece.model"), &size);
    test_write(test_path("spiece.model"), bytes, size / 2);
    free(bytes);
    CHECK_ERR(sc_tokenizer_load(test_path("spiece.model"), SC_TOKENIZER_SENTENCEPIECE, &t), SC_ERR_FORMAT, "spiece.model");
    test_write(test_path("notes.model"), "not a model\n", 12);
    CHECK_ERR(sc_tokenizer_load(test_path("notes.model"), SC_TOKENIZER_SENTENCEPIECE, &t), SC_ERR_FORMAT, "notes.model");
    CHECK_ERR(sc_tokenizer_load(test_fixture("t5"), SC_TOKENIZER_TRANSFORMERS, &t), SC_ERR_FORMAT,
              "no tokenizer.json or spiece.model");
}
