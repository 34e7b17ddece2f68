/* The SD-VAE decoder: parity with diffusers' AutoencoderKL.decode for the three tensor
 * namings (fixtures from tools/reference.py vae-fixtures), the folded upsampling, GroupNorm
 * precision, buffer reuse across sizes, and the loader's errors for missing or misshaped
 * tensors and bad configurations. */
#include <jansson.h>

#include "backend/cpu/conv.h"
#include "backend/cpu/kernels.h"
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "models/sdvae/sdvae.h"
#include "pipeline/pipeline.h"

/* The SD-VAE family's decoder, loaded the way the API loads any decoder. */
typedef sdvae vae_model;

static sc_status vae_load(const char *path, vae_model **m)
{
    decoder *d;
    sc_status s = pipeline_decoder_load(path, NULL, &d);
    *m = s ? NULL : (sdvae *)d;
    if (!s) CHECK(d->family == &decoder_family_sdvae);
    return s;
}

static void vae_free(vae_model *m) { m->base.family->free(&m->base); }
static sc_status vae_decode(vae_model *m, int n, int S, const float *lat, float *out, int threads)
{
    return sdvae_decode(&m->base, n, S, lat, out, threads);
}
static float vae_scaling_factor(const vae_model *m) { return (float)m->cfg.scaling_factor; }
static int vae_upscale(const vae_model *m) { return m->base.upscale; }

static vae_model *load_ok(const char *path)
{
    vae_model *m;
    CHECK_OK(vae_load(path, &m));
    return m;
}

TEST(vae_decode_matches_diffusers_for_every_naming)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture("manifest.json"), 1u << 20, &j));
    static const char *namings[] = {"diffusers", "legacy", "ldm"};
    int seen[3] = {0};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "vae_cases"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        vae_model *m = load_ok(test_fixture(json_string_value(json_object_get(c, "model"))));
        const char *naming = json_string_value(json_object_get(c, "naming"));
        CHECK_MSG(!strcmp(namings[m->cfg.naming], naming), "%s: detected naming %s, fixture is %s", name,
                  namings[m->cfg.naming], naming);
        seen[m->cfg.naming]++;
        CHECK(vae_scaling_factor(m) == (float)json_number_value(json_object_get(c, "scaling_factor")));
        npy_array lat, ref;
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "latents"))), &lat));
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "out"))), &ref));
        const int n = (int)lat.shape[0], S = (int)lat.shape[2], F = S * vae_upscale(m);
        CHECK(lat.rank == 4 && lat.shape[1] == (uint64_t)m->cfg.latent_channels && ref.rank == 4 &&
              ref.shape[0] == (uint64_t)n && ref.shape[1] == 3 && ref.shape[2] == (uint64_t)F);
        float *out = calloc(ref.numel, sizeof *out);
        CHECK_OK(vae_decode(m, n, S, lat.data, out, 0));
        double md = 0, mr = 0;
        for (size_t k = 0; k < ref.numel; k++) {
            double d = fabs((double)out[k] - ref.data[k]);
            if (!(d <= md)) md = d; /* NaN fails */
            if (fabs(ref.data[k]) > mr) mr = fabs(ref.data[k]);
        }
        double tol = json_real_value(json_object_get(c, "tol"));
        CHECK_MSG(md / mr <= tol, "%s: max abs error / max abs reference = %.3g > %.3g", name, md / mr, tol);
        CHECK(mr > 0.1);
        free(out);
        npy_free(&lat);
        npy_free(&ref);
        vae_free(m);
    }
    CHECK(seen[0] >= 1 && seen[1] >= 1 && seen[2] >= 1);
    json_decref(j);
}

