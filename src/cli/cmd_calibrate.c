/* smoothcache calibrate: run uncached generations and measure what a cache policy needs: for
 * SmoothCache (the default) how much every block's component outputs change between evaluations
 * i and i + j; with --for NAME, what that policy's calibration measures (sc_policy_at lists them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audio.h"
#include "cli/commands.h"
#include "cli/mpi.h"
#include "cli/prompts.h"
#include "cli/textcond.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS_DEFAULT("the shipped class demo; with prompts the text-to-image demo"),
    CLI_SAMPLING_OPTS,
    CLI_TEXT_OPTS,
    CLI_AUDIO_COND_OPTS,
    {"--for", "POLICY", "the policy to calibrate for: smooth (default: error curves), teacache (rescaling polynomial), "
                        "magcache (ratios); `smoothcache policies` lists them"},
    {"--samples", "M", "calibration samples (default: the policy's, 10 as the paper; magcache 1); classes spread over "
                       "the range; text-to-image models: one per prompt"},
    {"--batch", "B", "samples generated together (default 1; more is faster, needs more memory)"},
    {"--k", "K", "smooth: longest reuse lag to measure, 1..16 (default 3)"},
    {"--averaging", "MODE", "smooth: pooled (default: one ratio over all samples, as the official calibrator) or mean "
                             "(per sample, then over samples, as the paper's text)"},
    {"--latents-in", "FILE.npy", "start sample i from row i of this float32 latent [M, C, H, W] (sound: [M, C, frames]) "
                                 "instead of its seed"},
    {"--out", "FILE.json", "where to write the error curves, polynomial or ratios (required)"},
    {"--plot", "FILE.png", "also draw them (curves per component and lag, the fit, the ratios)"},
    {"--force", NULL, "overwrite output files that exist"},
    {"--quiet", NULL, "no progress, no summary"},
};

static const char k_epilog[] =
    "The output feeds `smoothcache schedule --errors FILE --alpha A` or\n"
    "`generate --cache smooth:errors=FILE,alpha=A`. Calibrate with the sampler, steps and guidance\n"
    "you will generate with: a schedule is only valid for the settings it was made for.\n"
    "--for teacache fits y = relL1 of the model output against x = relL1 of block 0's modulated\n"
    "input (degree 4; for `--cache teacache:coef_file=FILE`); --for magcache records the mean\n"
    "residual magnitude ratio per evaluation (for `--cache magcache:ratios=FILE`).\n"
    "Text-to-image models calibrate on prompts (--prompts FILE: one sample each; the paper uses 10).\n"
    "examples:\n"
    "  smoothcache calibrate --model DiT-XL-2-256/ --steps 50 --samples 10 --out errors.json --plot errors.png\n"
    "  smoothcache calibrate --model PixArt-XL-2-512x512/ --prompts prompts.txt --out errors.json\n"
    "  smoothcache calibrate --for magcache --model DiT-XL-2-256/ --steps 50 --out ratios.json\n";

/* The calibration spec for --for, --k and --averaging; returns an exit status. */
static int calibration_spec(const cli_args *a, const char *target, char *spec, size_t cap, int *default_samples)
{
    sc_policy_desc d;
    int found = 0;
    for (int i = 0; !found && sc_policy_at(i, &d); i++) found = !strcmp(d.name, target);
    if (!found || !d.calibration) {
        char which[256] = "";
        size_t n = 0;
        for (int i = 0; sc_policy_at(i, &d); i++)
            if (d.calibration) n += (size_t)snprintf(which + n, sizeof which - n, "%s%s", n ? ", " : "", d.name);
        return cli_usage_error(a, "--for: '%s' is not a policy that calibrates (%s)", target, which);
    }
    *default_samples = d.calibration_samples;
    const char *k = cli_get(a, "--k"), *avg = cli_get(a, "--averaging");
    if ((k || avg) && strcmp(target, "smooth")) return cli_usage_error(a, "--k and --averaging apply to --for smooth only");
    long kv;
    if (cli_int(a, "--k", 1, 16, 3, &kv)) return CLI_EXIT_USAGE;
    if (avg && strcmp(avg, "mean") && strcmp(avg, "pooled"))
        return cli_usage_error(a, "--averaging: '%s' is not mean or pooled", avg);
    if (!strcmp(target, "smooth")) snprintf(spec, cap, "smooth:k=%ld,averaging=%s", kv, avg ? avg : "pooled");
    else snprintf(spec, cap, "%s", target);
    return 0;
}

