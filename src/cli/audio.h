/* The sound side of a command (models whose latents are [C, L], Stable Audio): the clip's seconds
 * as the model's conditioning (--seconds-start, --seconds-total or --seconds), the decoder that
 * turns latents into waveforms (the pipeline's vae/ or --vae), and the files written: one WAV
 * per clip (or one .npz of all of them) and log-mel spectrograms (docs/AUDIO.md). */
#ifndef SC_CLI_AUDIO_H
#define SC_CLI_AUDIO_H

#include <stdint.h>

#include "cli/args.h"
#include "smoothcache.h"

#define CLI_AUDIO_COND_OPTS                                                                                        \
    {"--seconds-start", "S", "sound: where the clip starts in the model's timeline, in seconds (default 0)"},     \
    {"--seconds-total", "S", "sound: where it ends, in seconds: the length the model is asked for and where the " \
                             "written clip is cut (default: the longest clip the model makes)"},                  \
    {"--seconds", "S", "sound: the clip's length in seconds (sets --seconds-total to --seconds-start + S)"}

#define CLI_AUDIO_OUT_OPTS                                                                                         \
    {"--wav-format", "NAME", "sound: pcm16 (default, clipped to [-1, 1]) or float32 samples in the WAV files"},  \
    {"--spectrogram", "FILE", "sound: write the log-mel spectrogram: FILE.png (a picture per clip) or FILE.npy " \
                              "(float32 decibels [n, 128, frames])"}

typedef struct {
    double start, total;    /* seconds */
    float *starts, *totals; /* [n]: the scalars of the conditioning */
    int rate, channels;     /* the decoder's: samples per second, channels */
    int latent_channels;
    int64_t frames;         /* latent frames per clip */
    int64_t length;         /* decoded samples per clip */
    int64_t cut0, cut1;     /* the samples written: [cut0, cut1) of each decoded clip */
} cli_audio;

/* 1 when the model makes sound ([C, L] latents). */
int cli_is_audio(const sc_model_info *info);
/* Loads the decoder (--vae, else the pipeline's vae/; need = 0: none is fine) into *vae. */
int cli_audio_decoder(const cli_args *a, const sc_model *m, const sc_model_info *info, int need, sc_vae **vae);
/* Reads the seconds flags against the model and the decoder (may be NULL: then --seconds-total is
 * required) into au, before any work: the clip's seconds and the samples it keeps. */
int cli_audio_settings(const cli_args *a, const sc_model_info *info, const sc_vae *vae, int quiet, cli_audio *au);
/* Adds "seconds_start" and "seconds_total" of au to cond, one value per sample (n). */
int cli_audio_scalars(const cli_args *a, int n, cli_audio *au, sc_cond *cond);
/* Refuses the seconds flags for a model that does not make sound. */
int cli_audio_flags_unused(const cli_args *a);
void cli_audio_free(cli_audio *au);

/* The file of clip k of n for an output named path: path itself for one clip or a .npz/.npy,
 * else "stem-K.ext" (K from 1, zero-padded to the width of n). */
int cli_audio_name(const char *path, int k, int n, char *out, size_t cap);
/* --out / --spectrogram must suit sound: .wav or .npz; .png or .npy. */
int cli_audio_paths_ok(const cli_args *a, const char *out, const char *out_ref, const char *spec);
/* Every file the outputs will be (per clip) is checked before the work (exists without --force,
 * a folder, a link...). */
int cli_audio_outputs_check(const cli_args *a, const char *path, int n, int force);

/* Decodes n clips of latents [n, C, frames] and cuts them: *wave [n, channels, cut1 - cut0]
 * (free()). */
int cli_audio_decode(const cli_args *a, sc_vae *vae, const cli_audio *au, int n, const float *latents, int threads,
                     float **wave);
/* Writes wave [n, channels, cut1 - cut0] to path (.wav per clip, or .npz: "audio" and
 * "sample_rate"), each file titled with its clip's prompt (prompts may be NULL) and commented with
 * the settings, its own seed (seed + k) and its prompt. */
int cli_audio_write(const cli_args *a, const char *path, const cli_audio *au, int n, const float *wave,
                    char *const *prompts, const char *settings, uint64_t seed, int force, int quiet);
/* The spectrograms of the same clips (a .png per clip, commented likewise, or one .npy). */
int cli_audio_spectrogram(const cli_args *a, const char *path, const cli_audio *au, int n, const float *wave,
                          char *const *prompts, const char *settings, uint64_t seed, int force);

/* "wrote NAME" or "wrote NAME-1 .. NAME-n (n clips)", then `what` (" (uncached)" or ""). */
void cli_audio_print_written(const char *path, int n, const char *what);

#endif
