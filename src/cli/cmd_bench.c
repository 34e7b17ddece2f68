/* smoothcache bench: the uncached baseline and every given cache policy on the same seeds, in
 * one process, as one table (policy, speed-up, MAC ratio, quality against the baseline). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audio.h"
#include "cli/commands.h"
#include "cli/mpi.h"
#include "cli/images.h"
#include "cli/report.h"
#include "cli/textcond.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS_DEFAULT("the shipped class demo; with prompts the text-to-image demo"),
    CLI_SAMPLING_OPTS,
    {"--prompt", "TEXT", "text models: one prompt, one image or clip (several: --prompts FILE)"},
    CLI_TEXT_FILE_OPTS,
    CLI_AUDIO_COND_OPTS,
    {"--cache", "SPEC...", "a policy to compare (repeat the flag; {a,b,c} in a value sweeps it: fora:n={2,3,4})"},
    CLI_VAE_OPT,
    {"--repeats", "N", "rounds: every policy runs N times, each right after a baseline run; the median of the "
                       "paired ratios is the speed-up, 1..100 (default 3)"},
    {"--accuracy", NULL, "also score each image with the shipped demo models' checkers (32x32 RGB): the class "
                         "demo's classifier, or whether a text demo picture shows its prompt; sound: whether each "
                         "clip sounds like its caption (the audio demo's checker, sc_audiodemo_hears)"},
    {"--json", "FILE.json", "also write the table as JSON"},
    {"--csv", "FILE.csv", "also write the table as CSV"},
    {"--plot", "FILE.png", "draw quality against wall-clock speed-up, one line per policy"},
    {"--plot-macs", "FILE.png", "draw quality against MAC speed-up (1 / MAC ratio)"},
    {"--force", NULL, "overwrite the output files (--json, --csv, --plot, --plot-macs) that exist"},
    {"--quiet", NULL, "no progress line"},
};

static const char k_epilog[] =
    "After a one-step warm-up, each of --repeats rounds runs the baseline (no cache) and then every\n"
    "policy on the same classes and seeds. Speed-up is the median over rounds of baseline time /\n"
    "policy time, with its range; one beyond 1 / MAC ratio (+10%) cannot come from skipping work\n"
    "and is flagged as noise ('!').\n"
    "Quality is PSNR and SSIM of the images against the baseline's when the model makes images; for\n"
    "sound (a folder with its decoder), the clips' SNR and log-mel distance in dB in those columns;\n"
    "and always the relative L2 distance of the final latents.\n"
    "examples:\n"
    "  smoothcache bench --model DiT-XL-2-256/ --class 88,207 --steps 50 \\\n"
    "      --cache fora:n=2 --cache smooth:schedule=50-N-3-threshold-0.18.json\n"
    "  smoothcache bench --model M --steps 50 --cache 'fora:n={2,3,4}' \\\n"
    "      --cache 'smooth:errors=e.json,alpha={0.05,0.1,0.2}' --csv sweep.csv --plot sweep.png\n";

#define MAX_SPECS 64

/* Expands the first {a,b,...} of each spec into one spec per alternative, recursively. */
static int expand(const cli_args *a, const char *spec, char **out, int *n)
{
    const char *open = strchr(spec, '{');
    if (!open) {
        if (*n == MAX_SPECS) return cli_usage_error(a, "--cache: more than %d policies after expanding {...}", MAX_SPECS);
        out[(*n)++] = strdup(spec);
        return 0;
    }
    const char *close = strchr(open, '}');
    if (!close || close == open + 1) return cli_usage_error(a, "--cache '%s': unbalanced or empty {...}", spec);
    const char *p = open + 1;
    while (p <= close) {
        const char *end = memchr(p, ',', (size_t)(close - p));
        if (!end) end = close;
        char buf[1024];
        int len = snprintf(buf, sizeof buf, "%.*s%.*s%s", (int)(open - spec), spec, (int)(end - p), p, close + 1);
        if (len < 0 || (size_t)len >= sizeof buf) return cli_usage_error(a, "--cache '%s': too long", spec);
        int r = expand(a, buf, out, n);
        if (r) return r;
        p = end + 1;
    }
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    cli_args a = {"bench", "Compare cache policies against the uncached baseline on the same seeds.",
                  "[--model PATH] --cache SPEC [--cache SPEC ...] [sampling options]", k_epilog, k_opts,
                  sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_dtype dtype_check; /* a bad --dtype is a usage error before any file is looked at */
    if (cli_dtype(&a, &dtype_check)) return CLI_EXIT_USAGE;
    sc_gen_params p = sc_gen_params_default();
    int *classes = NULL, n = 0, n_specs;
    long repeats;
    const char *const *given = cli_get_all(&a, &n_specs);
    const char *json = cli_get(&a, "--json"), *csv = cli_get(&a, "--csv");
    const char *plot = cli_get(&a, "--plot"), *plot_macs = cli_get(&a, "--plot-macs");
    char *specs[MAX_SPECS];
    int n_given = n_specs;
    n_specs = 0;
    for (int i = 0; i < n_given && !r; i++) r = expand(&a, given[i], specs, &n_specs);
    const int quiet = cli_get(&a, "--quiet") != NULL, force = cli_get(&a, "--force") != NULL;
    static const char *const outputs[] = {"--json", "--csv", "--plot", "--plot-macs"};
    if (!r && ((r = cli_path_ext(&a, "--json", ".json")) || (r = cli_path_ext(&a, "--csv", ".csv")) ||
               (r = cli_path_ext(&a, "--plot", ".png")) || (r = cli_path_ext(&a, "--plot-macs", ".png")) ||
               (r = cli_outputs_distinct(&a, outputs, 4)))) {
        for (int i = 0; i < n_specs; i++) free(specs[i]);
        return r;
    }
    if (r || (r = cli_sampling(&a, &p, &classes, &n)) || cli_int(&a, "--repeats", 1, TIMING_MAX_REPEATS, 3, &repeats)) {
        free(classes);
        for (int i = 0; i < n_specs; i++) free(specs[i]);
        return r ? r : CLI_EXIT_USAGE;
    }
    if (!n_specs) {
        free(classes);
        return cli_usage_error(&a, "give at least one --cache SPEC to compare against the baseline");
    }
    /* Every policy and its options checked before any work (the baseline runs first). */
    for (int i = 0; i < n_specs && !r; i++)
        if (sc_cache_spec_check(specs[i]) != SC_OK) r = cli_usage_error(&a, "--cache %s: %s", specs[i], sc_last_error());
    if (r) {
        free(classes);
        for (int i = 0; i < n_specs; i++) free(specs[i]);
        return r;
    }
    /* Under mpirun (an MPI build): policy i is rank ((i - 1) mod size)'s; every rank runs the
     * baseline for its pairs; rank 0 gathers the rows and writes the one table. */
    cli_mpi mp;
    cli_mpi_start(&mp);
    const int root = mp.rank == 0;
    const int quiet_here = quiet || !root;
    sc_set_quiet(quiet_here);
    sc_model *m = NULL;
    sc_vae *vae = NULL;
    cli_text tc = {0};
    cli_audio au = {0};
    float *wave = NULL, *base_wave = NULL;
    float *base = NULL, *lat = NULL;
    uint8_t *base_rgb = NULL, *rgb = NULL;
    report_entry *rows = calloc((size_t)n_specs + 1, sizeof *rows);
    if (root && ((json && sc_output_check(json, force)) || (csv && sc_output_check(csv, force)) ||
                 (plot && sc_output_check(plot, force)) || (plot_macs && sc_output_check(plot_macs, force)))) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m, 1))) goto done;
    cli_sampling_defaults(&a, m, &p);
    sc_model_info info;
    sc_model_get_info(m, &info);
    /* Sound is compared as latents; its decoder only gives the clips' default length. */
    const int audio = cli_is_audio(&info);
    if ((r = audio ? cli_audio_decoder(&a, m, &info, 0, &vae) : cli_audio_flags_unused(&a)) ||
        (!audio && (r = cli_load_vae(&a, m, 0, &vae))) || (audio && (r = cli_audio_settings(&a, &info, vae, quiet_here, &au))))
        goto done;
    if (info.takes_text) {
        if (classes) {
            r = cli_usage_error(&a, "--class: this model draws from prompts (--prompts FILE)");
            goto done;
        }
        if (mp.active && cli_get(&a, "--prompts") && !strcmp(cli_get(&a, "--prompts"), "-")) {
            /* mpirun hands the standard input to rank 0 only */
            r = cli_usage_error(&a, "--prompts -: under mpirun only rank 0 reads the standard input; give a file");
            goto done;
        }
        if ((r = cli_text_cond(&a, m, &info, p.cfg > 1.0f, quiet_here, &tc))) goto done;
        n = tc.n;
    } else if (cli_get(&a, "--prompt") || cli_get(&a, "--prompts") || cli_get(&a, "--prompt-embeds")) {
        r = cli_usage_error(&a, "%s: this model is class-conditional: it takes --class N",
                            cli_get(&a, "--prompt") ? "--prompt" : cli_get(&a, "--prompts") ? "--prompts" : "--prompt-embeds");
        goto done;
    } else if ((r = cli_text_flags_unused(&a))) {
        goto done;
    } else if (!classes) {
        classes = calloc(1, sizeof *classes);
        n = 1;
    }
    const size_t bytes = sc_latent_bytes(m, n);
    const int side = sc_image_side(m, vae), accuracy = cli_get(&a, "--accuracy") != NULL;
    if (accuracy && audio && (!vae || !tc.prompts)) {
        r = cli_usage_error(&a, "--accuracy listens to each clip for its caption: give the prompts as text (--prompts) "
                                "and a folder with its decoder (vae/)");
        goto done;
    }
    if (accuracy && !audio && (vae || side != SC_DEMO_SIDE)) {
        r = cli_usage_error(&a, "--accuracy scores 32x32 pictures of the demo dataset; this model makes %dx%d", side, side);
        goto done;
    }
    if (accuracy && info.takes_text && !tc.prompts) {
        r = cli_usage_error(&a, "--accuracy checks each picture against its prompt: give the prompts as text (--prompts)");
        goto done;
    }
    if (side) {
        base_rgb = malloc((size_t)n * side * side * 3);
        rgb = malloc((size_t)n * side * side * 3);
    }
    base = malloc(bytes);
    lat = malloc(bytes);
    sc_cond cond = {.n = n, .classes = classes};
    if (info.takes_text) cli_text_to_cond(&tc, &cond);
    if (audio) {
        if ((r = cli_audio_scalars(&a, n, &au, &cond))) goto done;
    }
    p.cond = &cond;
    cli_progress ps;
    cli_progress_init(&ps, "bench", "step", quiet_here);
    p.progress = cli_progress_fn;
    p.progress_user = &ps;
    /* Warm-up: one step touches every weight page and creates every primitive once. */
    sc_gen_params w = p;
    w.steps = 1;
    w.progress = NULL;
    if (sc_generate(m, &w, lat) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    /* Rounds: the baseline, then every policy; [round][0..n_specs] seconds. Quality comes from the
     * last round (every run is deterministic). */
    double *secs = calloc((size_t)repeats * (size_t)(n_specs + 1), sizeof *secs);
    if (!secs || !rows || !base || !lat || (side && (!rgb || !base_rgb))) {
        free(secs);
        fprintf(stderr, "smoothcache bench: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    sc_cache_stats st, st_base = {0};
    char label[300];
    for (long k = 0; k < repeats; k++) {
        for (int i = 0; i <= n_specs; i++) {
            if (i && (i - 1) % mp.size != mp.rank) continue; /* another rank's policy */
            p.cache = i ? specs[i - 1] : "none";
            p.stats = &st;
            snprintf(label, sizeof label, repeats > 1 ? "%s (round %ld/%ld)" : "%s", p.cache, k + 1, repeats);
            ps.label = label;
            if (sc_generate(m, &p, i ? lat : base) != SC_OK) {
                free(secs);
                r = cli_fail(&a);
                goto done;
            }
            secs[k * (n_specs + 1) + i] = st.seconds;
            if (i == 0) st_base = st;
            if (k < repeats - 1) continue;
            report_fill(&rows[i], p.cache, &st, i ? lat : base, &st_base, base, bytes / sizeof(float));
            double t_ref[TIMING_MAX_REPEATS], t_run[TIMING_MAX_REPEATS];
            for (long q = 0; q < repeats; q++) {
                t_ref[q] = secs[q * (n_specs + 1)];
                t_run[q] = secs[q * (n_specs + 1) + i];
            }
            report_timing(&rows[i], t_ref, t_run, (int)repeats);
            if (audio && vae) { /* sound: SNR and log-mel distance of the decoded clips against the baseline's */
                float **dst = i ? &wave : &base_wave;
                free(*dst);
                *dst = NULL;
                if ((r = cli_audio_decode(&a, vae, &au, n, i ? lat : base, p.threads, dst))) {
                    free(secs);
                    goto done;
                }
                report_audio(&rows[i], *dst, base_wave, n, au.channels, au.cut1 - au.cut0, au.rate);
                if (accuracy) {
                    const int64_t L = au.cut1 - au.cut0;
                    int right = 0;
                    for (int j = 0; j < n; j++)
                        right += sc_audiodemo_hears(*dst + (size_t)j * (size_t)au.channels * (size_t)L, au.channels, L,
                                                    au.rate, tc.prompts[j]) == 1;
                    rows[i].accuracy = (double)right / n;
                }
            }
            if (side) {
                uint8_t *img = i ? rgb : base_rgb;
                if (sc_decode_images(m, vae, n, i ? lat : base, img, p.threads) != SC_OK) {
                    free(secs);
                    r = cli_fail(&a);
                    goto done;
                }
                report_images(&rows[i], img, base_rgb, n, side);
                if (accuracy) {
                    int right = 0;
                    for (int j = 0; j < n; j++) {
                        const uint8_t *pic = img + (size_t)j * side * side * 3;
                        right += info.takes_text ? sc_textdemo_shows(pic, tc.prompts[j]) == 1
                                                 : sc_demo_classify(pic) == classes[j];
                    }
                    rows[i].accuracy = (double)right / n;
                }
            }
        }
    }
    free(secs);
    if (mp.active) {
        /* Rows travel as bytes: every rank runs this very program. */
        for (int i = 1; i <= n_specs; i++) {
            const int owner = (i - 1) % mp.size;
            if (owner == mp.rank && !root && cli_mpi_send(&mp, &rows[i], sizeof rows[i], 0, i)) r = CLI_EXIT_FAIL;
            if (owner != 0 && root) {
                if (cli_mpi_recv(&mp, &rows[i], sizeof rows[i], owner, i)) r = CLI_EXIT_FAIL;
                /* The component names are pointers into the sender's memory: rank 0's own. */
                for (int c = 0; c < SC_MAX_COMPONENTS; c++) rows[i].stats.components[c] = rows[0].stats.components[c];
            }
        }
        if (r) {
            fprintf(stderr, "smoothcache bench: MPI rank %d: exchanging the table's rows failed\n", mp.rank);
            goto done;
        }
        if (!root) goto done;
        if (!quiet) fprintf(stderr, "smoothcache bench: %d policies over %d MPI ranks\n", n_specs, mp.size);
    }
    printf("%s (%s), %s, %d steps, cfg %g, %d %s, seed %llu\n", cli_model_path(&a), info.compute_dtype,
           sc_sampler_name(p.sampler), p.steps, (double)p.cfg, n,
           audio ? (n == 1 ? "clip" : "clips") : n == 1 ? "image" : "images", (unsigned long long)p.seed);
    report_print_table(stdout, rows, n_specs + 1, info.takes_text);
    if ((json && report_write(json, cli_model_path(&a), info.compute_dtype, &p, info.takes_text ? tc.summary : NULL, rows, n_specs + 1,
                              force)) ||
        (csv && report_write_csv(csv, rows, n_specs + 1, force)) ||
        (plot && report_plot(plot, rows, n_specs + 1, 0, force)) ||
        (plot_macs && report_plot(plot_macs, rows, n_specs + 1, 1, force)))
        r = cli_fail(&a);
done:
    for (int i = 0; i < n_specs; i++) free(specs[i]);
    free(base_rgb);
    free(rgb);
    sc_vae_free(vae);
    cli_text_free(&tc);
    cli_audio_free(&au);
    free(wave);
    free(base_wave);
    free(rows);
    free(base);
    free(lat);
    sc_model_free(m);
    free(classes);
    if (mp.active && r) cli_mpi_abort(&mp, r); /* a failing rank must not leave the others waiting */
    cli_mpi_stop(&mp);
    return r;
}
