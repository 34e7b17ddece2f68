/* The T5 encoder against transformers' T5EncoderModel / UMT5EncoderModel (tools/reference_t5.py,
 * tests/fixtures/t5/): every variant and layout, padded batches with and without a mask. */
#include <float.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/zip.h"
#include "models/t5/t5.h"

/* An int32 .npy fixture (npy_read gives floats; ids are small integers, exact). */
static int32_t *read_ints(const char *path, npy_array *a)
{
    CHECK_OK(npy_read(path, a));
    int32_t *v = malloc(a->numel * sizeof *v);
    CHECK(v != NULL);
    for (uint64_t i = 0; i < a->numel; i++) v[i] = (int32_t)a->data[i];
    return v;
}

/* Every case of the fixture folder `cases` through the encoder in folder `model`. */
static void check_model(const char *model, const char *cases, double tol)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/cases.json", cases);
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture_sub("t5", path), 1 << 20, &j));
    sc_text_encoder *e;
    /* float32 explicitly: a 16-bit file would compute in bf16 by default (docs/PRECISION.md). */
    const sc_load_opts f32 = {.dtype = SC_DTYPE_F32};
    CHECK_OK(sc_text_encoder_load_opts(test_fixture_sub("t5", model), &f32, &e));
    sc_text_encoder_info info;
    sc_text_encoder_get_info(e, &info);
    const json_t *list = json_object_get(j, "cases");
    CHECK(json_array_size(list) == 3);
    for (size_t c = 0; c < json_array_size(list); c++) {
        const json_t *cs = json_array_get(list, c);
        npy_array ids_a, mask_a, ref;
        snprintf(path, sizeof path, "%s/%s", cases, json_string_value(json_object_get(cs, "ids")));
        int32_t *ids = read_ints(test_fixture_sub("t5", path), &ids_a);
        snprintf(path, sizeof path, "%s/%s", cases, json_string_value(json_object_get(cs, "mask")));
        int32_t *mask = read_ints(test_fixture_sub("t5", path), &mask_a);
        snprintf(path, sizeof path, "%s/%s", cases, json_string_value(json_object_get(cs, "out")));
        CHECK_OK(npy_read(test_fixture_sub("t5", path), &ref));
        const int n = (int)ids_a.shape[0], L = (int)ids_a.shape[1];
        CHECK(ref.numel == (uint64_t)n * L * info.width);
        float *out = malloc(ref.numel * sizeof *out);
        const int masked = json_is_true(json_object_get(cs, "attention_mask_passed"));
        CHECK_OK(sc_text_encode(e, n, L, ids, masked ? mask : NULL, out, 0));
        const double err = test_rel_err(out, ref.data, ref.numel);
        CHECK_MSG(err <= tol, "%s case %s: relative error %.3g (tolerance %.1g)", model,
                  json_string_value(json_object_get(cs, "id")), err, tol);
        free(out);
        free(ids);
        free(mask);
        npy_free(&ids_a);
        npy_free(&mask_a);
        npy_free(&ref);
    }
    sc_text_encoder_free(e);
    json_decref(j);
}

TEST(t5_v1_0_relu_matches_transformers) { check_model("v1_0", "v1_0", 1e-4); }

TEST(t5_v1_1_gated_gelu_matches_transformers) { check_model("v1_1", "v1_1", 1e-4); }

TEST(t5_umt5_per_layer_bias_matches_transformers) { check_model("umt5", "umt5", 1e-4); }

/* The same weights as pytorch_model.bin and as three shards give v1_1's outputs. */
TEST(t5_bin_and_sharded_checkpoints_load)
{
    check_model("v1_1_bin", "v1_1", 1e-4);
    check_model("v1_1_sharded", "v1_1", 1e-4);
}

/* bf16 weights upcast to float32 (transformers loading them with dtype float32). */
TEST(t5_bf16_weights_match_their_float32_upcast) { check_model("v1_1_bf16", "v1_1_bf16", 1e-4); }

