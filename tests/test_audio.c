/* Sound out of the engine: WAV files (read back by libsndfile and by Python's own wave module,
 * an outside reader), log-mel spectrograms against librosa's, and generate on a tiny
 * StableAudioPipeline: prompts to WAV files equal to diffusers' waveforms, the seconds flags,
 * the per-clip names, and the refusals. */
#include <jansson.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "smoothcache_tools.h"


static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* wave [channels][frames] planar, read back through libsndfile as float. */
static float *read_wav(const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *f = sf_open(path, SFM_READ, info);
    CHECK_MSG(f != NULL, "%s: %s", path, sf_strerror(NULL));
    const size_t n = (size_t)info->frames * (size_t)info->channels;
    float *inter = malloc(n * sizeof *inter), *planar = malloc(n * sizeof *planar);
    CHECK(inter && planar);
    CHECK(sf_readf_float(f, inter, info->frames) == info->frames);
    sf_close(f);
    for (sf_count_t t = 0; t < info->frames; t++)
        for (int c = 0; c < info->channels; c++) planar[(size_t)c * info->frames + t] = inter[t * info->channels + c];
    free(inter);
    return planar;
}

TEST(audio_wav_pcm16_and_float32_read_back)
{
    /* wave [2][5]: values inside and outside [-1, 1], and a NaN */
    const float wave[10] = {0.0f, 0.5f, -0.5f, 1.5f, NAN, 0.25f, -1.0f, 1.0f, -2.0f, 0.125f};
    int64_t clipped = -1;
    CHECK_OK(sc_wav_write(test_path("a.wav"), wave, 2, 5, 8000, SC_WAV_PCM16, "a C major chord", "seed=0", 0, &clipped));
    CHECK(clipped == 2);
    SF_INFO info;
    float *back = read_wav(test_path("a.wav"), &info);
    CHECK(info.samplerate == 8000 && info.channels == 2 && info.frames == 5);
    CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV && (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16);
    const float want[10] = {0.0f, 0.5f, -0.5f, 1.0f, 0.0f, 0.25f, -1.0f, 1.0f, -1.0f, 0.125f};
    /* pcm16 = round(x * 32767); libsndfile reads back x / 32768 */
    for (int i = 0; i < 10; i++)
        CHECK_MSG(fabsf(back[i] - want[i]) <= 2.0f / 32768, "sample %d: %g, wanted %g", i, (double)back[i], (double)want[i]);
    free(back);
    CHECK_OK(sc_wav_write(test_path("f.wav"), wave, 2, 5, 44100, SC_WAV_FLOAT32, NULL, NULL, 0, NULL));
    back = read_wav(test_path("f.wav"), &info);
    CHECK((info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_FLOAT && info.samplerate == 44100);
    for (int i = 0; i < 10; i++) CHECK(i == 4 ? isnan(back[i]) : back[i] == wave[i]);
    free(back);
    /* An outside reader: Python's own wave module (16-bit PCM), frames, rate and the first samples. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import wave,struct,sys; w=wave.open(sys.argv[1]); "
             "assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 8000, 5), "
             "(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()); "
             "v=struct.unpack('<10h', w.readframes(5)); assert v == (0, 8192, 16384, -32767, -16384, 32767, 32767, -32767, 0, 4096), v\" %s",
             test_path("a.wav"));
    CHECK_MSG(system(cmd) == 0, "python3's wave module did not read %s as written", test_path("a.wav"));
}

TEST(audio_wav_refusals_and_metadata_that_cannot_fail)
{
    const float wave[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    CHECK_OK(sc_wav_write(test_path("a.wav"), wave, 1, 4, 8000, SC_WAV_PCM16, NULL, NULL, 0, NULL));
    CHECK_ERR(sc_wav_write(test_path("a.wav"), wave, 1, 4, 8000, SC_WAV_PCM16, NULL, NULL, 0, NULL), SC_ERR_EXISTS,
              "a.wav");
    CHECK_ERR(sc_wav_write(test_path("b.wav"), wave, 0, 4, 8000, SC_WAV_PCM16, NULL, NULL, 0, NULL), SC_ERR_ARG,
              "channels");
    CHECK_ERR(sc_wav_write(test_path("b.wav"), wave, 1, 4, 0, SC_WAV_PCM16, NULL, NULL, 0, NULL), SC_ERR_ARG,
              "sample rate");
    CHECK_ERR(sc_wav_write(test_path("b.wav"), wave, 1, 0, 8000, SC_WAV_PCM16, NULL, NULL, 0, NULL), SC_ERR_ARG,
              "no audio");
    CHECK_ERR(sc_wav_write(test_path("b.wav"), wave, 2, (int64_t)1 << 40, 8000, SC_WAV_PCM16, NULL, NULL, 0, NULL),
              SC_ERR_ARG, "4 GiB");
    CHECK(!exists(test_path("b.wav")));
    /* A title with invalid UTF-8 and control characters, and one far too long, are cleaned. */
    char title[5000];
    memset(title, 'e', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    CHECK_OK(sc_wav_write(test_path("c.wav"), wave, 1, 4, 8000, SC_WAV_PCM16, "bad \xff\x01 byte", title, 0, NULL));
    SF_INFO info;
    SNDFILE *f = sf_open(test_path("c.wav"), SFM_READ, &info);
    CHECK(f);
    const char *t = sf_get_string(f, SF_STR_TITLE);
    CHECK_MSG(t && !strcmp(t, "bad \\xff\\x01 byte"), "title: %s", t ? t : "(none)");
    sf_close(f);
}

/* The engine's decibels against librosa's on the fixtures of tools/reference_audio.py. */
static void check_mel(const char *name, int rate)
{
    char p[256];
    sc_array wave = {0}, ref = {0};
    snprintf(p, sizeof p, "mel_%s_wave.npy", name);
    CHECK_OK(sc_npy_read(test_fixture_sub("audio", p), &wave));
    snprintf(p, sizeof p, "mel_%s_db.npy", name);
    CHECK_OK(sc_npy_read(test_fixture_sub("audio", p), &ref));
    const int64_t T = sc_spectrogram_frames((int64_t)wave.shape[1]);
    CHECK(ref.rank == 2 && ref.shape[0] == SC_MEL_BANDS && (int64_t)ref.shape[1] == T);
    float *db = malloc((size_t)SC_MEL_BANDS * (size_t)T * sizeof *db);
    CHECK_OK(sc_spectrogram(wave.data, (int)wave.shape[0], (int64_t)wave.shape[1], rate, db));
    double worst = 0;
    for (size_t i = 0; i < ref.numel; i++) {
        /* near the -80 dB floor a float32 power can cross it where librosa's float32 does not */
        const double d = fabs((double)db[i] - ref.data[i]);
        if (ref.data[i] > -79.0 && d > worst) worst = d;
    }
    CHECK_MSG(worst < 2e-3, "%s: the log-mel differs from librosa's by %g dB", name, worst);
    free(db);
    sc_array_free(&wave);
    sc_array_free(&ref);
}

TEST(audio_spectrogram_matches_librosa)
{
    check_mel("chord", 16000);
    check_mel("short", 44100);
    check_mel("silent", 8000);
}

TEST(audio_spectrogram_files)
{
    sc_array wave = {0};
    CHECK_OK(sc_npy_read(test_fixture_sub("audio", "mel_chord_wave.npy"), &wave));
    const int64_t L = (int64_t)wave.shape[1];
    CHECK_OK(sc_spectrogram_write(test_path("s.png"), wave.data, 1, 2, L, 16000, "chord", 0));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "pngcheck -q %s", test_path("s.png"));
    CHECK(system(cmd) == 0);
    CHECK_OK(sc_spectrogram_write(test_path("s.npy"), wave.data, 1, 2, L, 16000, NULL, 0));
    sc_array back = {0};
    CHECK_OK(sc_npy_read(test_path("s.npy"), &back));
    CHECK(back.rank == 3 && back.shape[0] == 1 && back.shape[1] == SC_MEL_BANDS &&
          (int64_t)back.shape[2] == sc_spectrogram_frames(L));
    sc_array_free(&back);
    CHECK_ERR(sc_spectrogram_write(test_path("s.jpg"), wave.data, 1, 2, L, 16000, NULL, 0), SC_ERR_ARG, ".png");
    CHECK_ERR(sc_spectrogram_write(test_path("t.png"), wave.data, 2, 1, L, 16000, NULL, 0), SC_ERR_ARG, "one clip");
    CHECK_ERR(sc_spectrogram(wave.data, 2, L, 0, NULL), SC_ERR_ARG, "no audio");
    sc_array_free(&wave);
}

static const char *pipe_dir(void) { return test_fixture_sub("stableaudio", "pipe"); }
static const char *ref_file(const char *name)
{
    static char p[4][2048];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/ref/%s", pipe_dir(), name);
    return p[k];
}

TEST(audio_generate_writes_wav_per_clip_and_npz)
{
    CHECK_CLI(0, "", "generate --model %s --prompts %s --steps 3 --seed 4 --out %s --spectrogram %s --quiet",
              pipe_dir(), ref_file("prompts.txt"), test_path("c.wav"), test_path("c.png"));
    CHECK(exists(test_path("c-1.wav")) && exists(test_path("c-2.wav")) && !exists(test_path("c.wav")));
    CHECK(exists(test_path("c-1.png")) && exists(test_path("c-2.png")));
    SF_INFO info;
    float *w = read_wav(test_path("c-2.wav"), &info);
    /* the longest clip: 20 frames x 24 samples at 8 kHz = 0.06 s, the decoder making 478 */
    CHECK_MSG(info.channels == 2 && info.samplerate == 8000 && info.frames == 478, "%d ch, %d Hz, %lld frames",
              info.channels, info.samplerate, (long long)info.frames);
    SNDFILE *f = sf_open(test_path("c-2.wav"), SFM_READ, &info);
    const char *title = sf_get_string(f, SF_STR_TITLE), *comment = sf_get_string(f, SF_STR_COMMENT);
    CHECK_MSG(title && !strcmp(title, "a short noise burst"), "title %s", title ? title : "(none)");
    CHECK(comment && strstr(comment, "seed=5 prompt=a short noise burst") && strstr(comment, "seconds=0..0.06"));
    sf_close(f);
    free(w);
    /* Existing files are refused before the work; --force overwrites. */
    CHECK_CLI(1, "c-1.wav", "generate --model %s --prompts %s --steps 3 --out %s", pipe_dir(), ref_file("prompts.txt"),
              test_path("c.wav"));
    /* .npz: every clip, float32, and the rate; --seconds cuts */
    CHECK_CLI(0, "wrote", "generate --model %s --prompts %s --steps 3 --seconds-start 0.01 --seconds 0.03 --out %s",
              pipe_dir(), ref_file("prompts.txt"), test_path("c.npz"));
    sc_array a = {0}, r = {0};
    CHECK_OK(sc_npz_read(test_path("c.npz"), "audio", &a));
    CHECK_OK(sc_npz_read(test_path("c.npz"), "sample_rate", &r));
    CHECK_MSG(a.rank == 3 && a.shape[0] == 2 && a.shape[1] == 2 && a.shape[2] == 240 && r.numel == 1 &&
              r.data[0] == 8000, "audio [%llu, %llu, %llu]", (unsigned long long)a.shape[0],
              (unsigned long long)a.shape[1], (unsigned long long)a.shape[2]);
    sc_array_free(&a);
    sc_array_free(&r);
}

/* Prompts to waveforms against StableAudioPipeline: same initial latents, same per-step noise.
 * The fixture's random Oobleck decoder amplifies (clips reach 300 in amplitude): the latents'
 * 2.5e-6 become 6e-4 in the waveform, while the decoder alone, on diffusers' own latents, is
 * within 8e-5 of a float64 decode (PyTorch's float32: 5e-5). */
static void check_pipeline_run(const char *run, const char *flags)
{
    char name[64];
    CHECK_CLI(0, "", "generate --model %s --prompts %s --steps 6 --cfg 7 --latents-in %s --noise-in %s %s "
                          "--out %s --latents-out %s --wav-format float32 --quiet",
              pipe_dir(), ref_file("prompts.txt"), ref_file("latents_in.npy"), ref_file("noise.npy"), flags,
              test_path("p.npz"), test_path("z.npy"));
    sc_array z = {0}, zr = {0}, a = {0}, ar = {0};
    snprintf(name, sizeof name, "%s_latents.npy", run);
    CHECK_OK(sc_npy_read(test_path("z.npy"), &z));
    CHECK_OK(sc_npy_read(ref_file(name), &zr));
    CHECK(z.numel == zr.numel);
    const double ez = test_rel_err(z.data, zr.data, z.numel);
    snprintf(name, sizeof name, "%s_audio.npy", run);
    CHECK_OK(sc_npz_read(test_path("p.npz"), "audio", &a));
    CHECK_OK(sc_npy_read(ref_file(name), &ar));
    CHECK_MSG(a.numel == ar.numel && a.shape[2] == ar.shape[2], "%s: %llu samples, diffusers %llu", run,
              (unsigned long long)a.shape[2], (unsigned long long)ar.shape[2]);
    const double ea = test_rel_err(a.data, ar.data, a.numel);
    CHECK_MSG(ez < 1e-4 && ea < 1e-3, "%s: latents %.3g, waveform %.3g from diffusers' (relative)", run, ez, ea);
    fprintf(stderr, "  %s: latents %.2g, waveform %.2g from diffusers'\n", run, ez, ea);
    sc_array_free(&z);
    sc_array_free(&zr);
    sc_array_free(&a);
    sc_array_free(&ar);
    unlink(test_path("p.npz"));
    unlink(test_path("z.npy"));
}

TEST(audio_generate_equals_stable_audio_pipeline)
{
    check_pipeline_run("plain", "--seconds-total 0.05");
    check_pipeline_run("neg", "--negative-prompt 'low quality' --seconds-start 0.01 --seconds-total 0.06");
}

TEST(audio_generate_refusals)
{
    CHECK_CLI(2, "makes sound", "generate --model %s --prompt x --out %s", pipe_dir(), test_path("x.png"));
    CHECK_CLI(2, "longer than this model makes", "generate --model %s --prompt x --seconds 1 --out %s", pipe_dir(),
              test_path("x.wav"));
    CHECK_CLI(2, "give one of them", "generate --model %s --prompt x --seconds 0.01 --seconds-total 0.02 --out %s",
              pipe_dir(), test_path("x.wav"));
    CHECK_CLI(2, "must be after", "generate --model %s --prompt x --seconds-start 0.05 --seconds-total 0.02 --out %s",
              pipe_dir(), test_path("x.wav"));
    CHECK_CLI(2, "pcm16 or float32", "generate --model %s --prompt x --wav-format pcm24 --out %s", pipe_dir(),
              test_path("x.wav"));
    CHECK_CLI(2, "--spectrogram", "generate --model %s --prompt x --spectrogram %s", pipe_dir(), test_path("x.jpg"));
    CHECK_CLI(2, "[steps, N, latent...]", "generate --model %s --prompt x --noise-in %s --out %s", pipe_dir(),
              ref_file("latents_in.npy"), test_path("x.wav"));
    /* one file named two ways, before it exists */
    char dotted[4096];
    snprintf(dotted, sizeof dotted, "%s/./x.npy", test_tmpdir());
    CHECK_CLI(2, "name the same file", "generate --model %s --prompt x --spectrogram %s --latents-out %s", pipe_dir(),
              dotted, test_path("x.npy"));
    /* sample makes pictures for FID tools: a sound model is sent to generate */
    CHECK_CLI(2, "makes sound, not pictures: smoothcache generate --out FILE.wav", "sample --model %s --num 2 --out %s",
              pipe_dir(), test_path("s.npz"));
    /* a picture model refuses the sound flags */
    char dit[2048];
    snprintf(dit, sizeof dit, "%s/dit_a", test_fixtures());
    CHECK_CLI(2, "makes pictures", "generate --model %s --class 1 --steps 2 --out %s", dit, test_path("x.wav"));
    CHECK_CLI(2, "makes pictures", "generate --model %s --class 1 --steps 2 --seconds 3 --latents-out %s", dit,
              test_path("x.npy"));
    CHECK(!exists(test_path("x.wav")) && !exists(test_path("x.npy")) && !exists(test_path("x.png")) &&
          !exists(test_path("s.npz")));
}

/* SmoothCache on Stable Audio: a schedule with diffusers' keys (attn1, attn2, ff) applied here and by
 * wrapping the components of diffusers' StableAudioDiTBlock (tools/reference_stable_audio_cache.py,
 * the official helper's way) gives the same latents and the same reuse counts. */
TEST(audio_smoothcache_schedule_equals_wrapped_diffusers)
{
    CHECK_CLI(0, "", "generate --model %s --prompts %s --steps 6 --cfg 7 --latents-in %s --noise-in %s "
                     "--seconds-total 0.05 --cache smooth:schedule=%s --latents-out %s --report %s --quiet",
              pipe_dir(), ref_file("prompts.txt"), ref_file("latents_in.npy"), ref_file("noise.npy"),
              ref_file("cache_schedule.json"), test_path("z.npy"), test_path("r.json"));
    sc_array z = {0}, zr = {0}, zu = {0};
    CHECK_OK(sc_npy_read(test_path("z.npy"), &z));
    CHECK_OK(sc_npy_read(ref_file("cache_latents.npy"), &zr));
    CHECK_OK(sc_npy_read(ref_file("plain_latents.npy"), &zu));
    CHECK(z.numel == zr.numel && z.numel == zu.numel);
    const double e = test_rel_err(z.data, zr.data, z.numel), moved = test_rel_err(zu.data, zr.data, z.numel);
    CHECK_MSG(e < 1e-4 && moved > 1e-2, "cached latents %.3g from diffusers' cached ones (the cache moved them %.3g)",
              e, moved);
    /* reuse counts: 2 blocks x 6 steps, the schedule's 4 zeros per component */
    json_error_t jerr;
    json_t *root = json_load_file(test_path("r.json"), 0, &jerr);
    CHECK_MSG(root, "r.json: %s", jerr.text);
    json_t *run = json_array_get(json_object_get(root, "runs"), 0);
    json_t *ref = json_load_file(ref_file("cache.json"), 0, &jerr);
    CHECK_MSG(ref, "cache.json: %s", jerr.text);
    const char *comp[3] = {"attn", "cross", "mlp"}, *diffusers[3] = {"attn1", "attn2", "ff"};
    for (int c = 0; c < 3; c++) {
        const json_int_t done = json_integer_value(json_object_get(json_object_get(run, "computed"), comp[c]));
        const json_int_t kept = json_integer_value(json_object_get(json_object_get(run, "skipped"), comp[c]));
        const json_t *counts = json_object_get(json_object_get(ref, "counts"), diffusers[c]);
        const json_int_t rdone = json_integer_value(json_object_get(counts, "computed"));
        const json_int_t rkept = json_integer_value(json_object_get(counts, "reused"));
        CHECK_MSG(done == rdone && kept == rkept && kept > 0, "%s: computed %lld, reused %lld; diffusers' %s: %lld and %lld",
                  comp[c], (long long)done, (long long)kept, diffusers[c], (long long)rdone, (long long)rkept);
    }
    json_decref(ref);
    json_decref(root);
    sc_array_free(&z);
    sc_array_free(&zr);
    sc_array_free(&zu);
}

TEST(audio_info_describes_the_decoder_and_the_clip)
{
    CHECK_CLI(0, "2 audio channels at 8000 Hz, 24 samples per latent frame", "info --model %s", pipe_dir());
    CHECK(strstr(test_cli_output, "up to 0.06 s (20 frames; the decoder makes 478 samples)"));
    CHECK(strstr(test_cli_output, "prompts padded to 512 tokens")); /* the fixture tokenizer's model_max_length */
}

/* encode's embeddings of a Stable Audio pipeline are padded as the pipeline pads (its tokenizer's
 * model_max_length: the DiT attends to every padded token), so --prompt-embeds makes what
 * --prompts makes. */
TEST(audio_encoded_prompts_make_the_same_sound)
{
    CHECK_CLI(0, "", "encode --model %s --prompts %s --out %s --quiet", pipe_dir(), ref_file("prompts.txt"),
              test_path("e.npz"));
    CHECK_CLI(0, "", "generate --model %s --prompt-embeds %s --steps 3 --out %s --quiet", pipe_dir(), test_path("e.npz"),
              test_path("a.npz"));
    CHECK_CLI(0, "", "generate --model %s --prompts %s --steps 3 --out %s --quiet", pipe_dir(), ref_file("prompts.txt"),
              test_path("b.npz"));
    sc_array a = {0}, b = {0};
    CHECK_OK(sc_npz_read(test_path("a.npz"), "audio", &a));
    CHECK_OK(sc_npz_read(test_path("b.npz"), "audio", &b));
    CHECK(a.numel == b.numel && !memcmp(a.data, b.data, a.numel * sizeof(float)));
    sc_array_free(&a);
    sc_array_free(&b);
}

TEST(audio_bench_reports_snr_and_mel_distance)
{
    CHECK_CLI(0, "SNR dB", "bench --model %s --prompts %s --steps 6 --cache fora:n=2 --repeats 1 --json %s --csv %s --quiet",
              pipe_dir(), ref_file("prompts.txt"), test_path("b.json"), test_path("b.csv"));
    CHECK(strstr(test_cli_output, "mel dB"));
    size_t len;
    char *text = test_read(test_path("b.json"), &len);
    CHECK(strstr(text, "\"audio_snr_db\"") && strstr(text, "\"mel_distance_db\""));
    free(text);
    /* the CSV has the same two columns, after latent_rel_l2; the cached row's SNR is a finite number */
    text = test_read(test_path("b.csv"), &len);
    CHECK_MSG(strstr(text, ",latent_rel_l2,audio_snr_db,mel_distance_db,"), "%s", text);
    const char *row = strstr(text, "\"fora:n=2\",");
    CHECK_MSG(row, "%s", text);
    if (row) {
        /* fields after the policy: seconds .. latent_rel_l2 (8), then the SNR */
        const char *f = row;
        for (int i = 0; i < 9 && f; i++) f = strchr(f + 1, ',');
        char *end;
        const double snr = f ? strtod(f + 1, &end) : NAN;
        CHECK_MSG(f && end > f + 1 && *end == ',' && isfinite(snr) && snr > 0, "%s", text);
    }
    free(text);
    /* bench takes one --prompt as well (its repeatable flag is --cache) */
    CHECK_CLI(0, "fora:n=2", "bench --model %s --prompt 'A warm C major chord' --steps 6 --cache fora:n=2 --repeats 1 --quiet",
              pipe_dir());
    /* --accuracy listens with the audio demo's checker: a random model's clips are not heard as
     * "A warm C major chord"; the column is there */
    CHECK_CLI(0, "prompt acc", "bench --model %s --prompts %s --steps 6 --cache fora:n=2 --repeats 1 --accuracy --quiet",
              pipe_dir(), ref_file("prompts.txt"));
    CHECK(strstr(test_cli_output, "%"));
}