/* Rank 0 absorbs every other rank's accumulation, in rank order; the others send theirs. */
static int gather_calibration(const cli_args *a, const cli_mpi *mp, sc_calibration *cal)
{
    size_t n = 0;
    double *buf = NULL;
    int r = 0;
    if (mp->rank) {
        uint64_t len;
        if (sc_calibration_export(cal, NULL, 0, &n) || !(buf = malloc((n ? n : 1) * sizeof *buf)) ||
            sc_calibration_export(cal, buf, n, &n))
            r = buf ? cli_fail(a) : CLI_EXIT_FAIL;
        len = r ? 0 : n;
        if (cli_mpi_send(mp, &len, sizeof len, 0, 1) || (len && cli_mpi_send(mp, buf, len * sizeof *buf, 0, 2))) {
            fprintf(stderr, "smoothcache calibrate: MPI rank %d could not send its part\n", mp->rank);
            r = CLI_EXIT_FAIL;
        }
        free(buf);
        return r;
    }
    for (int from = 1; from < mp->size && !r; from++) {
        uint64_t len = 0;
        if (cli_mpi_recv(mp, &len, sizeof len, from, 1)) {
            fprintf(stderr, "smoothcache calibrate: receiving MPI rank %d's part failed\n", from);
            return CLI_EXIT_FAIL;
        }
        if (!len) continue;
        double *part = malloc(len * sizeof *part);
        if (!part || cli_mpi_recv(mp, part, len * sizeof *part, from, 2)) {
            fprintf(stderr, "smoothcache calibrate: receiving MPI rank %d's part failed\n", from);
            r = CLI_EXIT_FAIL;
        } else if (sc_calibration_absorb(cal, part, len) != SC_OK) {
            r = cli_fail(a);
        }
        free(part);
    }
    return r;
}

