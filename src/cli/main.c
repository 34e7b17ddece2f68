/* smoothcache: the command-line front end. One file per subcommand in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} k_commands[] = {
    {"generate", cmd_generate, "make images (or latents) from a class-conditional DiT, optionally cached"},
    {"sample", cmd_sample, "many images with uniformly drawn classes, as one .npz for FID tools"},
    {"info", cmd_info, "print a model's architecture, size and cost"},
    {"convert", cmd_convert, "rewrite a PyTorch .pt/.bin checkpoint as safetensors"},
    {"calibrate", cmd_calibrate, "measure layer output change between steps (SmoothCache calibration)"},
    {"schedule", cmd_schedule, "make a SmoothCache schedule from calibrated error curves"},
    {"bench", cmd_bench, "compare cache policies against the uncached baseline on the same seeds"},
    {"policies", cmd_policies, "list the cache policies --cache accepts, with their options"},
    {"encode", cmd_encode, "encode prompts with a T5 text encoder into token ids, masks and embeddings (.npz)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: smoothcache COMMAND [options]   (smoothcache COMMAND --help for its options)\n\n"
                 "Diffusion Transformer sampling in C with training-free feature caching.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
        fprintf(out, "  %-10s %s\n", k_commands[i].name, k_commands[i].help);
    fprintf(out, "\n  --version  print the version\n\n"
                 "Without --model, commands use $SMOOTHCACHE_MODEL, else the shipped demo model (models/demo):\n"
                 "`smoothcache generate` alone writes samples.png, one image per class.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("smoothcache %s\n", SC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "smoothcache: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
