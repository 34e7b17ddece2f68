/* The log-mel spectrogram: how people look at sound. The conventions are librosa's defaults
 * (docs/AUDIO.md): a periodic Hann window of n_fft samples every hop samples, frames centred with
 * zeros beyond both ends (librosa's pad_mode="constant"), power spectra, triangular mel filters on the Slaney mel scale with Slaney's
 * area normalisation (librosa.filters.mel(htk=False, norm="slaney")), then
 * 10 log10(max(S, 1e-10)) relative to the clip's maximum and floored top_db below it
 * (librosa.power_to_db(S, ref=np.max, top_db=80)). The Fourier transforms are the caller's
 * (the backend's): this file does the framing's arithmetic, the filters, the decibels and the
 * picture. */
#ifndef SC_METRICS_MELSPEC_H
#define SC_METRICS_MELSPEC_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

typedef struct {
    int rate;      /* samples per second */
    int n_fft;     /* window and transform length, a power of two (2048) */
    int hop;       /* samples between frames (512) */
    int mels;      /* filters (128) */
    double fmin, fmax; /* Hz; fmax 0 = rate / 2 */
    double top_db; /* dynamic range kept below the maximum (80) */
} melspec_opts;

melspec_opts melspec_defaults(int rate);
/* SC_ERR_ARG naming what is out of range. */
sc_status melspec_check(const melspec_opts *o);
/* Frames of a signal of `samples` samples, centred: 1 + samples / hop. */
int64_t melspec_frames(const melspec_opts *o, int64_t samples);
/* window [n_fft]: the periodic Hann window. */
void melspec_window(const melspec_opts *o, float *window);
/* frame [n_fft] = window * signal[t * hop - n_fft / 2 + j], zero outside the signal. */
void melspec_frame(const melspec_opts *o, const float *signal, int64_t samples, int64_t t, const float *window,
                   float *frame);
/* filters [mels][n_fft / 2 + 1]; NULL when out of memory. Free with free(). */
float *melspec_filters(const melspec_opts *o);
/* mel [mels] = filters [mels][bins] . |X|^2 of one frame's spectrum X [bins][2] (re, im). */
void melspec_apply(const melspec_opts *o, const float *filters, const double *spectrum, float *mel);
/* S [n] (power) -> decibels relative to its maximum, floored at -top_db, in place; NaN stays NaN
 * (and is drawn as the floor's colour). */
void melspec_to_db(float *S, size_t n, double top_db);
/* rgb [2 mels][frames][3]: one column per frame, two rows per mel band, low frequencies at the
 * bottom, -top_db..0 dB through the magma colour map. */
void melspec_picture(const float *db, int mels, int64_t frames, double top_db, uint8_t *rgb);

#endif
