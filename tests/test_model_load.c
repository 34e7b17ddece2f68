/* Loading DiT checkpoints: layout detection, config inference and validation, and the errors a
 * user sees for files that are not what they should be (docs/RELIABILITY.md). */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "models/dit/dit.h"
#include "tiny_dit.h"

static sc_model *load_ok(const char *path, int heads)
{
    sc_load_opts o = {.num_heads = heads};
    sc_model *m = NULL;
    CHECK_OK(sc_model_load(path, &o, &m));
    return m;
}

TEST(model_original_file_config_is_inferred_from_shapes)
{
    tiny_dit t = tiny_dit_default();
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_model *m = load_ok(test_path("m.safetensors"), 4);
    sc_model_info i;
    sc_model_get_info(m, &i);
    CHECK(!strcmp(i.layout, "original") && i.origin == SC_ORIGIN_ORIGINAL);
    CHECK(i.depth == 2 && i.hidden == 32 && i.heads == 4 && i.head_dim == 8 && i.patch == 2);
    CHECK(i.latent.rank == 3 && i.latent.dims[1] == 8 && i.latent.dims[2] == 8 && i.tokens == 16);
    CHECK(i.in_channels == 4 && i.out_channels == 8 && !strcmp(i.family, "dit"));
    CHECK(i.n_components == 2 && !strcmp(i.components[0], "attn") && !strcmp(i.components[1], "mlp"));
    CHECK(i.num_classes == 5 && i.learned_sigma && !strcmp(i.dtype, "F32"));
    sc_model_free(m);
}

TEST(model_original_file_without_heads_asks_for_them)
{
    tiny_dit t = tiny_dit_default();
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_model *m;
    CHECK_ERR(sc_model_load(test_path("m.safetensors"), NULL, &m), SC_ERR_FORMAT, "give the number of heads (sc_load_opts.num_heads)");
}

TEST(model_original_file_without_pos_embed_needs_the_input_size)
{
    tiny_dit t = tiny_dit_default();
    t.with_pos = 0;
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_load_opts o = {.num_heads = 2};
    sc_model *m;
    CHECK_ERR(sc_model_load(test_path("m.safetensors"), &o, &m), SC_ERR_FORMAT, "(give sc_load_opts.input_size)");
    o.input_size = 8;
    CHECK_OK(sc_model_load(test_path("m.safetensors"), &o, &m));
    sc_model_free(m);
}

/* One defect per checkpoint, and the error a user sees for it. */
static const struct {
    const char *what;
    tiny_dit t;            /* the defects set on tiny_dit_default() */
    sc_status code;
    const char *needle;
} k_defects[] = {
    {"a missing tensor is named", {.drop = "blocks.1.mlp.fc2.bias"}, SC_ERR_FORMAT, "missing tensor \"blocks.1.mlp.fc2.bias\""},
    {"a wrong shape names the tensor and both shapes", {.misshape = "blocks.0.attn.qkv.weight"}, SC_ERR_FORMAT,
     "\"blocks.0.attn.qkv.weight\" has shape [97,32] but the model configuration needs [96,32]"},
    {"an unsupported dtype is refused with its name", {.dtype = "I32"}, SC_ERR_UNSUPPORTED,
     "dtype I32; supported: F32, F16, BF16"},
};

TEST(model_defective_checkpoints_are_refused_naming_the_defect)
{
    for (size_t i = 0; i < sizeof k_defects / sizeof *k_defects; i++) {
        tiny_dit t = tiny_dit_default();
        t.drop = k_defects[i].t.drop;
        t.misshape = k_defects[i].t.misshape;
        t.dtype = k_defects[i].t.dtype ? k_defects[i].t.dtype : t.dtype;
        tiny_dit_write(test_path("m.safetensors"), &t);
        sc_load_opts o = {.num_heads = 2};
        sc_model *m = NULL;
        const sc_status s = sc_model_load(test_path("m.safetensors"), &o, &m);
        CHECK_MSG(s == k_defects[i].code && strstr(sc_last_error(), k_defects[i].needle), "%s: status %d, \"%s\"",
                  k_defects[i].what, (int)s, sc_last_error());
    }
}

TEST(model_extra_tensors_load_with_a_warning)
{
    tiny_dit t = tiny_dit_default();
    t.extra = "ema.unused";
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_model *m = load_ok(test_path("m.safetensors"), 2);
    sc_model_free(m);
}

TEST(model_unknown_folder_says_what_was_found_and_expected)
{
    test_write(test_path("notes.txt"), "x", 1);
    sc_model *m;
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT,
              "not a model folder: no config.json (a diffusers pipeline has model_index.json");
    CHECK(strstr(sc_last_error(), "found notes.txt"));
}

