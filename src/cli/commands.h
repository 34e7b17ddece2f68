/* The subcommands (one file each) and what they share. */
#ifndef SC_CLI_COMMANDS_H
#define SC_CLI_COMMANDS_H

#include "cli/args.h"
#include "smoothcache.h"

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* The options every command that loads a model accepts. */
#define CLI_MODEL_OPTS                                                                         \
    {"--model", "PATH", "model: diffusers pipeline or transformer folder, or a .safetensors file"}, \
    {"--heads", "N", "attention heads (only for single files of non-standard width)"},          \
    {"--input-size", "N", "latent side (only for single files without pos_embed)"},             \
    {"--origin", "NAME", "force the numerics of 'original' (DiT repo) or 'diffusers'"}

/* Loads the model named by --model with --heads/--input-size/--origin; returns an exit status. */
int cli_load_model(const cli_args *a, sc_model **m);
/* --threads: 1..online CPUs, 0 (absent) = all. */
int cli_threads(const cli_args *a, int *threads);

#endif