/* The decoder output of `path` on the fixture latents of `latents` (freed by the caller). */
static float *decode_file(const char *path, const char *latents, size_t *count)
{
    vae_model *m = load_ok(path);
    npy_array lat;
    CHECK_OK(npy_read(test_fixture(latents), &lat));
    const int n = (int)lat.shape[0], S = (int)lat.shape[2], F = S * vae_upscale(m);
    *count = (size_t)n * 3 * F * F;
    float *out = calloc(*count, sizeof *out);
    CHECK_OK(vae_decode(m, n, S, lat.data, out, 0));
    npy_free(&lat);
    vae_free(m);
    return out;
}

TEST(vae_pytorch_files_decode_bit_identical_to_their_safetensors_twins)
{
    /* A diffusers VAE folder whose weights are only diffusion_pytorch_model.bin (as diffusers saves
     * with safe_serialization=False), and a lone torch.save file in LDM names under
     * first_stage_model.: tools/make_torch_fixtures.py wrote both with torch from the fixtures. */
    static const char *pairs[][3] = {{"torch/vae_a_bin", "vae_a_diffusers", "vae_a_diffusers_latents.npy"},
                                     {"torch/vae_b_ldm.pt", "vae_b_ldm.safetensors", "vae_b_ldm_latents.npy"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        size_t na, nb;
        float *a = decode_file(test_fixture(pairs[i][0]), pairs[i][2], &na), *b = decode_file(test_fixture(pairs[i][1]), pairs[i][2], &nb);
        CHECK_MSG(na == nb && !memcmp(a, b, na * sizeof *a), "%s and %s decode differently", pairs[i][0], pairs[i][1]);
        free(a);
        free(b);
    }
}

TEST(vae_lone_ldm_file_gets_its_config_from_shapes_and_sd_defaults)
{
    vae_model *m = load_ok(test_fixture("vae_b_ldm.safetensors"));
    const sdvae_config *c = &m->cfg;
    CHECK(c->naming == SDVAE_NAMES_LDM);
    CHECK(c->blocks == 2 && c->block_out[0] == 32 && c->block_out[1] == 32);
    CHECK(c->layers_per_block == 0 && m->up[0].n_resnets == 1);
    CHECK(c->latent_channels == 4 && c->out_channels == 3);
    CHECK(c->groups == 32 && c->scaling_factor == 0.18215 && c->shift_factor == 0);
    CHECK(c->post_quant_conv && c->mid_attention);
    CHECK(vae_upscale(m) == 2);
    vae_free(m);
    m = load_ok(test_fixture("vae_a_legacy"));
    CHECK(m->cfg.naming == SDVAE_NAMES_LEGACY && m->cfg.groups == 4 && m->cfg.scaling_factor == 0.18215);
    CHECK(m->cfg.blocks == 3 && m->cfg.layers_per_block == 1 && m->up[1].n_resnets == 2 && vae_upscale(m) == 4);
    CHECK(m->up[2].resnets[0].shortcut && !m->up[0].resnets[0].shortcut && !m->up[2].upsample);
    vae_free(m);
}

static void fill(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

TEST(vae_decode_is_the_same_per_image_in_a_batch_and_after_a_size_change)
{
    vae_model *m = load_ok(test_fixture("vae_a_legacy"));
    const int S = 6, F = S * 4, T = 5;
    const size_t nl = 4 * S * S, ni = 3 * (size_t)F * F;
    float *lat = malloc(2 * nl * sizeof *lat), *other = malloc(4 * T * T * sizeof *other);
    float *batch = malloc(2 * ni * sizeof *batch), *one = malloc(ni * sizeof *one);
    float *small = malloc(3 * 16 * T * T * sizeof *small);
    fill(lat, 2 * nl, 1);
    fill(other, 4 * T * T, 2);
    CHECK_OK(vae_decode(m, 2, S, lat, batch, 2));
    CHECK_OK(vae_decode(m, 1, T, other, small, 1)); /* another size: new buffers and primitives */
    CHECK_OK(vae_decode(m, 1, S, lat + nl, one, 2));
    CHECK(memcmp(one, batch + ni, ni * sizeof *one) == 0);
    CHECK_OK(vae_decode(m, 1, S, lat, one, 1));
    CHECK(memcmp(one, batch, ni * sizeof *one) == 0);
    free(lat); free(other); free(batch); free(one); free(small);
    vae_free(m);
}

TEST(vae_decode_rejects_bad_sizes)
{
    vae_model *m = load_ok(test_fixture("vae_a_legacy"));
    float x[4] = {0}, y[48];
    CHECK_ERR(vae_decode(m, 0, 1, x, y, 1), SC_ERR_ARG, "batch size 0");
    CHECK_ERR(vae_decode(m, 1, 0, x, y, 1), SC_ERR_ARG, "latent size 0");
    vae_free(m);
}

TEST(vae_upsample_fold_equals_nearest_upsampling_then_3x3_conv)
{
    const int s = 3, ci = 5, co = 5, S2 = 2 * s;
    float x[3 * 3 * 5], w3[5 * 5 * 9], b[5], w2[4 * 5 * 5 * 4], b4[4 * 5];
    float folded[4 * 4 * 20], out[6 * 6 * 5];
    fill(x, sizeof x / sizeof *x, 3);
    fill(w3, sizeof w3 / sizeof *w3, 4);
    fill(b, 5, 5);
    sdvae_upsample_weights(w2, w3, co, ci);
    for (int p = 0; p < 4; p++) memcpy(b4 + p * co, b, sizeof b);
    conv_ctx *c;
    conv_layer *L;
    CHECK_OK(conv_create(&c));
    CHECK_OK(conv_layer_create(c, ci, 4 * co, 2, 1, w2, b4, CONV_DIRECT, 0, &L));
    CHECK_OK(conv_exec(c, L, 1, s, s, x, folded, CONV_OVERWRITE)); /* folded [s+1, s+1, 4 co] */
    cpu_upsample_shuffle(out, folded, s, co);                        /* out [2s, 2s, co] */
    for (int y = 0; y < S2; y++)
        for (int xx = 0; xx < S2; xx++)
            for (int o = 0; o < co; o++) {
                double acc = b[o];
                for (int u = 0; u < 3; u++)
                    for (int v = 0; v < 3; v++) {
                        int uy = y + u - 1, ux = xx + v - 1; /* in the upsampled image */
                        if (uy < 0 || uy >= S2 || ux < 0 || ux >= S2) continue;
                        for (int i = 0; i < ci; i++)
                            acc += (double)x[((uy / 2) * s + ux / 2) * ci + i] * w3[((o * ci + i) * 3 + u) * 3 + v];
                    }
                float got = out[(y * S2 + xx) * co + o];
                CHECK_MSG(fabs(got - acc) <= 1e-5 * (1 + fabs(acc)), "(%d,%d,%d): %.7g, want %.7g", y, xx, o, got, acc);
            }
    conv_layer_free(L);
    conv_destroy(c);
}

TEST(vae_group_norm_keeps_precision_with_a_large_mean)
{
    enum { P = 300, C = 12, G = 3 };
    static float x[P * C], y[P * C];
    float gamma[C], beta[C];
    double stats[3 * C];
    fill(x, P * C, 6);
    for (int i = 0; i < P * C; i++) x[i] = 1000.0f + x[i];
    for (int c = 0; c < C; c++) {
        gamma[c] = 0.5f + 0.1f * c;
        beta[c] = 0.01f * c;
    }
    for (int silu = 0; silu <= 1; silu++) {
        cpu_group_norm(y, x, P, C, G, 1e-6f, gamma, beta, silu, stats);
        for (int g = 0; g < G; g++) {
            double mean = 0, var = 0;
            for (int p = 0; p < P; p++)
                for (int c = g * 4; c < g * 4 + 4; c++) mean += x[p * C + c];
            mean /= P * 4;
            for (int p = 0; p < P; p++)
                for (int c = g * 4; c < g * 4 + 4; c++) var += (x[p * C + c] - mean) * (x[p * C + c] - mean);
            var /= P * 4;
            for (int p = 0; p < P; p++)
                for (int c = g * 4; c < g * 4 + 4; c++) {
                    double want = (x[p * C + c] - mean) / sqrt(var + 1e-6) * gamma[c] + beta[c];
                    if (silu) want = want / (1 + exp(-want));
                    CHECK_MSG(fabs(y[p * C + c] - want) <= 1e-3, "silu %d [%d,%d]: %.7g, want %.7g", silu, p, c,
                              y[p * C + c], want);
                }
        }
    }
}

/* ---- loader errors, on copies of the fixtures with one defect ---- */

/* Copies safetensors `src` to `dst` without tensor `drop` (or NULL) and with tensor `reshape`
 * (or NULL) declared as [a, b] (same element count). */
static void copy_weights(const char *src, const char *dst, const char *drop, const char *reshape, long a, long b)
{
    st_file *f;
    CHECK_OK(st_open(src, &f));
    json_t *h = json_object();
    size_t off = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        json_t *shape = json_array();
        if (reshape && !strcmp(t->name, reshape)) {
            json_array_append_new(shape, json_integer(a));
            json_array_append_new(shape, json_integer(b));
        } else {
            for (int k = 0; k < t->rank; k++) json_array_append_new(shape, json_integer((json_int_t)t->shape[k]));
        }
        size_t len = (size_t)(t->end - t->begin);
        json_object_set_new(h, t->name, json_pack("{s:s, s:o, s:[I, I]}", "dtype", st_dtype_name(t->dtype), "shape",
                                                  shape, "data_offsets", (json_int_t)off, (json_int_t)(off + len)));
        off += len;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    size_t hl = strlen(hs), total = 8 + hl + off;
    unsigned char *buf = calloc(1, total), *p = buf + 8 + hl;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, hs, hl);
    for (size_t i = 0; i < st_count(f); i++) {
        const st_tensor *t = st_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        memcpy(p, st_data(f, t), (size_t)(t->end - t->begin));
        p += t->end - t->begin;
    }
    test_write(dst, buf, total);
    free(buf);
    free(hs);
    json_decref(h);
    st_close(f);
}

#define LEGACY_WEIGHTS "vae_a_legacy/diffusion_pytorch_model.safetensors"

/* tmpdir/config.json = the legacy fixture's config with `key` set to the JSON `value`
 * (or removed when value is NULL). */
static void write_config(const char *key, const char *value)
{
    json_t *cfg;
    CHECK_OK(json_load_object_file(test_fixture("vae_a_legacy/config.json"), 1u << 20, &cfg));
    if (value) {
        json_error_t e;
        json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
        CHECK(v);
        json_object_set_new(cfg, key, v);
    } else {
        json_object_del(cfg, key);
    }
    char *s = json_dumps(cfg, 0);
    test_write(test_path("config.json"), s, strlen(s));
    free(s);
    json_decref(cfg);
}

TEST(vae_load_names_a_missing_tensor)
{
    vae_model *m;
    write_config("scaling_factor", NULL);
    copy_weights(test_fixture(LEGACY_WEIGHTS), test_path("diffusion_pytorch_model.safetensors"),
                 "decoder.up_blocks.2.resnets.0.conv_shortcut.weight", NULL, 0, 0);
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT,
              "missing tensor \"decoder.up_blocks.2.resnets.0.conv_shortcut.weight\"");
    copy_weights(test_fixture("vae_b_ldm.safetensors"), test_path("b.safetensors"),
                 "first_stage_model.decoder.up.1.upsample.conv.bias", NULL, 0, 0);
    CHECK_ERR(vae_load(test_path("b.safetensors"), &m), SC_ERR_FORMAT,
              "missing tensor \"first_stage_model.decoder.up.1.upsample.conv.bias\"");
}

