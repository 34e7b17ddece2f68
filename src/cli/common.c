#define _XOPEN_SOURCE 700 /* realpath */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "smoothcache_tools.h"

/* Where `make install` puts the demo model, from the executable's folder (CMakeLists.txt sets it
 * from the install layout: bin/ -> share/smoothcache/models/demo). */
#ifndef SC_DEMO_MODEL_FROM_BIN
#define SC_DEMO_MODEL_FROM_BIN "../share/smoothcache/models/demo"
#endif

/* A shipped model (`name`: "demo", the class demo, "textdemo", the text-to-image one, or
 * "audiodemo", the text-to-audio one):
 * $SMOOTHCACHE_MODEL, else models/<name> beside the executable's folder (build/smoothcache ->
 * models/<name> of the source tree), else the installed copy (PREFIX/bin/smoothcache ->
 * PREFIX/share/smoothcache/models/<name>), else NULL. */
static const char *default_model(const char *name)
{
    static char path[4096];
    const char *env = getenv("SMOOTHCACHE_MODEL");
    if (env && *env) return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    /* The install's models folder: SC_DEMO_MODEL_FROM_BIN without its last component. */
    char installed[1024];
    snprintf(installed, sizeof installed, "%s", SC_DEMO_MODEL_FROM_BIN);
    char *cut = strrchr(installed, '/');
    if (cut) *cut = '\0';
    const char *const beside[] = {"../models", installed};
    for (size_t i = 0; i < sizeof beside / sizeof *beside; i++) {
        char cand[4096];
        /* Named without "..": the canonical path of what exists. */
        if (snprintf(cand, sizeof cand, "%s/%s/%s", exe, beside[i], name) >= (int)sizeof cand) continue;
        if (!realpath(cand, path) || !sc_is_folder(path)) continue;
        /* Named from the working folder when inside it: that is what files and messages record,
         * not where this machine keeps the checkout. */
        char cwd[4096];
        const size_t len = getcwd(cwd, sizeof cwd) ? strlen(cwd) : 0;
        if (len > 1 && !strncmp(path, cwd, len) && path[len] == '/')
            memmove(path, path + len + 1, strlen(path + len + 1) + 1);
        return path;
    }
    return NULL;
}

/* Which option takes a file of each kind sc_describe_file names. */
static const struct {
    const char *kind; /* prefix of the description */
    const char *flag; /* the option that takes it */
    const char *goes_to;
} k_goes_to[] = {
    {"a SmoothCache calibration file", "--errors", "it goes to --cache smooth:errors=FILE,alpha=A (generate, bench, "
                                                   "sample) or to smoothcache schedule --errors FILE"},
    {"a SmoothCache schedule", "--cache", "it goes to --cache smooth:schedule=FILE"},
    {"a TeaCache calibration file", "--cache", "it goes to --cache teacache:coef_file=FILE"},
    {"a MagCache calibration file", "--cache", "it goes to --cache magcache:ratios=FILE"},
    {"a .npy array", "--latents-in", "it goes to --latents-in (a start latent); --latents-out writes such files"},
    {"a .npz archive of arrays", "", "no option reads it: sample, generate --out FILE.npz and encode write such files"},
    {"a diffusers model config", "--model", "give --model the folder that holds it, not the file"},
    {"a diffusers pipeline index", "--model", "give --model the folder that holds it, not the file"},
    {"a sharded checkpoint's index", "--model", "give --model the folder that holds it, not the file"},
    {"a transformers model config", "--model", "give encode --model the folder that holds it, not the file"},
    {"a tokenizer.json", "--tokenizer", "it goes to encode --tokenizer FILE"},
    {"a PNG image", "", "no option reads it: --out FILE.png writes such files"},
    {"a smoothcache report", "", "no option reads it: --report and bench --json write such files"},
};

void cli_where_it_goes(const cli_args *a, const char *flag, const char *path)
{
    if (!path) return;
    char kind[160];
    sc_describe_file(path, kind, sizeof kind);
    for (size_t i = 0; i < sizeof k_goes_to / sizeof *k_goes_to; i++) {
        if (strncmp(kind, k_goes_to[i].kind, strlen(k_goes_to[i].kind))) continue;
        if (!strcmp(flag, k_goes_to[i].flag) && strcmp(flag, "--model")) return; /* the right option: the file is bad */
        if (!strcmp(flag, "--noise-in") && !strcmp(k_goes_to[i].flag, "--latents-in")) return; /* also a .npy */
        if ((!strcmp(flag, "--prompt-embeds") || !strcmp(flag, "--negative-embeds")) && !k_goes_to[i].flag[0] &&
            strstr(kind, ".npz"))
            return; /* encode's .npz: the right option */
        fprintf(stderr, "smoothcache %s: (%s is %s: %s)\n", a->command, path, kind, k_goes_to[i].goes_to);
        return;
    }
}

/* 1 when the command line gives prompts (then the default model is the text-to-image demo). */
static int gives_prompts(const cli_args *a)
{
    return cli_get(a, "--prompt") || cli_get(a, "--prompts") || cli_get(a, "--prompt-embeds");
}

/* 1 when the command line asks for sound (--out FILE.wav or --spectrogram): then the default
 * model for prompts is the audio demo. */
static int wants_sound(const cli_args *a)
{
    const char *out = cli_get(a, "--out");
    const size_t n = out ? strlen(out) : 0;
    return cli_get(a, "--spectrogram") || (n > 4 && !strcmp(out + n - 4, ".wav"));
}

