/* What a (cached) generation did and how close it came to the uncached one: one entry per policy,
 * printed as a line or a table, written as JSON (generate --report, bench). */
#ifndef SC_CLI_REPORT_H
#define SC_CLI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "cli/timing.h"
#include "smoothcache.h"

typedef struct {
    char policy[256];
    sc_cache_stats stats;
    int has_ref;
    double ref_seconds;     /* uncached wall time */
    double speedup;         /* ref_seconds / stats.seconds, or the median of paired runs (timing) */
    timing_summary timing;  /* set by report_timing; timing.repeats = 0 when not */
    double mac_ratio;       /* macs / macs_uncached */
    double latent_rel_l2;   /* against the uncached latents */
    double psnr, ssim;      /* of the images, when there are images (NAN otherwise) */
    int has_audio;          /* report_audio was called */
    double audio_snr;       /* of the waveforms against the uncached ones, dB (NAN without sound) */
    double mel_distance;    /* mean |difference| of their log-mel spectrograms, dB (NAN without sound) */
    double accuracy;        /* demo classifier: fraction of images recognised as their class, or NAN */
} report_entry;

/* Fills an entry from a run and, when ref_stats is not NULL, its uncached twin. */
void report_fill(report_entry *e, const char *policy, const sc_cache_stats *st, const float *latents,
                 const sc_cache_stats *ref_stats, const float *ref_latents, size_t n);
/* Replaces the entry's times and speed-up with those of n paired runs (ref[i], run[i]). */
void report_timing(report_entry *e, const double *ref, const double *run, int n);
/* PSNR over all pixels and mean per-image SSIM of rgb [n, side, side, 3] against ref. */
void report_images(report_entry *e, const uint8_t *rgb, const uint8_t *ref, int n, int side);
/* SNR of the waveforms wave [n, channels, samples] against ref, and the mean absolute difference of
 * the clips' log-mel spectrograms (sc_spectrogram). */
void report_audio(report_entry *e, const float *wave, const float *ref, int n, int channels, int64_t samples,
                  int rate);
void report_print_line(FILE *f, const report_entry *e, int steps);
/* The table; entries whose speed-up is beyond 1 / MAC ratio are marked '!' and explained below. */
/* prompted: the model draws from prompts (its accuracy column is "prompt acc": pictures or clips
 * the demo's checker recognises as their prompt) rather than classes ("class acc"). */
void report_print_table(FILE *f, const report_entry *e, int n, int prompted);
/* One row per entry: policy,seconds,speedup,mac_ratio,psnr,ssim,latent_rel_l2,... */
sc_status report_write_csv(const char *path, const report_entry *e, int n, int force);
/* Quality (PSNR when every entry has images, else latent relative L2) against wall-clock
 * speed-up (by_macs = 0) or MAC speed-up (1), one line per policy name (the part before ':'). */
sc_status report_plot(const char *path, const report_entry *e, int n, int by_macs, int force);
/* prompts: the text-to-image prompts as one line (written instead of the class list), or NULL;
 * dtype: the compute precision the model ran at ("f32", "bf16", "int8"). */
sc_status report_write(const char *path, const char *model, const char *dtype, const sc_gen_params *p,
                       const char *prompts, const report_entry *e, int n, int force);

#endif
