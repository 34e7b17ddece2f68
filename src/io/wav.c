#include "io/wav.h"

#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "io/file.h"
#include "io/png.h"

#define CHUNK_FRAMES 4096

static short to_pcm16(float x, int64_t *clipped)
{
    if (x != x) return 0; /* NaN */
    if (x > 1.0f || x < -1.0f) {
        (*clipped)++;
        x = x > 1.0f ? 1.0f : -1.0f;
    }
    return (short)lrintf(x * 32767.0f);
}

/* The INFO strings: libsndfile takes them as they are; they are cleaned the way PNG text is
 * (valid UTF-8, no control characters, cut on a character boundary) and kept short. */
static void set_string(SNDFILE *f, int kind, const char *text)
{
    if (!text || !*text) return;
    char clean[1024];
    png_text_clean(text, clean, sizeof clean);
    if (*clean) sf_set_string(f, kind, clean); /* a refused string is metadata lost, not a failed write */
}

sc_status wav_write(const char *path, const float *wave, int channels, int64_t frames, int rate, wav_format fmt,
                    const char *title, const char *comment, int force, int64_t *clipped)
{
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty output path");
    if (channels < 1 || channels > WAV_MAX_CHANNELS)
        return err_fail(SC_ERR_ARG, "%s: %d audio channels; WAV files here take 1..%d", path, channels,
                        WAV_MAX_CHANNELS);
    if (rate < 1 || rate > WAV_MAX_RATE)
        return err_fail(SC_ERR_ARG, "%s: sample rate %d is out of range 1..%d", path, rate, WAV_MAX_RATE);
    if (frames < 1 || !wave) return err_fail(SC_ERR_ARG, "%s: no audio to write", path);
    if (fmt != WAV_PCM16 && fmt != WAV_FLOAT32) return err_fail(SC_ERR_ARG, "%s: unknown WAV sample format", path);
    uint64_t bytes;
    if (!ck_mul3((uint64_t)frames, (uint64_t)channels, fmt == WAV_PCM16 ? 2 : 4, &bytes) || bytes > WAV_MAX_BYTES)
        return err_fail(SC_ERR_ARG, "%s: %lld frames of %d channels do not fit a WAV file (4 GiB at most)", path,
                        (long long)frames, channels);
    int64_t clip_count = 0;
    file_out o;
    sc_status s = file_out_open(&o, path, force);
    if (s) return s;
    SF_INFO info = {.samplerate = rate, .channels = channels,
                    .format = SF_FORMAT_WAV | (fmt == WAV_PCM16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT)};
    SNDFILE *f = sf_open_fd(o.fd, SFM_WRITE, &info, 0 /* the descriptor stays ours */);
    if (!f) {
        s = err_fail(SC_ERR_IO, "%s: libsndfile cannot write WAV: %s", path, sf_strerror(NULL));
        file_out_abort(&o);
        return s;
    }
    set_string(f, SF_STR_TITLE, title);
    set_string(f, SF_STR_COMMENT, comment);
    set_string(f, SF_STR_SOFTWARE, "smoothcache");
    /* Interleaved chunks [CHUNK_FRAMES][channels] from the planar [channels][frames]. */
    short *pcm = fmt == WAV_PCM16 ? malloc((size_t)CHUNK_FRAMES * channels * sizeof *pcm) : NULL;
    float *flt = fmt == WAV_FLOAT32 ? malloc((size_t)CHUNK_FRAMES * channels * sizeof *flt) : NULL;
    if (!pcm && !flt) s = err_fail(SC_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t t0 = 0; t0 < frames && !s; t0 += CHUNK_FRAMES) {
        const int64_t m = frames - t0 < CHUNK_FRAMES ? frames - t0 : CHUNK_FRAMES;
        for (int64_t t = 0; t < m; t++)
            for (int c = 0; c < channels; c++) {
                const float x = wave[(size_t)c * (size_t)frames + (size_t)(t0 + t)];
                if (pcm) pcm[t * channels + c] = to_pcm16(x, &clip_count);
                else flt[t * channels + c] = x;
            }
        const sf_count_t w = pcm ? sf_writef_short(f, pcm, m) : sf_writef_float(f, flt, m);
        if (w != m) s = err_fail(SC_ERR_IO, "%s: writing the audio failed: %s", path, sf_strerror(f));
    }
    free(pcm);
    free(flt);
    if (sf_close(f) != 0 && !s) s = err_fail(SC_ERR_IO, "%s: finishing the WAV file failed", path);
    if (s) {
        file_out_abort(&o);
        return s;
    }
    if ((s = file_out_commit(&o))) return s;
    if (clipped) *clipped = clip_count;
    return SC_OK;
}