/* The shipped model a command line without --model runs: "audiodemo", "textdemo" or "demo". */
static const char *default_name(const cli_args *a)
{
    return !gives_prompts(a) ? "demo" : wants_sound(a) ? "audiodemo" : "textdemo";
}

const char *cli_model_path(const cli_args *a)
{
    const char *path = cli_get(a, "--model");
    return path ? path : default_model(default_name(a));
}

int cli_dtype(const cli_args *a, sc_dtype *d)
{
    *d = SC_DTYPE_AUTO;
    const char *v = cli_get(a, "--dtype");
    if (v && sc_dtype_parse(v, d) != SC_OK)
        return cli_usage_error(a, "--dtype: '%s' is not a precision (f32, bf16, int8 or auto)", v);
    return 0;
}

int cli_load_model(const cli_args *a, sc_model **m, int pack)
{
    const char *path = cli_model_path(a);
    if (!path)
        return cli_usage_error(a, "no --model given and the shipped model %s was not found ($SMOOTHCACHE_MODEL, "
                                  "models/%s of the source tree, or share/smoothcache/models/%s of the installed prefix)",
                               default_name(a), default_name(a), default_name(a));
    long heads, size;
    if (cli_int(a, "--heads", 1, 1024, 0, &heads) || cli_int(a, "--input-size", 1, 4096, 0, &size))
        return CLI_EXIT_USAGE;
    sc_load_opts o = {.num_heads = (int)heads, .input_size = (int)size, .no_pack = !pack};
    if (cli_dtype(a, &o.dtype)) return CLI_EXIT_USAGE;
    const char *origin = cli_get(a, "--origin");
    if (origin) {
        if (!strcmp(origin, "original")) o.origin = SC_ORIGIN_ORIGINAL;
        else if (!strcmp(origin, "diffusers")) o.origin = SC_ORIGIN_DIFFUSERS;
        else return cli_usage_error(a, "--origin: '%s' is not 'original' or 'diffusers'", origin);
    }
    if (sc_model_load(path, &o, m) != SC_OK) {
        const int r = cli_fail(a);
        cli_where_it_goes(a, "--model", path);
        if (!cli_get(a, "--model") && getenv("SMOOTHCACHE_MODEL") && *getenv("SMOOTHCACHE_MODEL"))
            fprintf(stderr, "smoothcache %s: (that path is $SMOOTHCACHE_MODEL's, used when no --model is given)\n",
                    a->command);
        return r;
    }
    return 0;
}

int cli_threads(const cli_args *a, int *threads)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN), t;
    if (n < 1) n = 1;
    /* 0 = all CPUs, as stable-diffusion.cpp users write it (and as absent means). */
    if (cli_int(a, "--threads", 0, n, 0, &t)) return CLI_EXIT_USAGE;
    *threads = (int)t;
    return 0;
}

int cli_seed(const cli_args *a, uint64_t *seed)
{
    const char *v = cli_get(a, "--seed");
    if (v && *v == '-' && strcmp(v, "-1") && v[1] >= '0' && v[1] <= '9')
        return cli_usage_error(a, "--seed: %s is out of range: give 0 .. 2^64-1, or -1 for a random seed", v);
    if (!v || strcmp(v, "-1")) return cli_u64(a, "--seed", 0, seed) ? CLI_EXIT_USAGE : 0;
    /* -1: a random seed (stable-diffusion.cpp's convention), said so that the run can be repeated. */
    uint64_t s = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&s, sizeof s, 1, f) != 1) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        s = (uint64_t)t.tv_sec * 1000000007u ^ (uint64_t)t.tv_nsec ^ (uint64_t)getpid() << 32;
    }
    if (f) fclose(f);
    s >>= 11; /* 53 bits: the seed prints short and survives a round trip through JSON numbers */
    *seed = s;
    fprintf(stderr, "smoothcache %s: --seed -1: using seed %llu\n", a->command, (unsigned long long)s);
    return 0;
}

int cli_sampler(const cli_args *a, sc_sampler *s)
{
    const char *v = cli_get(a, "--sampler");
    *s = SC_SAMPLER_DDIM;
    if (!v) return 0;
    const int k = sc_sampler_from_name(v);
    if (k < 0) {
        char names[160];
        size_t n = 0;
        for (int i = 0; i < SC_SAMPLER_COUNT; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", sc_sampler_name((sc_sampler)i));
        return cli_usage_error(a, "--sampler: '%s' is not one of %s", v, names);
    }
    *s = (sc_sampler)k;
    return 0;
}

int cli_sampling(const cli_args *a, sc_gen_params *p, int **classes, int *n)
{
    long steps;
    double cfg;
    if (cli_int(a, "--steps", 1, 1000, 50, &steps) || cli_seed(a, &p->seed) ||
        cli_float(a, "--cfg", 1.0, 1000.0, 4.0, &cfg) || cli_threads(a, &p->threads) ||
        cli_sampler(a, &p->sampler) || cli_int_list(a, "--class", 0, 999999, classes, n))
        return CLI_EXIT_USAGE;
    p->steps = (int)steps;
    p->cfg = (float)cfg;
    return 0;
}

void cli_sampling_defaults(const cli_args *a, const sc_model *m, sc_gen_params *p)
{
    sc_model_info info;
    sc_model_get_info(m, &info);
    if (!cli_get(a, "--steps")) p->steps = info.default_steps;
    if (!cli_get(a, "--cfg")) p->cfg = info.default_cfg;
    if (!cli_get(a, "--sampler")) p->sampler = (sc_sampler)info.default_sampler;
}

void cli_shape_text(char *buf, size_t cap, int rank, const uint64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}
