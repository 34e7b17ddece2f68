#include "metrics/melspec.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"

melspec_opts melspec_defaults(int rate)
{
    return (melspec_opts){.rate = rate, .n_fft = 2048, .hop = 512, .mels = 128, .fmin = 0.0, .fmax = 0.0, .top_db = 80.0};
}

sc_status melspec_check(const melspec_opts *o)
{
    if (o->rate < 1) return err_fail(SC_ERR_ARG, "spectrogram: sample rate %d must be positive", o->rate);
    if (o->n_fft < 16 || o->n_fft > 65536 || (o->n_fft & (o->n_fft - 1)))
        return err_fail(SC_ERR_ARG, "spectrogram: n_fft %d must be a power of two in 16..65536", o->n_fft);
    if (o->hop < 1 || o->hop > o->n_fft)
        return err_fail(SC_ERR_ARG, "spectrogram: hop %d must be in 1..n_fft (%d)", o->hop, o->n_fft);
    if (o->mels < 1 || o->mels > 1024) return err_fail(SC_ERR_ARG, "spectrogram: %d mel bands; 1..1024", o->mels);
    const double fmax = o->fmax > 0 ? o->fmax : o->rate / 2.0;
    if (!(o->fmin >= 0) || !(fmax > o->fmin) || fmax > o->rate / 2.0)
        return err_fail(SC_ERR_ARG, "spectrogram: frequencies %g..%g Hz must lie in 0..%g (half the sample rate)",
                        o->fmin, fmax, o->rate / 2.0);
    if (!(o->top_db > 0) || o->top_db > 400)
        return err_fail(SC_ERR_ARG, "spectrogram: top_db %g must be in (0, 400]", o->top_db);
    return SC_OK;
}

int64_t melspec_frames(const melspec_opts *o, int64_t samples) { return 1 + samples / o->hop; }

void melspec_window(const melspec_opts *o, float *window)
{
    const double pi = 3.14159265358979323846;
    for (int j = 0; j < o->n_fft; j++) window[j] = (float)(0.5 - 0.5 * cos(2.0 * pi * j / o->n_fft));
}

void melspec_frame(const melspec_opts *o, const float *signal, int64_t samples, int64_t t, const float *window,
                   float *frame)
{
    const int64_t start = t * o->hop - o->n_fft / 2;
    for (int j = 0; j < o->n_fft; j++) {
        const int64_t i = start + j;
        frame[j] = i >= 0 && i < samples ? window[j] * signal[i] : 0.0f;
    }
}

/* Slaney's mel scale (librosa, htk=False): linear below 1 kHz, logarithmic above. */
static double hz_to_mel(double f)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, step = log(6.4) / 27.0;
    return f < min_log_hz ? f / f_sp : min_log_mel + log(f / min_log_hz) / step;
}

static double mel_to_hz(double m)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, step = log(6.4) / 27.0;
    return m < min_log_mel ? f_sp * m : min_log_hz * exp(step * (m - min_log_mel));
}

float *melspec_filters(const melspec_opts *o)
{
    const int bins = o->n_fft / 2 + 1, M = o->mels;
    float *w = calloc((size_t)M * bins, sizeof *w);
    double *edges = malloc((size_t)(M + 2) * sizeof *edges);
    if (!w || !edges) {
        free(w);
        free(edges);
        return NULL;
    }
    const double fmax = o->fmax > 0 ? o->fmax : o->rate / 2.0, lo = hz_to_mel(o->fmin), hi = hz_to_mel(fmax);
    for (int k = 0; k < M + 2; k++) edges[k] = mel_to_hz(lo + (hi - lo) * k / (M + 1));
    /* w [M][bins]: triangles over the FFT bin frequencies, each scaled to unit area (Slaney). */
    for (int m = 0; m < M; m++) {
        const double left = edges[m], mid = edges[m + 1], right = edges[m + 2], enorm = 2.0 / (right - left);
        for (int b = 0; b < bins; b++) {
            const double f = (double)b * o->rate / o->n_fft;
            const double up = (f - left) / (mid - left), down = (right - f) / (right - mid);
            const double v = up < down ? up : down;
            w[(size_t)m * bins + b] = v > 0 ? (float)(v * enorm) : 0.0f;
        }
    }
    free(edges);
    return w;
}

void melspec_apply(const melspec_opts *o, const float *filters, const double *spectrum, float *mel)
{
    const int bins = o->n_fft / 2 + 1;
    for (int m = 0; m < o->mels; m++) {
        const float *f = filters + (size_t)m * bins;
        double acc = 0.0;
        for (int b = 0; b < bins; b++)
            if (f[b] != 0.0f) acc += f[b] * (spectrum[2 * b] * spectrum[2 * b] + spectrum[2 * b + 1] * spectrum[2 * b + 1]);
        mel[m] = (float)acc;
    }
}

void melspec_to_db(float *S, size_t n, double top_db)
{
    const double amin = 1e-10;
    double top = amin;
    for (size_t i = 0; i < n; i++)
        if (S[i] > top) top = S[i];
    const double ref = 10.0 * log10(top);
    for (size_t i = 0; i < n; i++) {
        if (S[i] != S[i]) continue; /* NaN stays NaN: a broken clip is not shown as a loud one */
        const double v = S[i] > amin ? S[i] : amin;
        const double db = 10.0 * log10(v) - ref;
        S[i] = (float)(db < -top_db ? -top_db : db);
    }
}

/* matplotlib's magma at 0, 1/8, ..., 1, interpolated linearly between. */
static const uint8_t k_magma[9][3] = {{0, 0, 4},      {29, 17, 71},   {81, 18, 124},   {131, 38, 129}, {183, 55, 121},
                                      {231, 82, 99}, {252, 137, 97}, {254, 196, 136}, {252, 253, 191}};

void melspec_picture(const float *db, int mels, int64_t frames, double top_db, uint8_t *rgb)
{
    for (int m = 0; m < mels; m++)
        for (int64_t t = 0; t < frames; t++) {
            double u = (db[(size_t)m * frames + t] + top_db) / top_db; /* 0 = floor, 1 = maximum */
            u = u != u || u < 0 ? 0 : u > 1 ? 1 : u;
            const double x = u * 8;
            const int k = x >= 8 ? 7 : (int)x;
            const double f = x - k;
            uint8_t c[3];
            for (int ch = 0; ch < 3; ch++) c[ch] = (uint8_t)lrint(k_magma[k][ch] + f * (k_magma[k + 1][ch] - k_magma[k][ch]));
            for (int r = 0; r < 2; r++) {
                const size_t y = (size_t)(2 * (mels - 1 - m) + r);
                uint8_t *px = rgb + (y * (size_t)frames + (size_t)t) * 3;
                px[0] = c[0];
                px[1] = c[1];
                px[2] = c[2];
            }
        }
}