/* transformers' bucket table [query, key] for L = 40 equals t5_bucket's. */
TEST(t5_relative_buckets_equal_transformers)
{
    const char *variants[] = {"v1_0", "v1_1"};
    for (int v = 0; v < 2; v++) {
        char path[256];
        snprintf(path, sizeof path, "%s/config.json", variants[v]);
        json_t *j;
        CHECK_OK(json_load_object_file(test_fixture_sub("t5", path), 1 << 20, &j));
        t5_config c;
        CHECK_OK(t5_config_from_json(&c, j, path));
        json_decref(j);
        snprintf(path, sizeof path, "%s/buckets_L40.npy", variants[v]);
        npy_array b;
        CHECK_OK(npy_read(test_fixture_sub("t5", path), &b));
        CHECK(b.numel == 1600);
        for (int i = 0; i < 40; i++)
            for (int k = 0; k < 40; k++)
                CHECK_MSG(t5_bucket(&c, k - i) == (int)b.data[i * 40 + k], "%s: bucket(%d) = %d, transformers %d",
                          variants[v], k - i, t5_bucket(&c, k - i), (int)b.data[i * 40 + k]);
        npy_free(&b);
    }
    /* T5's own (32 buckets, distance 128): the values FAMILIES-style tables list, powers of two exact. */
    t5_config c = {.buckets = 32, .max_distance = 128};
    const int r[] = {-300, -64, -32, -16, -12, -8, -1, 0, 1, 7, 8, 12, 16, 32, 64, 127};
    const int want[] = {15, 14, 12, 10, 9, 8, 1, 0, 17, 23, 24, 25, 26, 28, 30, 31};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        CHECK_MSG(t5_bucket(&c, r[i]) == want[i], "bucket(%d) = %d, want %d", r[i], t5_bucket(&c, r[i]), want[i]);
}

TEST(t5_refuses_bad_ids_masks_and_checkpoints)
{
    sc_text_encoder *e;
    CHECK_OK(sc_text_encoder_load(test_fixture_sub("t5", "v1_0"), &e));
    int32_t ids[4] = {5, 7, 1, 0}, mask[4] = {1, 1, 1, 0};
    float out[4 * 32];
    ids[1] = 96;
    CHECK_ERR(sc_text_encode(e, 1, 4, ids, mask, out, 1), SC_ERR_ARG, "token id 96 (sequence 0, position 1)");
    ids[1] = 7;
    mask[3] = 2;
    CHECK_ERR(sc_text_encode(e, 1, 4, ids, mask, out, 1), SC_ERR_ARG, "the attention mask holds 2");
    sc_text_encoder_free(e);
    /* A lone file, a folder without config, a config of another model. */
    CHECK_ERR(sc_text_encoder_load(test_fixture_sub("t5", "v1_0/model.safetensors"), &e), SC_ERR_ARG,
              "not a lone file");
    CHECK_ERR(sc_text_encoder_load(test_tmpdir(), &e), SC_ERR_FORMAT, "no config.json");
    test_write(test_path("config.json"), "{\"model_type\": \"bert\"}", 22);
    CHECK_ERR(sc_text_encoder_load(test_tmpdir(), &e), SC_ERR_FORMAT, "not a text encoder this engine runs");
    /* A config whose shapes disagree with the weights: the tensor and both shapes are named. */
    size_t n;
    char *cfg = test_read(test_fixture_sub("t5", "v1_0/config.json"), &n);
    char *p = strstr(cfg, "\"d_ff\": 37");
    CHECK(p != NULL);
    memcpy(p, "\"d_ff\": 38", 10);
    test_write(test_path("config.json"), cfg, n);
    free(cfg);
    char *w = test_read(test_fixture_sub("t5", "v1_0/model.safetensors"), &n);
    test_write(test_path("model.safetensors"), w, n);
    free(w);
    CHECK_ERR(sc_text_encoder_load(test_tmpdir(), &e), SC_ERR_FORMAT, "DenseReluDense.wi.weight");
}

/* ------------------------------------------------------------------ smoothcache encode */

/* Array `name` of an .npz (the zip of .npy entries) as floats. */
static void npz_get(const char *path, const char *name, npy_array *out)
{
    size_t n;
    uint8_t *bytes = (uint8_t *)test_read(path, &n);
    zip_archive *z;
    CHECK_OK(zip_parse(bytes, n, path, &z));
    char entry[64];
    snprintf(entry, sizeof entry, "%s.npy", name);
    const zip_entry *e = zip_find(z, entry);
    CHECK_MSG(e != NULL, "%s: no %s", path, entry);
    CHECK_OK(npy_parse(bytes + e->offset, e->size, entry, out));
    zip_free(z);
    free(bytes);
}

