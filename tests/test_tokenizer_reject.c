/* Reject suites of the tokenizer files (docs/RELIABILITY.md): one generated file per must-reject
 * case, each asserting its own message. spiece.model files are built field by field with a small
 * protobuf writer; tokenizer.json files are the tiny fixture with one thing changed. */
#include <jansson.h>
#include <math.h>

#include "harness.h"

/* ---------------------------------------------------------------- protobuf writer */

typedef struct {
    uint8_t b[4096];
    size_t n;
} pb;

static void pb_byte(pb *p, uint8_t v) { p->b[p->n++] = v; }

static void pb_varint(pb *p, uint64_t v)
{
    do {
        pb_byte(p, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

static void pb_key(pb *p, unsigned field, unsigned wt) { pb_varint(p, (uint64_t)field << 3 | wt); }

static void pb_bytes(pb *p, unsigned field, const void *d, size_t n)
{
    pb_key(p, field, 2);
    pb_varint(p, n);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void pb_float(pb *p, unsigned field, float f)
{
    pb_key(p, field, 5);
    memcpy(p->b + p->n, &f, 4);
    p->n += 4;
}

static void pb_uint(pb *p, unsigned field, uint64_t v)
{
    pb_key(p, field, 0);
    pb_varint(p, v);
}

/* A piece: text (NULL: none), score, type (0: not written). */
static void piece(pb *m, const char *text, float score, unsigned type)
{
    pb sub = {.n = 0};
    if (text) pb_bytes(&sub, 1, text, strlen(text));
    pb_float(&sub, 2, score);
    if (type) pb_uint(&sub, 3, type);
    pb_bytes(m, 1, sub.b, sub.n);
}

/* The valid base: <unk> (type 2), <s>, </s> (3), then normal pieces; trainer_spec unigram with
 * unk 0, bos 1, eos 2; normalizer identity. `mutate` changes one thing. */
static sc_status load_spm(int mutate)
{
    pb m = {.n = 0};
    if (mutate != 10) { /* 10: no pieces at all */
        piece(&m, mutate == 4 ? NULL : mutate == 5 ? "" : "<unk>", 0, 2);
        piece(&m, "<s>", 0, 3);
        piece(&m, "</s>", 0, 3);
        piece(&m, mutate == 6 ? "\xff\xfe" : "\xe2\x96\x81" "a", -1.0f, mutate == 7 ? 9 : 0);
        piece(&m, "a", mutate == 8 ? NAN : -2.0f, mutate == 15 ? 2 : 0);
    }
    pb t = {.n = 0};
    pb_uint(&t, 3, mutate == 11 ? 2 : 1);
    if (mutate == 12) pb_uint(&t, 24, 1);
    pb_uint(&t, 40, mutate == 13 ? 99 : mutate == 14 ? 4 : 0);
    pb_uint(&t, 41, 1);
    pb_uint(&t, 42, 2);
    pb_bytes(&m, 2, t.b, t.n);
    pb nrm = {.n = 0};
    if (mutate == 18) pb_bytes(&nrm, 1, "id\0entity", 9);
    else pb_bytes(&nrm, 1, "identity", 8);
    pb_bytes(&m, 3, nrm.b, nrm.n);
    switch (mutate) { /* raw damage at the end of an otherwise valid model */
    case 1: pb_byte(&m, 0x0a), pb_byte(&m, 0x80); break;                /* a truncated varint */
    case 2: pb_byte(&m, 0x0a), pb_byte(&m, 0x7f), pb_byte(&m, 1); break; /* a length past the end */
    case 3: pb_key(&m, 9, 3); break;                                     /* a group */
    case 9: pb_key(&m, 1, 0), pb_varint(&m, 5); break;                   /* pieces as a number */
    case 16: pb_byte(&m, 0x02), pb_byte(&m, 0x00); break;                /* field number 0 */
    case 17: for (int i = 0; i < 11; i++) pb_byte(&m, 0xff); break;      /* an 11-byte varint */
    default: break;
    }
    test_write(test_path("spiece.model"), (const char *)m.b, m.n);
    sc_tokenizer *tok = NULL;
    const sc_status s = sc_tokenizer_load(test_path("spiece.model"), SC_TOKENIZER_SENTENCEPIECE, &tok);
    sc_tokenizer_free(tok);
    return s;
}

TEST(tokenizer_reject_spiece_model_cases)
{
    CHECK_OK(load_spm(0)); /* the base is valid */
    static const struct {
        int mutate;
        const char *message;
    } cases[] = {
        {1, "truncated varint"},
        {2, "declares 127 bytes but 1 remain"},
        {3, "has wire type 3 (groups and unknown types are not read)"},
        {4, "piece 0 has no text"},
        {5, "piece 0 is empty"},
        {6, "piece 3 is not valid UTF-8 text"},
        {7, "piece 3 has type 9 (1..6 exist)"},
        {8, "piece 4 has a score that is not a finite number"},
        {9, "has wire type 0, expected 2"},
        {10, "no pieces (not a SentencePiece model)"},
        {11, "model type 2; only unigram models"},
        {12, "treat_whitespace_as_suffix is set"},
        {13, "unk_id 99 is outside the 5 pieces"},
        {14, "unk_id 4 is not a piece of type UNKNOWN"},
        {15, "piece 4 is a second UNKNOWN piece"},
        {16, "field number 0 is invalid"},
        {17, "varint longer than 10 bytes"},
        {18, "normalizer name of 9 bytes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const sc_status s = load_spm(cases[i].mutate);
        CHECK_MSG(s == SC_ERR_FORMAT && strstr(sc_last_error(), cases[i].message) &&
                      strstr(sc_last_error(), "spiece.model"),
                  "case %d: status %d, \"%s\"; want \"%s\"", cases[i].mutate, s, sc_last_error(), cases[i].message);
    }
}

/* ---------------------------------------------------------------- tokenizer.json */

/* The tiny fixture's tokenizer.json with `path` (a/b/c, numbers index arrays) set to `value`
 * (JSON text; NULL deletes it), loaded. */
static sc_status load_json_with(const char *path, const char *value)
{
    json_error_t err;
    json_t *root = json_load_file(test_fixture_sub("t5tok", "tiny/tokenizer.json"), 0, &err);
    if (!root) return SC_ERR_IO;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *parent = root;
    char *save = NULL, *tok = strtok_r(buf, "/", &save), *next;
    while ((next = strtok_r(NULL, "/", &save))) {
        parent = json_is_array(parent) ? json_array_get(parent, (size_t)atoi(tok)) : json_object_get(parent, tok);
        tok = next;
    }
    json_t *v = value ? json_loads(value, JSON_DECODE_ANY, &err) : NULL;
    if (json_is_array(parent)) {
        if (v) json_array_set_new(parent, (size_t)atoi(tok), v);
        else json_array_remove(parent, (size_t)atoi(tok));
    } else {
        if (v) json_object_set_new(parent, tok, v);
        else json_object_del(parent, tok);
    }
    json_dump_file(root, test_path("tokenizer.json"), 0);
    json_decref(root);
    sc_tokenizer *t = NULL;
    const sc_status s = sc_tokenizer_load(test_path("tokenizer.json"), SC_TOKENIZER_TRANSFORMERS, &t);
    sc_tokenizer_free(t);
    return s;
}

TEST(tokenizer_reject_tokenizer_json_cases)
{
    CHECK_OK(load_json_with("version", "\"1.0\"")); /* an unread key changed: still valid */
    static const struct {
        const char *path, *value, *message;
    } cases[] = {
        {"model/type", "\"BPE\"", "the BPE model is not read (T5's tokenizers are Unigram)"},
        {"model/byte_fallback", "true", "byte_fallback is set"},
        {"model/vocab", NULL, "the Unigram model has no \"vocab\""},
        {"model/unk_id", "99999", "the Unigram \"unk_id\" is not an id of its"},
        {"model/vocab/5", "[1, 2]", "vocabulary entry 5 is not [piece, score]"},
        {"model/vocab/5", "[\"\", 0]", "vocabulary entry 5 is empty or holds a NUL"},
        {"model/vocab/5", "[\"x\", \"high\"]", "vocabulary entry 5 is not [piece, score]"},
        {"normalizer/type", "\"NFC\"", "the NFC normaliser is not read"},
        {"normalizer/precompiled_charsmap", "123", "\"precompiled_charsmap\" is not a base64 string"},
        {"normalizer", "{}", "\"normalizer\" has no \"type\""},
        {"pre_tokenizer/pretokenizers/0/type", "\"ByteLevel\"", "the pre-tokenizer ByteLevel"},
        {"pre_tokenizer/pretokenizers/1/replacement", "\"ab\"", "Metaspace \"replacement\" is not one character"},
        {"pre_tokenizer/pretokenizers/1/prepend_scheme", "\"first\"", "Metaspace prepend_scheme \"first\" is not read"},
        {"pre_tokenizer/pretokenizers/1/split", "\"yes\"", "Metaspace \"split\" is not a boolean"},
        {"added_tokens", "{}", "\"added_tokens\" is not a list"},
        {"added_tokens/0/id", "1000000000", "added token 0 has no id within the"},
        {"added_tokens/0/content", NULL, "added token 0 has no content"},
        {"added_tokens/1/normalized", "true", "is single_word or normalized, which is not read"},
        {"post_processor/type", "\"BertProcessing\"", "the post-processor BertProcessing is not read"},
        {"post_processor/single", NULL, "TemplateProcessing without \"single\""},
        {"post_processor/single/0", NULL, "the single template has no $A"},
        {"post_processor/special_tokens", "{\"</s>\": {\"id\": \"</s>\", \"ids\": [123456789], \"tokens\": [\"</s>\"]}}",
         "special token \"</s>\" has an id outside the vocabulary"},
        {"model", NULL, "no \"model\" with a \"type\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const sc_status s = load_json_with(cases[i].path, cases[i].value);
        CHECK_MSG(s == SC_ERR_FORMAT && strstr(sc_last_error(), cases[i].message) &&
                      strstr(sc_last_error(), "tokenizer.json"),
                  "case %zu (%s = %s): status %d, \"%s\"; want \"%s\"", i, cases[i].path,
                  cases[i].value ? cases[i].value : "(deleted)", s, sc_last_error(), cases[i].message);
    }
}
