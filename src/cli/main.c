/* smoothcache: the command-line front end. One file per subcommand in src/cli/. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "smoothcache_tools.h"

/* SIGINT, SIGTERM, SIGHUP: the outputs being written are removed (nothing partial ever reaches a
 * final path: outputs are renamed into place when complete), then the process ends by the same
 * signal, so its status is 128 + the signal (130 for Ctrl-C, 143 for SIGTERM). */
static void on_signal(int sig)
{
    sc_remove_temporary_files();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_interrupts(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        /* A signal the shell set to be ignored (nohup, a background job) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} k_commands[] = {
    {"generate", cmd_generate, "make images from classes or prompts (DiT, PixArt), sound from prompts (Stable Audio), optionally cached"},
    {"sample", cmd_sample, "many images with uniformly drawn classes, as one .npz for FID tools (or one shard of it)"},
    {"merge", cmd_merge, "merge the shards of a sharded sample run into one .npz"},
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
    if (!strcmp(argv[1], "help") && argc > 2) {
        /* `smoothcache help generate` = `smoothcache generate --help` (git's and go's habit) */
        for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
            if (!strcmp(argv[2], k_commands[i].name)) {
                char *args[] = {"--help", NULL};
                return k_commands[i].run(1, args);
            }
        fprintf(stderr, "smoothcache help: unknown command '%s'\n", argv[2]);
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
    catch_interrupts();
    for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "smoothcache: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