TEST(model_unknown_file_is_no_family_s_checkpoint)
{
    test_write(test_path("x.safetensors"), "\x02\0\0\0\0\0\0\0{}", 10);
    sc_model *m;
    CHECK_ERR(sc_model_load(test_path("x.safetensors"), NULL, &m), SC_ERR_FORMAT,
              "not a checkpoint of a model this engine runs: no \"x_embedder.proj.weight\" (an original DiT file)");
    CHECK_ERR(sc_model_load(test_path("absent"), NULL, &m), SC_ERR_IO, "cannot open");
}

static void write_config(const char *json)
{
    test_write(test_path("config.json"), json, strlen(json));
}

#define CFG_HEAD "{\"_class_name\":\"DiTTransformer2DModel\",\"in_channels\":4,\"out_channels\":8,\"patch_size\":2,"
#define CFG_TAIL "\"sample_size\":8,\"num_embeds_ada_norm\":5}"

TEST(model_config_json_rejects_wrong_types_ranges_duplicates_and_nan)
{
    sc_model *m;
    write_config(CFG_HEAD "\"num_attention_heads\":\"2\",\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "\"num_attention_heads\" must be an integer");
    write_config(CFG_HEAD "\"num_attention_heads\":2.5,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "\"num_attention_heads\" must be an integer");
    write_config(CFG_HEAD "\"num_attention_heads\":0,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "\"num_attention_heads\" = 0 is out of range");
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":1000000000," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "\"num_layers\" = 1000000000 is out of range");
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "duplicate");
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":2,\"norm_eps\":NaN," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "invalid JSON");
    write_config(CFG_HEAD "\"num_attention_heads\":true,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "must be an integer");
    write_config("[1,2]");
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "not a JSON object");
    write_config(CFG_HEAD "\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "missing key \"num_attention_heads\"");
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":2,\"norm_type\":\"layer_norm\"," CFG_TAIL);
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_UNSUPPORTED, "norm_type \"layer_norm\"");
}

TEST(model_config_json_deeper_than_64_levels_is_refused)
{
    char buf[400];
    size_t n = 0;
    n += (size_t)snprintf(buf, sizeof buf, "{\"a\":");
    for (int i = 0; i < 70; i++) buf[n++] = '[';
    for (int i = 0; i < 70; i++) buf[n++] = ']';
    buf[n++] = '}';
    buf[n] = '\0';
    write_config(buf);
    sc_model *m;
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "nested deeper than 64");
}

TEST(model_diffusers_folder_with_only_a_broken_pickle_names_the_file)
{
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    test_write(test_path("diffusion_pytorch_model.bin"), "PK\x03\x04 not a zip", 14);
    sc_model *m;
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "diffusion_pytorch_model.bin: 14 bytes is too short for a ZIP archive");
}

TEST(model_shard_index_names_must_be_plain_files_in_the_folder)
{
    write_config(CFG_HEAD "\"num_attention_heads\":2,\"attention_head_dim\":16,\"num_layers\":2," CFG_TAIL);
    const char *idx = "{\"weight_map\":{\"pos_embed.proj.weight\":\"../secret.safetensors\"}}";
    test_write(test_path("diffusion_pytorch_model.safetensors.index.json"), idx, strlen(idx));
    sc_model *m;
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, "must be a plain file name");
    idx = "{\"weight_map\":{\"pos_embed.proj.weight\":\"missing.safetensors\"}}";
    test_write(test_path("diffusion_pytorch_model.safetensors.index.json"), idx, strlen(idx));
    CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_IO, "missing.safetensors: cannot open");
}

TEST(model_macs_match_the_dit_xl2_figures)
{
    /* A DiT-XL/2-shaped config (no weights needed for the count): docs/FORMATS.md gives 118.6
     * GMAC per forward at 256 px and 524.5 at 512. */
    dit_config c = {.depth = 28, .hidden = 1152, .tokens = 256, .in_channels = 4, .out_channels = 8, .patch = 2};
    double g256 = (double)dit_macs_forward(&c) / 1e9;
    c.tokens = 1024;
    double g512 = (double)dit_macs_forward(&c) / 1e9;
    CHECK_MSG(fabs(g256 - 118.6) < 0.05, "%.3f GMAC at 256", g256);
    CHECK_MSG(fabs(g512 - 524.5) < 0.1, "%.3f GMAC at 512", g512);
}

