/* The Oobleck audio decoder against diffusers' AutoencoderOobleck (tools/reference_oobleck.py,
 * tests/fixtures/oobleck/): weight norm folded, Snake, transposed convolutions of even and odd
 * strides, dilated residual units; and what it refuses. */
#include "harness.h"
#include "io/npy.h"
#include "smoothcache_tools.h"

TEST(oobleck_decode_matches_diffusers)
{
    sc_vae *v;
    CHECK_OK(sc_vae_load(test_fixture_sub("oobleck", "vae"), &v));
    sc_vae_info info;
    sc_vae_get_info(v, &info);
    CHECK(info.latent_channels == 5 && info.out_channels == 2 && info.upscale == 24 && info.sample_rate == 8000);
    npy_array lat, ref;
    CHECK_OK(npy_read(test_fixture_sub("oobleck", "latents.npy"), &lat));
    CHECK_OK(npy_read(test_fixture_sub("oobleck", "audio.npy"), &ref));
    const int64_t L = sc_audio_length(v, lat.shape[2]);
    CHECK_MSG(L == (int64_t)ref.shape[2], "length %lld, reference %llu", (long long)L, (unsigned long long)ref.shape[2]);
    float *wave = malloc(ref.numel * sizeof *wave);
    CHECK(wave != NULL);
    CHECK_OK(sc_decode_audio(v, 2, 5, lat.shape[2], lat.data, wave, 1));
    const double err = test_rel_err(wave, ref.data, ref.numel);
    fprintf(stderr, "  oobleck decode: %.3g\n", err);
    CHECK_MSG(err <= 1e-4, "relative error %.3g", err);
    /* Two threads: the same within float rounding. */
    CHECK_OK(sc_decode_audio(v, 2, 5, lat.shape[2], lat.data, wave, 2));
    CHECK(test_rel_err(wave, ref.data, ref.numel) <= 1e-4);
    /* Latents of another channel count are refused by name. */
    CHECK(sc_decode_audio(v, 2, 4, lat.shape[2], lat.data, wave, 1) == SC_ERR_ARG);
    CHECK_MSG(strstr(sc_last_error(), "5 latent channels"), "%s", sc_last_error());
    CHECK(sc_decode_audio(v, 0, 5, lat.shape[2], lat.data, wave, 1) == SC_ERR_ARG);
    CHECK_MSG(strstr(sc_last_error(), "nothing to decode"), "%s", sc_last_error());
    CHECK(sc_decode_audio(v, 2, 5, lat.shape[2], lat.data, wave, -1) == SC_ERR_ARG);
    free(wave);
    npy_free(&lat);
    npy_free(&ref);
    sc_vae_free(v);
}

/* A picture decoder is not an audio one, and the other way round. */
TEST(oobleck_and_picture_decoders_keep_to_their_kind)
{
    sc_vae *v;
    CHECK_OK(sc_vae_load(test_fixture_sub("oobleck", "vae"), &v));
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "proj"), NULL, &m));
    CHECK(sc_image_side(m, v) == 0);
    uint8_t rgb[16];
    float lat[8 * 16] = {0};
    CHECK(sc_decode_images(m, v, 1, lat, rgb, 1) == SC_ERR_ARG);
    sc_model_free(m);
    sc_vae_free(v);
    CHECK(sc_audio_length(NULL, 10) == 0);
}

/* The weights file alone is recognised as Oobleck's, and refused for want of its configuration. */
TEST(oobleck_weights_without_config_are_refused)
{
    sc_vae *v = NULL;
    CHECK(sc_vae_load(test_fixture_sub("oobleck", "vae/diffusion_pytorch_model.safetensors"), &v) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "needs its config.json"), "%s", sc_last_error());
}

/* Each configuration mistake is refused with its own message naming the file (no weights needed:
 * the configuration is read first). */
TEST(oobleck_config_reject_suite)
{
    static const struct {
        const char *config, *want;
    } cases[] = {
        {"{\"_class_name\": \"AutoencoderOobleck\", \"downsampling_ratios\": [2, 4], \"channel_multiples\": [1, 2, 4]}",
         "2 downsampling_ratios but 3 channel_multiples"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"downsampling_ratios\": [2, 0], \"channel_multiples\": [1, 2]}",
         "\"downsampling_ratios\"[1] must be an integer in [1, 64]"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"downsampling_ratios\": \"2 4\"}",
         "\"downsampling_ratios\" must be an array"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"downsampling_ratios\": [], \"channel_multiples\": []}",
         "must be an array of 1 to 8 integers"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"decoder_channels\": 4096, \"channel_multiples\": [1, 2, 4, 8, 16]}",
         "is over 8192"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"audio_channels\": 0}", "audio_channels"},
        {"{\"_class_name\": \"AutoencoderOobleck\", \"sampling_rate\": 1.5}", "sampling_rate"},
    };
    char dir[900], p[1000];
    snprintf(dir, sizeof dir, "%s", test_path("oobleck_reject"));
    snprintf(p, sizeof p, "mkdir -p %s", dir);
    CHECK(system(p) == 0);
    snprintf(p, sizeof p, "%s/config.json", dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        fputs(cases[i].config, f);
        fclose(f);
        sc_vae *v = NULL;
        CHECK_MSG(sc_vae_load(dir, &v) != SC_OK, "case %zu loaded", i);
        CHECK_MSG(strstr(sc_last_error(), cases[i].want) && strstr(sc_last_error(), "config.json"),
                  "case %zu: \"%s\" lacks \"%s\"", i, sc_last_error(), cases[i].want);
    }
}
