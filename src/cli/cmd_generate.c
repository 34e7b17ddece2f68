/* smoothcache generate: sample latents with a class-conditional DiT, a text-to-image PixArt or a
 * text-to-audio Stable Audio model, optionally cached, and report the work done and the quality
 * against the uncached run of the same seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audio.h"
#include "cli/commands.h"
#include "cli/images.h"
#include "cli/report.h"
#include "cli/textcond.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS,
    CLI_SAMPLING_OPTS,
    CLI_TEXT_OPTS,
    {"--cache", "SPEC", "feature caching: none (default), fora:n=N, smooth:schedule=FILE, ... (smoothcache policies)"},
    CLI_AUDIO_COND_OPTS,
    CLI_VAE_OPT,
    {"--out", "FILE", "write the pictures: FILE.png (one image, or a grid of all) or FILE.npz (uint8 NHWC); "
                      "sound: FILE.wav (one file per clip: FILE-1.wav, FILE-2.wav... for several) or FILE.npz "
                      "(float32 audio [n, channels, samples] and sample_rate); samples.png (clip.wav) when no "
                      "output at all is named"},
    CLI_AUDIO_OUT_OPTS,
    {"--latents-in", "FILE.npy", "start from this float32 latent [N, C, S, S] (sound: [N, C, frames]) instead of the seed"},
    {"--noise-in", "FILE.npy", "stochastic samplers (iddpm, cosine-dpmpp2m-sde, k-dpmpp3m-sde): the unit noise each step adds, float32 "
                               "[steps, N, latent...], instead of the seeded noise (to follow a reference exactly)"},
    {"--latents-out", "FILE.npy", "write the final float32 latents [N, C, S, S] (sound: [N, C, frames])"},
    {"--report", "FILE.json", "write the work done (computed/skipped, MACs, time) and quality as JSON"},
    {"--compare-uncached", NULL, "also run without caching and report speed-up and quality against it"},
    {"--out-uncached", "FILE", "with --compare-uncached: write the uncached pictures (.png or .npz) or clips (.wav or .npz) too"},
    {"--repeats", "N", "with --compare-uncached: time N uncached/cached pairs after a warm-up and report the "
                       "median speed-up and its range, 1..100 (default 3)"},
    {"--force", NULL, "overwrite output files that exist"},
    {"--no-check-finite", NULL, "skip the per-step NaN/Inf check of the latents"},
    {"--quiet", NULL, "no progress line, no summary, no warnings"},
};

static const char k_epilog[] =
    "Class-conditional models take --class; without it, one image per class for models of at most\n"
    "16 classes (the demo model's 10), class 0 otherwise. Text-to-image models (PixArt) take --prompt:\n"
    "the pipeline folder's tokenizer and text encoder encode the prompts and the negative prompt, then\n"
    "are freed before sampling; steps, guidance and sampler default to the pipeline's (20, 4.5 and its\n"
    "scheduler: DPM-Solver++). --compare-uncached runs a one-step warm-up, then the uncached and the cached\n"
    "generation back to back, --repeats times; the speed-up printed is the median of the pairs' ratios.\n"
    "A speed-up beyond 1 / MAC ratio (+10%) cannot come from caching and is flagged as noise.\n"
    "examples:\n"
    "  smoothcache generate          (the demo model, one image per class, samples.png)\n"
    "  smoothcache generate --model DiT-XL-2-256/ --class 207,360 --seed 0 --out dogs.png\n"
    "  smoothcache generate --model DiT-XL-2-256/ --class 88 --cache smooth:schedule=50-N-3-threshold-0.18.json \\\n"
    "      --compare-uncached --latents-out z.npy\n"
    "  smoothcache generate --model DiT-XL-2-256x256.safetensors --sampler iddpm --steps 250 \\\n"
    "      --class 88 --latents-out z.npy\n"
    "  smoothcache generate --model PixArt-XL-2-512x512/ --prompt \"a red fox in snow\" --vae PixArt-XL-2-512x512/ \\\n"
    "      --cache smooth:schedule=pixart.json --out fox.png\n"
    "  smoothcache generate --model stable-audio-open-1.0/ --prompt \"a hammer hitting wood\" --seconds 10 \\\n"
    "      --out hammer.wav --spectrogram hammer.png\n"
    "  smoothcache generate --prompt \"a C major chord\" --out chord.wav   (the shipped audio demo)\n"
    "Sound (Stable Audio): the pipeline folder's vae/ (an Oobleck autoencoder) decodes the clips;\n"
    "--seconds-start and --seconds-total condition the model and cut the written clip, as the\n"
    "diffusers pipeline does; guidance 7 (or the folder's own default) and the folder's scheduler\n"
    "by default.\n";

static int wav_path(const char *path)
{
    const size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".wav");
}

int cmd_generate(int argc, char **argv)
{
    cli_args a = {"generate", "Sample images from a class-conditional DiT or a text-to-image PixArt, or sound from a "
                              "text-to-audio Stable Audio model, optionally with feature caching.",
                  "[--model PATH] [--class N[,N...] | --prompt TEXT...] [--seed S] [--steps N] [--cache SPEC] "
                  "[--out FILE.png|FILE.wav] [options]",
                  k_epilog, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_dtype dtype_check; /* a bad --dtype is a usage error before any file is looked at */
    if (cli_dtype(&a, &dtype_check)) return CLI_EXIT_USAGE;

    sc_gen_params p = sc_gen_params_default();
    int *classes = NULL, n = 0;
    const char *out = cli_get(&a, "--latents-out"), *in = cli_get(&a, "--latents-in"), *pics = cli_get(&a, "--out");
    const char *report = cli_get(&a, "--report");
    const int force = cli_get(&a, "--force") != NULL, quiet = cli_get(&a, "--quiet") != NULL;
    const int compare = cli_get(&a, "--compare-uncached") != NULL;
    const char *pics_ref = cli_get(&a, "--out-uncached"), *spec = cli_get(&a, "--spectrogram");
    if (pics_ref && !compare) return cli_usage_error(&a, "--out-uncached needs --compare-uncached");
    if (cli_get(&a, "--repeats") && !compare) return cli_usage_error(&a, "--repeats needs --compare-uncached");
    long repeats;
    if (cli_int(&a, "--repeats", 1, TIMING_MAX_REPEATS, 3, &repeats)) return CLI_EXIT_USAGE;
    static const char *const outputs[] = {"--out", "--out-uncached", "--latents-out", "--report", "--spectrogram"};
    if ((r = cli_path_ext(&a, "--latents-out", ".npy")) || (r = cli_path_ext(&a, "--report", ".json")) ||
        (r = cli_outputs_distinct(&a, outputs, 5)))
        return r;
    if ((r = cli_sampling(&a, &p, &classes, &n))) return r;
    /* .wav is for sound: whether the model makes it is known once it is loaded. */
    if ((pics && !wav_path(pics) && !cli_image_path_ok(&a, "--out", pics)) ||
        (pics_ref && !wav_path(pics_ref) && !cli_image_path_ok(&a, "--out-uncached", pics_ref))) {
        free(classes);
        return CLI_EXIT_USAGE;
    }
    /* With no output named, a model that makes pictures writes them to samples.png (sound: clip.wav). */
    const int default_out = !out && !report && !pics && !spec;
    if (default_out) pics = "samples.png";
    sc_set_quiet(quiet);
    sc_model *m = NULL;
    sc_vae *vae = NULL;
    sc_array lin = {0}, noise = {0};
    cli_text tc = {0};
    float *lat = NULL, *ref = NULL;
    uint8_t *rgb = NULL, *ref_rgb = NULL;
    float *wave = NULL, *ref_wave = NULL;
    cli_audio au = {0};
    /* Refuse an existing output before minutes of work, not after (sound files, named per clip,
     * once the clips are counted). */
    if ((out && sc_output_check(out, force) != SC_OK) || (report && sc_output_check(report, force) != SC_OK) ||
        (pics && !wav_path(pics) && sc_output_check(pics, force) != SC_OK) ||
        (pics_ref && !wav_path(pics_ref) && sc_output_check(pics_ref, force) != SC_OK)) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m, 1))) goto done;
    sc_model_info info;
    sc_model_get_info(m, &info);
    const int audio = cli_is_audio(&info);
    if (audio) {
        if (default_out) pics = "clip.wav";
        if ((r = cli_audio_paths_ok(&a, pics, pics_ref, spec))) goto done;
        /* The decoder is needed for sound files, used for --compare-uncached, and gives the longest
         * clip, the default --seconds-total, when the folder has one. */
        if ((r = cli_audio_decoder(&a, m, &info, pics || spec, &vae))) goto done;
        if ((r = cli_audio_settings(&a, &info, vae, quiet, &au))) goto done;
    } else {
        if ((r = cli_audio_flags_unused(&a))) goto done;
        if ((pics && wav_path(pics)) || (pics_ref && wav_path(pics_ref))) {
            r = cli_usage_error(&a, "%s: this model makes pictures: write .png or .npz", pics && wav_path(pics) ? pics : pics_ref);
            goto done;
        }
        /* Pictures are needed for --out, and measured for --compare-uncached when the model makes them. */
        if ((pics || compare) && (r = cli_load_vae(&a, m, pics != NULL && !default_out, &vae))) goto done;
    }
    const int side = audio ? 0 : sc_image_side(m, vae), images = side > 0 && (pics || compare);
    if (!audio && default_out && !side) {
        r = cli_usage_error(&a, "nothing to write: this model makes latents; give --vae PATH with --out FILE.png, "
                                "--latents-out FILE.npy or --report FILE.json");
        goto done;
    }
    /* What the flags leave unsaid, the model's pipeline says (DiT: 50 steps, guidance 4, ddim;
     * PixArt: 20, 4.5, its scheduler's DPM-Solver++). */
    cli_sampling_defaults(&a, m, &p);
    if (info.takes_text) {
        if (classes) {
            r = cli_usage_error(&a, "--class: this model draws from prompts (--prompt TEXT)");
            goto done;
        }
        if ((r = cli_text_cond(&a, m, &info, p.cfg > 1.0f, quiet, &tc))) goto done;
        n = tc.n;
    } else if (cli_get(&a, "--prompts") || cli_get(&a, "--prompt-embeds") || a.parsed.n_repeats) {
        r = cli_usage_error(&a, "--prompt: this model is class-conditional: it takes --class N");
        goto done;
    } else if ((r = cli_text_flags_unused(&a))) {
        goto done;
    } else if (!classes) {
        /* Without --class: one image per class for small models (the demo's 10), class 0 else. */
        n = info.num_classes <= 16 ? info.num_classes : 1;
        classes = malloc((size_t)n * sizeof *classes);
        if (!classes) {
            r = CLI_EXIT_FAIL;
            goto done;
        }
        for (int k = 0; k < n; k++) classes[k] = k;
    }
    /* [n, latent] */
    uint64_t shape[1 + SC_MAX_RANK] = {(uint64_t)n};
    const int rank = 1 + info.latent.rank;
    for (int k = 0; k < info.latent.rank; k++) shape[1 + k] = (uint64_t)info.latent.dims[k];
    if (in) {
        if (sc_npy_read(in, &lin) != SC_OK) {
            r = cli_fail(&a);
            cli_where_it_goes(&a, "--latents-in", in);
            goto done;
        }
        if (lin.rank != rank || memcmp(lin.shape, shape, (size_t)rank * sizeof *shape)) {
            char want[96], got[96];
            cli_shape_text(want, sizeof want, rank, shape);
            cli_shape_text(got, sizeof got, lin.rank, lin.shape);
            r = cli_usage_error(&a, "--latents-in: %s has shape %s, expected %s", in, got, want);
            goto done;
        }
        p.latents_in = lin.data;
    }
    const char *noise_path = cli_get(&a, "--noise-in");
    if (noise_path) {
        if (sc_npy_read(noise_path, &noise) != SC_OK) {
            r = cli_fail(&a);
            cli_where_it_goes(&a, "--noise-in", noise_path);
            goto done;
        }
        uint64_t want_shape[2 + SC_MAX_RANK] = {(uint64_t)p.steps};
        memcpy(want_shape + 1, shape, (size_t)rank * sizeof *shape);
        if (noise.rank != rank + 1 || memcmp(noise.shape, want_shape, (size_t)(rank + 1) * sizeof *want_shape)) {
            char want[112], got[112];
            cli_shape_text(want, sizeof want, rank + 1, want_shape);
            cli_shape_text(got, sizeof got, noise.rank, noise.shape);
            r = cli_usage_error(&a, "--noise-in: %s has shape %s, expected %s ([steps, N, latent...])", noise_path, got, want);
            goto done;
        }
        p.noise_in = noise.data;
    }
    sc_cond cond = {.n = n, .classes = classes};
    if (info.takes_text) cli_text_to_cond(&tc, &cond);
    if (audio && ((r = cli_audio_scalars(&a, n, &au, &cond)) ||
                  (r = cli_audio_outputs_check(&a, pics, n, force)) || (r = cli_audio_outputs_check(&a, pics_ref, n, force)) ||
                  (r = cli_audio_outputs_check(&a, spec, n, force))))
        goto done;
    p.cond = &cond;
    p.check_finite = cli_get(&a, "--no-check-finite") == NULL;
    p.cache = cli_get(&a, "--cache");
    cli_progress ps;
    cli_progress_init(&ps, "generate", "step", quiet);
    p.progress = cli_progress_fn;
    p.progress_user = &ps;
    sc_cache_stats st, st_ref;
    p.stats = &st;
    size_t bytes = sc_latent_bytes(m, n);
    lat = malloc(bytes);
    if (compare) ref = malloc(bytes);
    if (!lat || (compare && !ref)) {
        fprintf(stderr, "smoothcache generate: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    /* For --compare-uncached, a one-step warm-up first touches every weight page and creates
     * every primitive, then the uncached reference runs: neither timed run pays for that. */
    if (compare) {
        sc_gen_params w = p;
        w.steps = 1;
        w.cache = NULL;
        w.stats = NULL;
        w.progress = NULL;
        if (sc_generate(m, &w, ref) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
    }
    /* Paired runs: uncached then cached, back to back, so that a machine that slows down slows
     * both; every run is deterministic, so the last pair's outputs are every pair's. */
    double t_ref[TIMING_MAX_REPEATS], t_run[TIMING_MAX_REPEATS];
    const int runs = compare ? (int)repeats : 1;
    char label[96];
    for (int k = 0; k < runs; k++) {
        if (compare) {
            sc_gen_params q = p;
            q.cache = NULL;
            q.stats = &st_ref;
            snprintf(label, sizeof label, runs > 1 ? "uncached %d/%d" : "uncached", k + 1, runs);
            ps.label = label;
            if (sc_generate(m, &q, ref) != SC_OK) {
                r = cli_fail(&a);
                goto done;
            }
            t_ref[k] = st_ref.seconds;
        }
        ps.label = p.cache ? p.cache : "none";
        if (sc_generate(m, &p, lat) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
        t_run[k] = st.seconds;
    }
    report_entry e;
    report_fill(&e, p.cache ? p.cache : "none", &st, lat, compare ? &st_ref : NULL, ref, bytes / sizeof(float));
    if (compare) report_timing(&e, t_ref, t_run, runs);
    if (images) {
        const size_t img_bytes = (size_t)n * side * side * 3;
        rgb = malloc(img_bytes);
        if (compare) ref_rgb = malloc(img_bytes);
        if (!rgb || (compare && !ref_rgb) || sc_decode_images(m, vae, n, lat, rgb, p.threads) != SC_OK ||
            (compare && sc_decode_images(m, vae, n, ref, ref_rgb, p.threads) != SC_OK)) {
            r = rgb ? cli_fail(&a) : CLI_EXIT_FAIL;
            goto done;
        }
        if (compare) report_images(&e, rgb, ref_rgb, n, side);
    }
    if (audio && vae) {
        if ((r = cli_audio_decode(&a, vae, &au, n, lat, p.threads, &wave)) ||
            (compare && (r = cli_audio_decode(&a, vae, &au, n, ref, p.threads, &ref_wave))))
            goto done;
        if (compare) report_audio(&e, wave, ref_wave, n, au.channels, au.cut1 - au.cut0, au.rate);
    }
    for (int k = 0; k < 2; k++) {
        const char *path = k ? pics_ref : pics, *cache = k || !p.cache ? "none" : p.cache;
        if (!path) continue;
        if (audio) {
            char settings[8192];
            snprintf(settings, sizeof settings, "model=%s steps=%d sampler=%s cfg=%g cache=%s seconds=%g..%g%s%s",
                     cli_model_path(&a), p.steps, sc_sampler_name(p.sampler), (double)p.cfg, cache, au.start, au.total,
                     tc.prompts ? "" : " prompts=", tc.prompts ? "" : (tc.summary ? tc.summary : ""));
            if ((r = cli_audio_write(&a, path, &au, n, k ? ref_wave : wave, tc.prompts, settings, p.seed, force,
                                     quiet || k)))
                goto done;
            continue;
        }
        if (!side) {
            r = cli_usage_error(&a, "%s: this model makes latents; give --vae PATH to write pictures", path);
            goto done;
        }
        char comment[8192]; /* cut to a PNG text value, on a character boundary, by the writer */
        if (info.takes_text)
            snprintf(comment, sizeof comment, "model=%s seed=%llu steps=%d sampler=%s cfg=%g cache=%s prompt=%s",
                     cli_model_path(&a), (unsigned long long)p.seed, p.steps, sc_sampler_name(p.sampler),
                     (double)p.cfg, cache, tc.summary ? tc.summary : "");
        else
            snprintf(comment, sizeof comment, "model=%s classes=%d seed=%llu steps=%d sampler=%s cfg=%g cache=%s",
                     cli_model_path(&a), n, (unsigned long long)p.seed, p.steps, sc_sampler_name(p.sampler),
                     (double)p.cfg, cache);
        if (sc_images_write(path, k ? ref_rgb : rgb, n, side, comment, force) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
    }
    if (spec) {
        char settings[8192];
        snprintf(settings, sizeof settings, "log-mel spectrogram; model=%s steps=%d cache=%s seconds=%g..%g",
                 cli_model_path(&a), p.steps, p.cache ? p.cache : "none", au.start, au.total);
        if ((r = cli_audio_spectrogram(&a, spec, &au, n, wave, tc.prompts, settings, p.seed, force))) goto done;
    }
    if (out && sc_npy_write(out, lat, rank, shape, force) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    if (report && report_write(report, cli_model_path(&a), info.compute_dtype, &p, info.takes_text ? tc.summary : NULL, &e, 1, force) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    if (!quiet) {
        report_print_line(stderr, &e, p.steps);
        if (out) fprintf(stderr, "wrote %s\n", out);
        if (audio) {
            if (pics) cli_audio_print_written(pics, n, "");
            if (pics_ref) cli_audio_print_written(pics_ref, n, " (uncached)");
            if (spec) cli_audio_print_written(spec, n, "");
        } else {
            if (pics) fprintf(stderr, "wrote %s\n", pics);
            if (pics_ref) fprintf(stderr, "wrote %s (uncached)\n", pics_ref);
        }
        if (report) fprintf(stderr, "wrote %s\n", report);
    }
done:
    free(lat);
    free(ref);
    free(rgb);
    free(ref_rgb);
    free(wave);
    free(ref_wave);
    cli_audio_free(&au);
    sc_vae_free(vae);
    sc_array_free(&lin);
    sc_array_free(&noise);
    cli_text_free(&tc);
    sc_model_free(m);
    free(classes);
    return r;
}
