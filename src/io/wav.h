/* WAV output of decoded audio through libsndfile: 16-bit PCM (what players and editors expect,
 * stable-audio-tools' own choice) or 32-bit float (no clipping, no rounding). The file is written
 * to a temporary name beside `path` and renamed into place (io/file.h), so a failed or interrupted
 * write leaves nothing at `path`.
 *
 *   wav_write("clip.wav", wave, 2, 441000, 44100, WAV_PCM16, "a C major chord", "seed=0", 0);
 */
#ifndef SC_IO_WAV_H
#define SC_IO_WAV_H

#include <stdint.h>

#include "smoothcache.h"

typedef enum { WAV_PCM16 = 0, WAV_FLOAT32 = 1 } wav_format;

#define WAV_MAX_CHANNELS 16
#define WAV_MAX_RATE 768000
/* RIFF sizes are 32-bit: the data of one file stays below 4 GiB. */
#define WAV_MAX_BYTES 0xfffff000ull

/* wave [channels][frames] float32, planar (as sc_decode_audio writes one sample). PCM16 clips to
 * [-1, 1] and rounds to the nearest step (x * 32767); NaN is written as 0. title and comment (may
 * be NULL) go into the LIST/INFO chunk (INAM, ICMT), cleaned of invalid UTF-8 and control
 * characters and cut on a character boundary: metadata never fails a write. *clipped (may be
 * NULL) receives how many PCM16 values were outside [-1, 1]. */
sc_status wav_write(const char *path, const float *wave, int channels, int64_t frames, int rate, wav_format fmt,
                    const char *title, const char *comment, int force, int64_t *clipped);

#endif
