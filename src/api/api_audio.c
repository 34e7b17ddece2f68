/* Sound out of the engine: WAV files (io/wav, libsndfile) and log-mel spectrograms (the framing,
 * filters and picture of metrics/melspec over the backend's Fourier transform). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/ckmath.h"
#include "core/error.h"
#include "io/npy.h"
#include "io/png.h"
#include "io/wav.h"
#include "metrics/audiodemo_check.h"
#include "metrics/melspec.h"
#include "smoothcache_tools.h"

sc_status sc_wav_write(const char *path, const float *wave, int channels, int64_t samples, int sample_rate,
                       sc_wav_format format, const char *title, const char *comment, int force, int64_t *clipped)
{
    return wav_write(path, wave, channels, samples, sample_rate, format == SC_WAV_FLOAT32 ? WAV_FLOAT32 : WAV_PCM16,
                     title, comment, force, clipped);
}

int sc_audiodemo_hears(const float *wave, int channels, int64_t samples, int sample_rate, const char *caption)
{
    return audiodemo_hears(wave, channels, samples, sample_rate, caption);
}

int64_t sc_spectrogram_frames(int64_t samples) { return samples < 0 ? 0 : 1 + samples / melspec_defaults(1).hop; }

sc_status sc_spectrogram(const float *wave, int channels, int64_t samples, int sample_rate, float *db)
{
    if (!wave || !db || channels < 1 || samples < 1)
        return err_fail(SC_ERR_ARG, "spectrogram: no audio (%d channels of %lld samples)", channels, (long long)samples);
    const melspec_opts o = melspec_defaults(sample_rate);
    sc_status s = melspec_check(&o);
    if (s) return s;
    const backend *be = backend_cpu_f32();
    const int64_t T = melspec_frames(&o, samples);
    const int N = o.n_fft, bins = N / 2 + 1;
    uint64_t mono_bytes;
    if (!ck_mul((uint64_t)samples, sizeof(float), &mono_bytes) || mono_bytes > SIZE_MAX / 2)
        return err_fail(SC_ERR_NOMEM, "spectrogram: %lld samples are too many", (long long)samples);
    float *mono = malloc((size_t)mono_bytes), *win = malloc((size_t)N * sizeof *win);
    float *frame = malloc((size_t)2 * N * sizeof *frame), *filters = melspec_filters(&o), *mel = NULL;
    double *spec = malloc((size_t)4 * N * sizeof *spec), *work = malloc(be->dft_work(1, N) * sizeof *work);
    if (!mono || !win || !frame || !filters || !spec || !work) {
        s = err_fail(SC_ERR_NOMEM, "spectrogram: out of memory");
        goto done;
    }
    /* mono [samples] = the mean of the channels */
    for (int64_t i = 0; i < samples; i++) {
        double acc = 0;
        for (int c = 0; c < channels; c++) acc += wave[(size_t)c * (size_t)samples + (size_t)i];
        mono[i] = (float)(acc / channels);
    }
    melspec_window(&o, win);
    mel = malloc((size_t)o.mels * sizeof *mel);
    if (!mel) {
        s = err_fail(SC_ERR_NOMEM, "spectrogram: out of memory");
        goto done;
    }
    /* Two frames per complex transform: X_t, X_t+1 [1][N][2] each; db [mels][T] filled by column. */
    for (int64_t t = 0; t < T; t += 2) {
        const int pair = t + 1 < T;
        melspec_frame(&o, mono, samples, t, win, frame);
        if (pair) {
            melspec_frame(&o, mono, samples, t + 1, win, frame + N);
            be->dft2_pair(frame, frame + N, 1, N, spec, spec + 2 * N, work);
        } else {
            be->dft2(frame, 1, N, spec, work);
        }
        for (int k = 0; k <= pair; k++) {
            melspec_apply(&o, filters, spec + (size_t)k * 2 * N, mel);
            for (int m = 0; m < o.mels; m++) db[(size_t)m * T + (size_t)(t + k)] = mel[m];
        }
    }
    (void)bins;
    melspec_to_db(db, (size_t)o.mels * (size_t)T, o.top_db);
done:
    free(mono);
    free(win);
    free(frame);
    free(filters);
    free(spec);
    free(work);
    free(mel);
    return s;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

sc_status sc_spectrogram_write(const char *path, const float *wave, int n, int channels, int64_t samples,
                               int sample_rate, const char *comment, int force)
{
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty output path");
    const int png = ends_with(path, ".png");
    if (!png && !ends_with(path, ".npy"))
        return err_fail(SC_ERR_ARG, "%s: spectrograms are written as .png (a picture) or .npy (the decibels)", path);
    if (n < 1 || (png && n != 1))
        return err_fail(SC_ERR_ARG, "%s: a spectrogram picture shows one clip (%d given); write .npy for several", path, n);
    if (channels < 1 || samples < 1) return err_fail(SC_ERR_ARG, "%s: no audio to draw", path);
    const int64_t T = sc_spectrogram_frames(samples);
    if (png && T > PNG_MAX_DIM)
        return err_fail(SC_ERR_ARG, "%s: %lld frames are wider than a picture may be (%d); write .npy", path,
                        (long long)T, PNG_MAX_DIM);
    uint64_t per, wave_per;
    if (!ck_mul(SC_MEL_BANDS, (uint64_t)T, &per) || per > SIZE_MAX / sizeof(float) / (uint64_t)n ||
        !ck_mul((uint64_t)channels, (uint64_t)samples, &wave_per))
        return err_fail(SC_ERR_ARG, "%s: the spectrogram is too large", path);
    float *db = malloc((size_t)(per * (uint64_t)n) * sizeof *db);
    if (!db) return err_fail(SC_ERR_NOMEM, "%s: out of memory", path);
    sc_status s = SC_OK;
    for (int i = 0; i < n && !s; i++)
        s = sc_spectrogram(wave + (size_t)i * (size_t)wave_per, channels, samples, sample_rate, db + (size_t)i * per);
    if (!s && png) {
        /* rgb [2 * 128][T][3] */
        uint8_t *rgb = malloc((size_t)2 * SC_MEL_BANDS * (size_t)T * 3);
        if (!rgb) s = err_fail(SC_ERR_NOMEM, "%s: out of memory", path);
        if (!s) {
            melspec_picture(db, SC_MEL_BANDS, T, melspec_defaults(sample_rate).top_db, rgb);
            static _Thread_local char clean[PNG_MAX_TEXT_VALUE + 1];
            const png_text_kv text = {"smoothcache", png_text_clean(comment, clean, sizeof clean)};
            s = png_write_rgb8(path, (int)T, 2 * SC_MEL_BANDS, rgb, &text, 1, force);
        }
        free(rgb);
    } else if (!s) {
        const uint64_t shape[3] = {(uint64_t)n, SC_MEL_BANDS, (uint64_t)T};
        s = sc_npy_write(path, db, 3, shape, force);
    }
    free(db);
    return s;
}