static void check_encoded(const char *npz)
{
    const char *names[3] = {"input_ids", "attention_mask", "prompt_embeds"};
    for (int k = 0; k < 3; k++) {
        npy_array got, ref;
        npz_get(npz, names[k], &got);
        char rel[64];
        snprintf(rel, sizeof rel, "pipeline/ref_%s.npy", names[k]);
        CHECK_OK(npy_read(test_fixture_sub("t5", rel), &ref));
        CHECK(got.rank == ref.rank && !memcmp(got.shape, ref.shape, sizeof got.shape[0] * (size_t)got.rank));
        const double err = test_rel_err(got.data, ref.data, ref.numel);
        CHECK_MSG(k == 2 ? err <= 1e-4 : err == 0, "%s: %s differs from transformers' (%.3g)", npz, names[k], err);
        npy_free(&got);
        npy_free(&ref);
    }
}

/* The prompts of tools/reference_t5.py (duplicates, the empty prompt, special tokens in text, a
 * prompt cut at 16 tokens) through T5Tokenizer + T5EncoderModel and through `encode`. */
TEST(t5_encode_command_equals_transformers_tokenizer_and_encoder)
{
    char out[1024], args[8192];
    snprintf(out, sizeof out, "%s", test_path("e.npz"));
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompts %s --max-length 16 --out %s --threads 1",
             test_fixture_sub("t5", "pipeline/text_encoder"), test_fixture_sub("t5tok", "tiny"),
             test_fixture_sub("t5", "pipeline/prompts.txt"), out);
    char *log = NULL;
    const int st = test_cli(args, &log);
    CHECK_MSG(st == 0 && strstr(log, "encoded 6 prompts (5 distinct) to 16 tokens"), "exit %d:\n%s", st, log);
    free(log);
    check_encoded(out);
    /* The same through a pipeline folder (model_index.json, tokenizer/, text_encoder/). */
    char dir[1024], link[1200];
    snprintf(dir, sizeof dir, "%s/pipe", test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(link, sizeof link, "%s/model_index.json", dir);
    const char *index = "{\"_class_name\": \"PixArtAlphaPipeline\", \"text_encoder\": [\"transformers\", "
                        "\"T5EncoderModel\"], \"tokenizer\": [\"transformers\", \"T5Tokenizer\"]}";
    test_write(link, index, strlen(index));
    snprintf(link, sizeof link, "%s/tokenizer", dir);
    CHECK(symlink(test_fixture_sub("t5tok", "tiny"), link) == 0);
    snprintf(link, sizeof link, "%s/text_encoder", dir);
    CHECK(symlink(test_fixture_sub("t5", "pipeline/text_encoder"), link) == 0);
    snprintf(out, sizeof out, "%s", test_path("p.npz"));
    snprintf(args, sizeof args, "encode --model %s --prompts %s --max-length 16 --out %s --quiet", dir,
             test_fixture_sub("t5", "pipeline/prompts.txt"), out);
    CHECK(test_cli(args, NULL) == 0);
    check_encoded(out);
}

TEST(t5_info_describes_a_text_encoder_folder)
{
    char args[2048];
    snprintf(args, sizeof args, "info --model %s", test_fixture_sub("t5", "v1_0"));
    char *log = NULL;
    const int st = test_cli(args, &log);
    CHECK_MSG(st == 0 && strstr(log, "t5 text encoder, t5 (relu)") && strstr(log, "vocabulary:     96 ids"),
              "exit %d:\n%s", st, log);
    free(log);
}

