/* smoothcache generate: sample class-conditional latents with a DiT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "io/file.h"
#include "io/npy.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS,
    {"--class", "N[,N...]", "class ids, one image each (default 0)"},
    {"--seed", "S", "seed, 0..2^64-1; image i uses S+i (default 0)"},
    {"--steps", "N", "sampler steps, 1..1000 (default 50)"},
    {"--sampler", "NAME", "ddim (default), iddpm (original DiT, stochastic) or dpmpp2m"},
    {"--cfg", "F", "classifier-free guidance scale, 1..1000; 1 disables it (default 4.0)"},
    {"--threads", "N", "threads, 1..CPUs (default: all CPUs)"},
    {"--latents-in", "FILE.npy", "start from this float32 latent [N, C, S, S] instead of the seed"},
    {"--latents-out", "FILE.npy", "write the final float32 latents [N, C, S, S]"},
    {"--force", NULL, "overwrite output files that exist"},
    {"--no-check-finite", NULL, "skip the per-step NaN/Inf check of the latents"},
    {"--quiet", NULL, "no progress line, no summary, no warnings"},
};

static const char k_epilog[] =
    "examples:\n"
    "  smoothcache generate --model DiT-XL-2-256/ --class 207,360 --seed 0 --latents-out z.npy\n"
    "  smoothcache generate --model DiT-XL-2-256x256.safetensors --sampler iddpm --steps 250 \\\n"
    "      --class 88 --latents-out z.npy\n"
    "exit status: 0 ok, 1 failure (file, format, numeric), 2 bad usage.\n";

typedef struct {
    int tty;
} progress_state;

static int on_progress(void *user, int step, int steps, double secs, const float *latents)
{
    (void)latents;
    progress_state *ps = user;
    if (ps->tty) {
        fprintf(stderr, "\rstep %d/%d  %.2f s/step  ", step, steps, secs / step);
        if (step == steps) fputc('\n', stderr);
        fflush(stderr);
    }
    return 0;
}

static int parse_sampler(const cli_args *a, sc_sampler *s)
{
    const char *v = cli_get(a, "--sampler");
    *s = SC_SAMPLER_DDIM;
    if (!v || !strcmp(v, "ddim")) return 0;
    if (!strcmp(v, "iddpm")) *s = SC_SAMPLER_IDDPM;
    else if (!strcmp(v, "dpmpp2m")) *s = SC_SAMPLER_DPMPP2M;
    else return cli_usage_error(a, "--sampler: '%s' is not ddim, iddpm or dpmpp2m", v);
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    cli_args a = {"generate", "Sample images' latents from a class-conditional DiT.",
                  "--model PATH [--class N[,N...]] [--seed S] [--steps N] --latents-out FILE.npy [options]",
                  k_epilog, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;

    sc_gen_params p = sc_gen_params_default();
    long steps;
    double cfg;
    int *classes = NULL, n = 0, threads;
    const char *out = cli_get(&a, "--latents-out"), *in = cli_get(&a, "--latents-in");
    const int force = cli_get(&a, "--force") != NULL, quiet = cli_get(&a, "--quiet") != NULL;
    if (cli_int(&a, "--steps", 1, 1000, 50, &steps) || cli_u64(&a, "--seed", 0, &p.seed) ||
        cli_float(&a, "--cfg", 1.0, 1000.0, 4.0, &cfg) || cli_threads(&a, &threads) ||
        parse_sampler(&a, &p.sampler) || cli_int_list(&a, "--class", 0, 999999, &classes, &n))
        return CLI_EXIT_USAGE;
    if (!out) {
        free(classes);
        return cli_usage_error(&a, "nothing to write: give --latents-out FILE.npy");
    }
    if (!classes) {
        classes = calloc(1, sizeof *classes);
        n = 1;
    }
    sc_set_quiet(quiet);
    /* Refuse an existing output before minutes of work, not after. */
    sc_model *m = NULL;
    npy_array lin = {0};
    if (file_out_check(out, force) != SC_OK) {
        r = cli_fail(&a);
        goto done;
    }
    if ((r = cli_load_model(&a, &m))) goto done;
    sc_model_info info;
    sc_model_get_info(m, &info);
    const uint64_t shape[4] = {(uint64_t)n, (uint64_t)info.in_channels, (uint64_t)info.input_size,
                               (uint64_t)info.input_size};
    if (in) {
        if (npy_read(in, &lin) != SC_OK) {
            r = cli_fail(&a);
            goto done;
        }
        if (lin.rank != 4 || memcmp(lin.shape, shape, sizeof shape)) {
            r = cli_usage_error(&a, "--latents-in: %s has shape of rank %d, expected [%d, %d, %d, %d]", in, lin.rank,
                                n, info.in_channels, info.input_size, info.input_size);
            goto done;
        }
        p.latents_in = lin.data;
    }
    p.classes = classes;
    p.n_images = n;
    p.steps = (int)steps;
    p.cfg = (float)cfg;
    p.threads = threads;
    p.check_finite = cli_get(&a, "--no-check-finite") == NULL;
    progress_state ps = {.tty = !quiet && isatty(2)};
    p.progress = on_progress;
    p.progress_user = &ps;
    float *lat = malloc(sc_latent_bytes(m, n));
    if (!lat) {
        fprintf(stderr, "smoothcache generate: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (sc_generate(m, &p, lat) != SC_OK || npy_write_f32(out, lat, 4, shape, force) != SC_OK) {
        r = cli_fail(&a);
    } else if (!quiet) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        fprintf(stderr, "generated %d latent(s) with %s, %ld steps, cfg %g in %.2f s (%.3f s/step); wrote %s\n", n,
                sc_sampler_name(p.sampler), steps, cfg, secs, secs / (double)steps, out);
    }
    free(lat);
done:
    npy_free(&lin);
    sc_model_free(m);
    free(classes);
    return r;
}