TEST(vae_load_names_a_misshaped_tensor_with_both_shapes)
{
    vae_model *m;
    write_config("scaling_factor", NULL);
    copy_weights(test_fixture(LEGACY_WEIGHTS), test_path("diffusion_pytorch_model.safetensors"), NULL,
                 "decoder.mid_block.attentions.0.query.weight", 8, 32);
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT,
              "tensor \"decoder.mid_block.attentions.0.query.weight\" has shape [8,32] but the VAE configuration needs [16,16,1,1]");
    copy_weights(test_fixture(LEGACY_WEIGHTS), test_path("diffusion_pytorch_model.safetensors"), NULL,
                 "decoder.conv_norm_out.weight", 2, 4);
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT,
              "tensor \"decoder.conv_norm_out.weight\" has shape [2,4] but the VAE configuration needs [8]");
    /* The config and the weights disagree: 8 latent channels in config.json, 4 in the file. */
    copy_weights(test_fixture(LEGACY_WEIGHTS), test_path("diffusion_pytorch_model.safetensors"), NULL, NULL, 0, 0);
    write_config("latent_channels", "8");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT,
              "tensor \"post_quant_conv.weight\" has shape [4,4,1,1] but the VAE configuration needs [8,8,1,1]");
    write_config("layers_per_block", "2");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "missing tensor \"decoder.up_blocks.0.resnets.2.norm1.weight\"");
}