TEST(t5_encode_command_names_bad_prompts_and_flags)
{
    const char *model = test_fixture_sub("t5", "pipeline/text_encoder");
    char tok[1024], file[1024], args[8192];
    snprintf(tok, sizeof tok, "%s", test_fixture_sub("t5tok", "tiny"));
    snprintf(file, sizeof file, "%s", test_path("prompts.txt"));
    test_write(file, "fine\nalso fine\nbad \xC3\x28 here\n", 27);
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompts %s --out %s", model, tok, file,
             test_path("x.npz"));
    char *log = NULL;
    int st = test_cli(args, &log);
    CHECK_MSG(st == 1 && strstr(log, "line 3 is not valid UTF-8 (byte 5 of the line)"), "exit %d:\n%s", st, log);
    free(log);
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --out %s", model, tok, test_path("x.npz"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 2 && strstr(log, "no prompts"), "exit %d:\n%s", st, log);
    free(log);
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompt hi --out %s", model, tok, test_path("x.png"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 2 && strstr(log, "must end in .npz"), "exit %d:\n%s", st, log);
    free(log);
    /* --prompts -: the standard input, read to its end */
    test_write(file, "fine\nalso fine\n", 15);
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompts - --out %s < %s", model, tok,
             test_path("stdin.npz"), file);
    st = test_cli(args, &log);
    CHECK_MSG(st == 0 && strstr(log, "encoded 2 prompts (2 distinct)"), "exit %d:\n%s", st, log);
    free(log);
    /* a folder given as the prompts file */
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompts %s --out %s", model, tok,
             test_fixture_sub("t5", "pipeline"), test_path("x.npz"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 1 && strstr(log, "is a folder, not a file of prompts"), "exit %d:\n%s", st, log);
    free(log);
    /* an encoder folder alone (its tokenizer is the pipeline's tokenizer/): the way out is said */
    snprintf(args, sizeof args, "encode --model %s --prompt hi --out %s", model, test_path("x.npz"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 1 && strstr(log, "no tokenizer.json or spiece.model") && strstr(log, "name it with --tokenizer PATH"),
              "exit %d:\n%s", st, log);
    free(log);
    /* An encoder whose vocabulary is smaller than the tokenizer's ids. */
    snprintf(args, sizeof args, "encode --model %s --tokenizer %s --prompt hi --out %s", test_fixture_sub("t5", "v1_0"),
             tok, test_path("x.npz"));
    st = test_cli(args, &log);
    CHECK_MSG(st == 1 && strstr(log, "makes ids up to 599 but the encoder"), "exit %d:\n%s", st, log);
    free(log);
}

/* Reject suite of T5 configurations: the v1.1 fixture's config.json with one value changed, the
 * weights beside it linked; each refused with its message, naming the file. */
static sc_status load_t5_with(const char *key, const char *value)
{
    json_error_t err;
    json_t *root = json_load_file(test_fixture_sub("t5", "v1_1/config.json"), 0, &err);
    if (!root) return SC_ERR_IO;
    json_t *v = value ? json_loads(value, JSON_DECODE_ANY, &err) : NULL;
    if (v) json_object_set_new(root, key, v);
    else json_object_del(root, key);
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", test_path("t5cfg"));
    mkdir(dir, 0755);
    char cfg[2200], link[2200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    json_dump_file(root, cfg, 0);
    json_decref(root);
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    unlink(link);
    if (symlink(test_fixture_sub("t5", "v1_1/model.safetensors"), link)) return SC_ERR_IO;
    sc_text_encoder *e = NULL;
    const sc_status s = sc_text_encoder_load(dir, &e);
    sc_text_encoder_free(e);
    return s;
}

TEST(t5_reject_configuration_cases)
{
    CHECK_OK(load_t5_with("dropout_rate", "0.5")); /* an unread key: still valid */
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        {"d_model", NULL, "missing key \"d_model\""},
        {"d_model", "0", "\"d_model\" = 0 is out of range"},
        {"d_model", "\"32\"", "\"d_model\" must be an integer"},
        {"d_kv", "7", "SelfAttention.q.weight\" has shape [18,32] but the T5 encoder configuration needs [21,32]"},
        {"num_heads", "2000", "\"num_heads\" = 2000 is out of range"},
        {"num_layers", "5", "missing tensor \"encoder.block.3.layer.0.SelfAttention.q.weight\""},
        {"vocab_size", "97", "\"shared.weight\" has shape [96,32] but the T5 encoder configuration needs [97,32]"},
        {"relative_attention_num_buckets", "2", "\"relative_attention_num_buckets\" = 2 is out of range"},
        {"relative_attention_max_distance", "2", "is not above a quarter of the 16 buckets"},
        {"layer_norm_epsilon", "2", "\"layer_norm_epsilon\" = 2 is out of range"},
        {"feed_forward_proj", "\"gated-\"", "feed_forward_proj \"gated-\": the activations read are"},
        {"feed_forward_proj", "\"swish-gated\"", "is neither \"<act>\" nor \"gated-<act>\""},
        {"feed_forward_proj", "\"gated-tanh\"", "the activations read are relu, gelu_new"},
        {"model_type", "\"bert\"", "model_type \"bert\" is not T5's (t5, mt5 or umt5)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const sc_status s = load_t5_with(cases[i].key, cases[i].value);
        CHECK_MSG(s != SC_OK && strstr(sc_last_error(), cases[i].message) && strstr(sc_last_error(), "t5cfg"),
                  "case %zu (%s = %s): status %d, \"%s\"; want \"%s\"", i, cases[i].key,
                  cases[i].value ? cases[i].value : "(deleted)", s, sc_last_error(), cases[i].message);
    }
}
