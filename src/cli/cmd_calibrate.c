/* smoothcache calibrate: run uncached generations and record, per block and component, how much
 * the sub-layer output changes between evaluations i and i + j (SmoothCache's calibration), or,
 * with --for teacache / magcache, what those policies need (cache/stepcalib.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/calibrate.h"
#include "cache/stepcalib.h"
#include "cli/commands.h"
#include "io/file.h"
#include "sample/generate.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS,
    CLI_SAMPLING_OPTS,
    {"--for", "POLICY", "smooth (default: error curves), teacache (rescaling polynomial) or magcache (ratios)"},
    {"--samples", "M", "calibration samples (default 10, as the paper; magcache 1); classes spread over the range"},
    {"--batch", "B", "samples generated together (default 1; more is faster, needs more memory)"},
    {"--k", "K", "smooth: longest reuse lag to measure, 1..16 (default 3)"},
    {"--averaging", "MODE", "smooth: mean (default: per sample, then over samples, as the paper) or pooled"},
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
    "examples:\n"
    "  smoothcache calibrate --model DiT-XL-2-256/ --steps 50 --samples 10 --out errors.json --plot errors.png\n"
    "  smoothcache calibrate --for magcache --model DiT-XL-2-256/ --steps 50 --out ratios.json\n";

int cmd_calibrate(int argc, char **argv)
{
    cli_args a = {"calibrate", "Measure the layer-wise output change between sampling steps (SmoothCache calibration).",
                  "[--model PATH] --out FILE.json [--steps N] [--samples M] [--k K] [options]", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_gen_params p = sc_gen_params_default();
    int *classes = NULL, n = 0;
    long samples, batch, k;
    const char *out = cli_get(&a, "--out"), *plot = cli_get(&a, "--plot"), *avg = cli_get(&a, "--averaging");
    const char *target = cli_get(&a, "--for") ? cli_get(&a, "--for") : "smooth";
    const int force = cli_get(&a, "--force") != NULL, quiet = cli_get(&a, "--quiet") != NULL;
    const int tea = !strcmp(target, "teacache"), mag = !strcmp(target, "magcache");
    if (!tea && !mag && strcmp(target, "smooth"))
        return cli_usage_error(&a, "--for: '%s' is not smooth, teacache or magcache", target);
    if ((tea || mag) && (cli_get(&a, "--k") || avg))
        return cli_usage_error(&a, "--k and --averaging apply to --for smooth only");
    if ((r = cli_sampling(&a, &p, &classes, &n))) return r;
    if (cli_int(&a, "--samples", 1, 100000, n ? n : mag ? 1 : 10, &samples) || cli_int(&a, "--batch", 1, 256, 1, &batch) ||
        cli_int(&a, "--k", 1, 16, 3, &k)) {
        free(classes);
        return CLI_EXIT_USAGE;
    }
    sc_calib_avg mode = SC_CALIB_MEAN;
    if (avg && !strcmp(avg, "pooled")) mode = SC_CALIB_POOLED;
    else if (avg && strcmp(avg, "mean")) r = cli_usage_error(&a, "--averaging: '%s' is not mean or pooled", avg);
    else if (!out) r = cli_usage_error(&a, "--out FILE.json is required");
    else if (n && n != samples) r = cli_usage_error(&a, "--class gives %d classes but --samples is %ld", n, samples);
    if (r) {
        free(classes);
        return r;
    }
    sc_set_quiet(quiet);
    sc_model *m = NULL;
    sc_calibration *cal = NULL;
    stepcalib *obs = NULL;
    float *lat = NULL;
    int *all = NULL;
    if (file_out_check(out, force) || (plot && file_out_check(plot, force))) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m, 1))) goto done;
    sc_model_info info;
    sc_model_get_info(m, &info);
    /* Deterministic classes: spread evenly over the model's range unless given. */
    all = malloc((size_t)samples * sizeof *all);
    for (long i = 0; i < samples; i++) all[i] = classes ? classes[i] : (int)(i * info.num_classes / samples);
    if ((tea || mag ? stepcalib_new(tea ? STEPCALIB_TEACACHE : STEPCALIB_MAGCACHE, &obs)
                    : sc_calibration_new((int)k, mode, &cal)) != SC_OK ||
        !(lat = malloc(sc_latent_bytes(m, (int)batch)))) {
        r = cli_fail(&a);
        goto done;
    }
    cli_progress ps = {.tty = !quiet && isatty(2)};
    char label[64];
    p.progress = cli_progress_fn;
    p.progress_user = &ps;
    p.calibration = cal;
    const uint64_t seed0 = p.seed;
    for (long s = 0; s < samples; s += batch) {
        p.n_images = (int)(samples - s < batch ? samples - s : batch);
        p.classes = all + s;
        p.seed = seed0 + (uint64_t)s;
        snprintf(label, sizeof label, "sample %ld/%ld", s + p.n_images, samples);
        ps.label = label;
        if ((obs ? generate_observed(m, &p, &cache_stepcalib, obs, lat) : sc_generate(m, &p, lat)) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
    }
    cache_errors e = {0};
    json_t *meta = json_object(), *cl = json_array();
    json_object_set_new(meta, "model", json_string(cli_model_path(&a)));
    json_object_set_new(meta, "cfg", json_real(p.cfg));
    json_object_set_new(meta, "seed", json_integer((json_int_t)seed0));
    for (long i = 0; i < samples; i++) json_array_append_new(cl, json_integer(all[i]));
    json_object_set_new(meta, "classes", cl);
    json_t *macs = json_object();
    json_object_set_new(macs, "forward", json_integer((json_int_t)info.macs_per_forward));
    json_object_set_new(macs, "attn", json_integer((json_int_t)info.macs_block_attn));
    json_object_set_new(macs, "mlp", json_integer((json_int_t)info.macs_block_mlp));
    json_object_set_new(meta, "macs_per_sample", macs);
    sc_status st;
    if (obs) {
        st = stepcalib_save(obs, out, meta, force);
        if (!st && plot) st = stepcalib_plot(obs, plot, force);
    } else {
        st = calibration_curves(cal, &e, meta);
        if (!st) st = errors_save(out, &e, force);
        if (!st && plot) st = errors_plot(plot, &e, force);
    }
    json_decref(meta);
    if (st) {
        r = cli_fail(&a);
    } else if (obs && !quiet) {
        fprintf(stderr, "calibrated %s on %ld samples (%s, %d steps, cfg %g); wrote %s%s%s\n", target, samples,
                sc_sampler_name(p.sampler), p.steps, (double)p.cfg, out, plot ? " and " : "", plot ? plot : "");
        double x_at;
        if (stepcalib_fit_negative(obs, &x_at))
            fprintf(stderr, "warning: %s: the fitted polynomial is negative at x = %.4g, inside the observed range; "
                            "TeaCache would count such steps as negative change (more samples may help)\n",
                    out, x_at);
    } else if (!quiet) {
        fprintf(stderr, "calibrated on %ld samples (%s, %d steps, cfg %g, k=%ld, %s averaging); wrote %s%s%s\n", samples,
                sc_sampler_name(p.sampler), p.steps, (double)p.cfg, k, mode == SC_CALIB_MEAN ? "mean" : "pooled", out,
                plot ? " and " : "", plot ? plot : "");
    }
    errors_free(&e);
done:
    free(all);
    free(lat);
    sc_calibration_free(cal);
    stepcalib_free(obs);
    sc_model_free(m);
    free(classes);
    return r;
}