TEST(vae_config_errors_name_the_key_and_the_problem)
{
    vae_model *m;
    copy_weights(test_fixture(LEGACY_WEIGHTS), test_path("diffusion_pytorch_model.safetensors"), NULL, NULL, 0, 0);
    write_config("up_block_types", "[\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\", \"UpDecoderBlock2D\"]");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_UNSUPPORTED, "\"up_block_types\"[1] is \"AttnUpDecoderBlock2D\"");
    write_config("up_block_types", "[\"UpDecoderBlock2D\"]");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "one entry per block_out_channels entry (3)");
    write_config("act_fn", "\"gelu\"");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_UNSUPPORTED, "act_fn \"gelu\"");
    write_config("_class_name", "\"AutoencoderTiny\"");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_UNSUPPORTED, "_class_name \"AutoencoderTiny\"");
    write_config("norm_num_groups", "3");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "norm_num_groups 3 does not divide block_out_channels[0] = 8");
    write_config("block_out_channels", "[8, \"16\", 16]");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "\"block_out_channels\"[1] must be an integer");
    write_config("block_out_channels", "16");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "\"block_out_channels\" must be an array");
    write_config("scaling_factor", "0");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "\"scaling_factor\" = 0 is out of range");
    write_config("layers_per_block", "1.5");
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "\"layers_per_block\" must be an integer");
    write_config("scaling_factor", "0.5");
    CHECK_OK(vae_load(test_tmpdir(), &m));
    CHECK(vae_scaling_factor(m) == 0.5f);
    vae_free(m);
}

TEST(vae_load_tells_what_a_path_is_not)
{
    vae_model *m;
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "not a VAE folder: no config.json");
    write_config("scaling_factor", NULL);
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "no diffusion_pytorch_model.safetensors (or its");
    test_write(test_path("diffusion_pytorch_model.bin"), "PK\x03\x04", 4);
    CHECK_ERR(vae_load(test_tmpdir(), &m), SC_ERR_FORMAT, "diffusion_pytorch_model.bin"); /* read, and refused */
    CHECK_ERR(vae_load(test_fixture("dit_d.safetensors"), &m), SC_ERR_FORMAT, "not a VAE: no \"decoder.conv_in.weight\"");
    CHECK_ERR(vae_load(test_fixture("dit_c_pipeline"), &m), SC_ERR_FORMAT,
              "dit_c_pipeline: a diffusers pipeline (model_index.json names a \"vae\") without its vae/ folder");
    CHECK_ERR(vae_load(test_path("absent"), &m), SC_ERR_IO, "cannot open");
    CHECK_ERR(vae_load("", &m), SC_ERR_ARG, "empty VAE path");
}
