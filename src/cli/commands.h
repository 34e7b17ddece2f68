/* The subcommands (one file each) and what they share. */
#ifndef SC_CLI_COMMANDS_H
#define SC_CLI_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "cli/args.h"
#include "cli/progress.h"
#include "smoothcache.h"

int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_policies(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_merge(int argc, char **argv);

/* The options every command that loads a model accepts; DEFAULT says which model runs without
 * --model (the rule of common.c's default_name, as far as the command's flags reach it). */
#define CLI_MODEL_OPTS_DEFAULT(DEFAULT)                                                        \
    {"--model", "PATH", "diffusers pipeline or transformer folder, .safetensors or torch .pt file " \
                        "(default: $SMOOTHCACHE_MODEL, else " DEFAULT ")"},                     \
    {"--heads", "N", "attention heads (only for single files of non-standard width)"},          \
    {"--input-size", "N", "latent side (only for single files without pos_embed)"},             \
    {"--origin", "NAME", "force the numerics of 'original' (DiT repo) or 'diffusers'"},         \
    CLI_DTYPE_OPT

/* generate's: every shipped model can be the default. */
#define CLI_MODEL_OPTS                                                                         \
    CLI_MODEL_OPTS_DEFAULT("a shipped model: the class demo; with prompts the text-to-image demo, or the audio " \
                           "demo when --out is a .wav or --spectrogram given")

/* The compute precision of a model's matrix products. */
#define CLI_DTYPE_OPT                                                                          \
    {"--dtype", "NAME", "precision of the matrix products: f32, bf16 or int8 (W8A8); default auto: " \
                        "bf16 for 16-bit text encoders, else f32"}

/* --dtype into *d (SC_DTYPE_AUTO when absent). Returns an exit status. */
int cli_dtype(const cli_args *a, sc_dtype *d);

/* The options of every command that samples. */
#define CLI_SAMPLING_OPTS                                                                      \
    {"--class", "N[,N...]", "class ids, one image each"},                                      \
    {"--seed", "S", "seed, 0..2^64-1, or -1 for a random one (printed); image i uses S+i (default 0)"}, \
    {"--steps", "N", "sampler steps, 1..1000 (default: the model's pipeline's: DiT 50, PixArt 20, Stable Audio 100)"}, \
    {"--sampler", "NAME", "ddim, iddpm (original DiT, stochastic), dpmpp2m, k-euler or k-dpmpp2m "                 \
                          "(k-diffusion on Karras sigmas); flow-euler for flow-matching models; for sigma-"        \
                          "schedule models (Stable Audio) cosine-dpmpp2m-sde (the diffusers Stable Audio "          \
                          "pipeline's CosineDPMSolverMultistepScheduler, DPM-Solver++(2M) SDE, stochastic) or "     \
                          "k-dpmpp3m-sde (stable-audio-tools' DPM-Solver++(3M) SDE, stochastic) (default: the "     \
                          "pipeline folder's scheduler, else ddim for DiT, dpmpp2m for PixArt, k-dpmpp3m-sde for "  \
                          "Stable Audio)"},                                                                         \
    {"--cfg", "F", "classifier-free guidance scale, 1..1000; 1 disables it (default: DiT 4, PixArt 4.5, Stable Audio 7)"}, \
    {"--threads", "N", "threads, 1..CPUs; 0 or absent: all CPUs"}

/* Reads CLI_SAMPLING_OPTS into p (seed, steps, sampler, cfg, threads) and the class list
 * (*classes = NULL, *n = 0 when --class is absent; free *classes); the caller makes the
 * conditioning from the classes. Returns an exit status. */
int cli_sampling(const cli_args *a, sc_gen_params *p, int **classes, int *n);

/* The steps, guidance and sampler the flags left unsaid, from the model's pipeline
 * (sc_model_info.default_*); call after loading the model. */
void cli_sampling_defaults(const cli_args *a, const sc_model *m, sc_gen_params *p);

/* "[2, 4, 32, 32]". */
void cli_shape_text(char *buf, size_t cap, int rank, const uint64_t *shape);

/* --sampler (default ddim); returns an exit status. */
int cli_sampler(const cli_args *a, sc_sampler *s);


/* After a file given to `flag` failed to load: when it is a kind another option takes (a schedule
 * given as a model, a calibration file given as a schedule...), one line saying which. */
void cli_where_it_goes(const cli_args *a, const char *flag, const char *path);

/* --model, or the shipped demo model when it is absent (NULL if neither exists). */
const char *cli_model_path(const cli_args *a);

/* Loads the model named by --model with --heads/--input-size/--origin; returns an exit status.
 * pack = 0 keeps the weights as mapped (for commands that do not sample). */
int cli_load_model(const cli_args *a, sc_model **m, int pack);
/* --threads: 1..online CPUs, 0 or absent = all. */
int cli_threads(const cli_args *a, int *threads);
/* --seed: 0..2^64-1 (absent: 0), or -1 for a random one, printed; returns an exit status. */
int cli_seed(const cli_args *a, uint64_t *seed);

#endif