/* Messages that say what is wrong (issue: reliability, round two), each naming its file. */
TEST(model_messages_name_what_is_wrong)
{
    sc_model *m;
    tiny_dit t = tiny_dit_default();
    t.extra = "blocks.1023.x";
    tiny_dit_write(test_path("stray.safetensors"), &t);
    CHECK_ERR(sc_model_load(test_path("stray.safetensors"), NULL, &m), SC_ERR_FORMAT,
              "stray.safetensors: tensor \"blocks.1023.x\" is stray: the file's blocks are 0..1");
    t = tiny_dit_default();
    t.with_pos = 0;
    t.extra = "pos_embed";
    tiny_dit_write(test_path("pos.safetensors"), &t);
    sc_load_opts o = {.num_heads = 2};
    CHECK_ERR(sc_model_load(test_path("pos.safetensors"), &o, &m), SC_ERR_FORMAT,
              "pos.safetensors: pos_embed is [4] (rank 1); an original DiT file stores it as [1, tokens, hidden]");
    /* A pipeline whose model_index.json names a transformer it does not have. */
    mkdir(test_path("pipe"), 0755);
    test_write(test_path("pipe/model_index.json"), "{\"transformer\": [\"diffusers\", \"DiTTransformer2DModel\"]}", 55);
    CHECK_ERR(sc_model_load(test_path("pipe"), NULL, &m), SC_ERR_FORMAT,
              "a diffusers pipeline (model_index.json names a \"transformer\") without its transformer/ folder");
    /* config.json that is a folder, or a FIFO (which would block a reader). */
    mkdir(test_path("dirc"), 0755);
    mkdir(test_path("dirc/config.json"), 0755);
    CHECK_ERR(sc_model_load(test_path("dirc"), NULL, &m), SC_ERR_FORMAT, "dirc/config.json: is a folder, not a config file");
    mkdir(test_path("fifo"), 0755);
    CHECK(mkfifo(test_path("fifo/config.json"), 0644) == 0);
    CHECK_ERR(sc_model_load(test_path("fifo"), NULL, &m), SC_ERR_FORMAT, "fifo/config.json: is a FIFO, not a config file");
    /* An empty ZIP archive is not called a broken safetensors file. */
    test_write(test_path("empty.zip"), "PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);
    CHECK_ERR(sc_model_load(test_path("empty.zip"), NULL, &m), SC_ERR_FORMAT,
              "empty.zip: this is an empty ZIP archive, not a checkpoint");
}

/* A pipeline folder may ask for its own defaults in model_index.json ("_smoothcache", a key diffusers
 * ignores): the shipped text demo asks for guidance 3. Anything odd there is refused by name. */
TEST(model_folder_defaults_from_model_index)
{
    sc_model *m = NULL;
    sc_model_info info;
    CHECK_OK(sc_model_load(test_source("models/textdemo"), NULL, &m));
    sc_model_get_info(m, &info);
    CHECK_MSG(info.default_cfg == 3.0f && info.default_steps == 20, "guidance %g, steps %d", (double)info.default_cfg,
              info.default_steps);
    sc_model_free(m);
    /* a folder of links to the demo's parts with its own model_index.json */
    const char *parts[] = {"transformer", "text_encoder", "tokenizer", "scheduler"};
    for (int i = 0; i < 4; i++) {
        char link[4096];
        snprintf(link, sizeof link, "%s/%s", test_tmpdir(), parts[i]);
        char target[4096];
        snprintf(target, sizeof target, "%s/%s", test_source("models/textdemo"), parts[i]);
        CHECK(symlink(target, link) == 0);
    }
    static const struct {
        const char *extra, *needle;
        int ok;
        float cfg;
        int steps;
    } cases[] = {
        {"\"_smoothcache\": {\"guidance_scale\": 5.5, \"num_inference_steps\": 12}", "", 1, 5.5f, 12},
        {"\"_smoothcache\": {}", "", 1, 4.5f, 20},
        {"\"_smoothcache\": 3", "\"_smoothcache\" must be an object", 0, 0, 0},
        {"\"_smoothcache\": {\"guidance\": 3}", "\"_smoothcache\" has \"guidance\"", 0, 0, 0},
        {"\"_smoothcache\": {\"guidance_scale\": 0.5}", "guidance_scale", 0, 0, 0},
        {"\"_smoothcache\": {\"num_inference_steps\": 0}", "num_inference_steps", 0, 0, 0},
        {"\"_smoothcache\": {\"num_inference_steps\": 2.5}", "num_inference_steps", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[1024];
        snprintf(json, sizeof json, "{\"_class_name\": \"PixArtAlphaPipeline\", \"transformer\": [\"diffusers\", "
                                    "\"PixArtTransformer2DModel\"], %s}\n", cases[i].extra);
        const char *index = test_path("model_index.json");
        unlink(index);
        test_write(index, json, strlen(json));
        if (cases[i].ok) {
            CHECK_OK(sc_model_load(test_tmpdir(), NULL, &m));
            sc_model_get_info(m, &info);
            CHECK_MSG(info.default_cfg == cases[i].cfg && info.default_steps == cases[i].steps, "case %zu: %g, %d", i,
                      (double)info.default_cfg, info.default_steps);
            sc_model_free(m);
        } else {
            CHECK_ERR(sc_model_load(test_tmpdir(), NULL, &m), SC_ERR_FORMAT, cases[i].needle);
            CHECK(strstr(sc_last_error(), "model_index.json"));
        }
    }
}