int cmd_calibrate(int argc, char **argv)
{
    cli_args a = {"calibrate", "Measure the layer-wise output change between sampling steps (SmoothCache calibration).",
                  "[--model PATH] --out FILE.json [--steps N] [--samples M] [--k K] [options]", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_dtype dtype_check; /* a bad --dtype is a usage error before any file is looked at */
    if (cli_dtype(&a, &dtype_check)) return CLI_EXIT_USAGE;
    sc_gen_params p = sc_gen_params_default();
    int *classes = NULL, n = 0, default_samples = 10;
    long samples, batch;
    char spec[128];
    const char *out = cli_get(&a, "--out"), *plot = cli_get(&a, "--plot");
    const char *target = cli_get(&a, "--for") ? cli_get(&a, "--for") : "smooth";
    const int force = cli_get(&a, "--force") != NULL;
    int quiet = cli_get(&a, "--quiet") != NULL;
    static const char *const outputs[] = {"--out", "--plot"};
    if ((r = cli_path_ext(&a, "--out", ".json")) || (r = cli_path_ext(&a, "--plot", ".png")) ||
        (r = cli_outputs_distinct(&a, outputs, 2)))
        return r;
    if ((r = calibration_spec(&a, target, spec, sizeof spec, &default_samples))) return r;
    if ((r = cli_sampling(&a, &p, &classes, &n))) return r;
    if (cli_int(&a, "--samples", 1, 100000, n ? n : default_samples, &samples) || cli_int(&a, "--batch", 1, 256, 1, &batch)) {
        free(classes);
        return CLI_EXIT_USAGE;
    }
    if (!out) r = cli_usage_error(&a, "--out FILE.json is required");
    else if (n && n != samples) r = cli_usage_error(&a, "--class gives %d classes but --samples is %ld", n, samples);
    if (r) {
        free(classes);
        return r;
    }
    sc_set_quiet(quiet);
    sc_model *m = NULL;
    sc_calibration *cal = NULL;
    float *lat = NULL;
    int *all = NULL;
    sc_figure fig = {0};
    cli_text tc = {0};
    sc_vae *vae = NULL;
    cli_audio au = {0};
    sc_cond audio_cond = {0}; /* the seconds of every sample: [samples] each */
    sc_array lin = {0};
    /* Under mpirun (an MPI build): the samples' batches are dealt over the ranks and rank 0 absorbs
     * the others' accumulations, then writes the one result. */
    cli_mpi mp;
    cli_mpi_start(&mp);
    const int root = mp.rank == 0;
    if (!root) quiet = 1;
    if (root && (sc_output_check(out, force) || (plot && sc_output_check(plot, force)))) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m, 1))) goto done;
    cli_sampling_defaults(&a, m, &p);
    sc_model_info info;
    sc_model_get_info(m, &info);
    if (!cli_is_audio(&info) && (r = cli_audio_flags_unused(&a))) goto done;
    if (info.takes_text) {
        if (classes) {
            r = cli_usage_error(&a, "--class: this model draws from prompts (--prompts FILE)");
            goto done;
        }
        /* Sound: the clips' seconds, checked before the prompts are encoded (the decoder, when the
         * folder has one, gives the default length). */
        if (cli_is_audio(&info) && ((r = cli_audio_decoder(&a, m, &info, 0, &vae)) ||
                                    (r = cli_audio_settings(&a, &info, vae, quiet, &au))))
            goto done;
        sc_vae_free(vae);
        vae = NULL;
        /* --samples against the prompts' count before the encoder runs (a file on disk is read
         * twice: cheap beside encoding it; the standard input only once, below) */
        const char *pfile = cli_get(&a, "--prompts");
        if (cli_get(&a, "--samples") && !cli_get(&a, "--prompt-embeds") && (!pfile || strcmp(pfile, "-"))) {
            prompt_list pl = {0};
            if (pfile && (r = prompts_read(&a, pfile, &pl))) goto done;
            const long given = (long)pl.n + a.parsed.n_repeats;
            prompts_free(&pl);
            if (given > 0 && given != samples) {
                r = cli_usage_error(&a, "--samples %ld: the prompts give %ld samples (one each)", samples, given);
                goto done;
            }
        }
        if (mp.active && cli_get(&a, "--prompts") && !strcmp(cli_get(&a, "--prompts"), "-")) {
            /* mpirun hands the standard input to rank 0 only */
            r = cli_usage_error(&a, "--prompts -: under mpirun only rank 0 reads the standard input; give a file");
            goto done;
        }
        if ((r = cli_text_cond(&a, m, &info, p.cfg > 1.0f, quiet, &tc))) goto done;
        if (cli_get(&a, "--samples") && samples != tc.n) {
            r = cli_usage_error(&a, "--samples %ld: the prompts give %d samples (one each)", samples, tc.n);
            goto done;
        }
        samples = tc.n;
        if (cli_is_audio(&info) && (r = cli_audio_scalars(&a, (int)samples, &au, &audio_cond))) goto done;
    } else if (cli_get(&a, "--prompts") || cli_get(&a, "--prompt-embeds") || a.parsed.n_repeats) {
        r = cli_usage_error(&a, "--prompts: this model is class-conditional: it takes --class or --samples");
        goto done;
    } else if ((r = cli_text_flags_unused(&a))) {
        goto done;
    }
    /* Deterministic classes: spread evenly over the model's range unless given. */
    all = malloc((size_t)samples * sizeof *all);
    for (long i = 0; all && i < samples; i++)
        all[i] = classes ? classes[i] : info.num_classes ? (int)(i * info.num_classes / samples) : 0;
    if (sc_calibration_new(spec, &cal) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    if (cli_get(&a, "--latents-in")) {
        const char *in = cli_get(&a, "--latents-in");
        if (sc_npy_read(in, &lin) != SC_OK) {
            r = cli_fail(&a);
            cli_where_it_goes(&a, "--latents-in", in);
            goto done;
        }
        const size_t per = sc_latent_bytes(m, 1) / sizeof(float);
        int ok = lin.rank == 1 + info.latent.rank && lin.shape[0] == (uint64_t)samples;
        for (int k = 0; ok && k < info.latent.rank; k++) ok = lin.shape[1 + k] == (uint64_t)info.latent.dims[k];
        if (!ok || lin.numel != (uint64_t)samples * per) {
            uint64_t want_shape[1 + SC_MAX_RANK] = {(uint64_t)samples};
            for (int k = 0; k < info.latent.rank; k++) want_shape[1 + k] = (uint64_t)info.latent.dims[k];
            char want[112], got[112];
            cli_shape_text(want, sizeof want, 1 + info.latent.rank, want_shape);
            cli_shape_text(got, sizeof got, lin.rank, lin.shape);
            r = cli_usage_error(&a, "--latents-in: %s has shape %s; it must be float32 %s (samples, then the model's "
                                    "latent)", in, got, want);
            goto done;
        }
    }
    if (!all || !(lat = malloc(sc_latent_bytes(m, (int)batch)))) {
        fprintf(stderr, "smoothcache calibrate: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    cli_progress ps;
    cli_progress_init(&ps, "calibrate", "step", quiet);
    char label[64];
    p.progress = cli_progress_fn;
    p.progress_user = &ps;
    p.calibration = cal;
    const uint64_t seed0 = p.seed;
    /* Each rank takes a contiguous run of whole batches, so that rank 0 absorbing the others in
     * rank order sees the samples in their one-process order. */
    uint64_t first = 0, last = (uint64_t)samples;
    if (mp.active) sc_shard_range((uint64_t)samples, (int)batch, mp.rank, mp.size, &first, &last);
    for (long s = (long)first; s < (long)last; s += batch) {
        sc_cond cond = {.n = (int)((long)last - s < batch ? (long)last - s : batch), .classes = all + s};
        if (info.takes_text) { /* rows s.. of the prompts' embeddings */
            const int bn = cond.n;
            const size_t per = (size_t)tc.L * tc.D;
            cli_text_to_cond(&tc, &cond);
            cond.n = bn;
            cond.text += (size_t)s * per;
            cond.text_mask += (size_t)s * tc.L;
            if (cond.neg_text) {
                cond.neg_text += (size_t)s * per;
                cond.neg_text_mask += (size_t)s * tc.L;
            }
            for (int k = 0; k < audio_cond.n_scalars; k++)
                cond.scalars[cond.n_scalars++] = (sc_scalar){audio_cond.scalars[k].name, audio_cond.scalars[k].values + s};
        }
        p.cond = &cond;
        p.seed = seed0 + (uint64_t)s;
        if (lin.data) p.latents_in = lin.data + (size_t)s * (sc_latent_bytes(m, 1) / sizeof(float));
        snprintf(label, sizeof label, "sample %ld/%ld", s + cond.n, samples);
        ps.label = label;
        if (sc_generate(m, &p, lat) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
    }
    if (mp.active && (r = gather_calibration(&a, &mp, cal))) goto done;
    if (!root) goto done;
    if (sc_calibration_save(cal, out, force) != SC_OK ||
        (plot && (sc_calibration_figure(cal, &fig) != SC_OK || sc_figure_write_png(&fig, plot, force) != SC_OK))) {
        r = cli_fail(&a);
        goto done;
    }
    if (!quiet) {
        /* the calibrator's options as words: "k=3,averaging=pooled" -> ", k 3, averaging pooled" */
        char opts[128] = "";
        const char *o = strchr(spec, ':');
        for (size_t w = 0; o && *o && w + 3 < sizeof opts; o++) {
            if (*o == ':' || *o == ',') opts[w++] = ',', opts[w++] = ' ';
            else opts[w++] = *o == '=' ? ' ' : *o;
            opts[w] = '\0';
        }
        fprintf(stderr, "calibrated %s on %ld sample%s (%s, %d step%s, cfg %g%s); wrote %s%s%s\n", target, samples,
                samples == 1 ? "" : "s", sc_sampler_name(p.sampler), p.steps, p.steps == 1 ? "" : "s", (double)p.cfg,
                opts, out, plot ? " and " : "", plot ? plot : "");
        const char *warning = sc_calibration_warning(cal);
        if (warning) fprintf(stderr, "warning: %s: %s\n", out, warning);
    }
done:
    sc_figure_free(&fig);
    cli_text_free(&tc);
    cli_audio_free(&au);
    sc_vae_free(vae);
    sc_array_free(&lin);
    free(all);
    free(lat);
    sc_calibration_free(cal);
    sc_model_free(m);
    free(classes);
    if (mp.active && r) cli_mpi_abort(&mp, r); /* a failing rank must not leave the others waiting */
    cli_mpi_stop(&mp);
    return r;
}
