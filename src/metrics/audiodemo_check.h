/* The analytic checker of the shipped audio model's sounds (tools/audiodemo/check.py, ported
 * exactly): what kind of sound a waveform holds (a tone and its note and timbre, a chord, a noise
 * burst, a sweep, a rhythm of clicks; how long it lasts), and whether that is what a caption
 * names. */
#ifndef SC_METRICS_AUDIODEMO_CHECK_H
#define SC_METRICS_AUDIODEMO_CHECK_H

#include <stdint.h>

enum { AD_TONE = 0, AD_CHORD = 1, AD_NOISE = 2, AD_SWEEP = 3, AD_RHYTHM = 4 };

/* check.py's read(): kind (AD_*, -1 nothing clear), midi (a tone's note), timbre (0 steady,
 * 1 tremolo), root (a chord's lowest note, MIDI), quality (0 major, 1 minor), direction (0 rising,
 * 1 falling), rate (0 slow, 1 fast), seconds (the sound's length); -1 where it does not apply. */
typedef struct {
    int kind, midi, timbre, root, quality, direction, rate;
    double seconds;
} audiodemo_heard;

/* wave [channels, samples] (planar) at sample_rate. 0, or -2 when out of memory. */
int audiodemo_read(const float *wave, int channels, int64_t samples, int sample_rate, audiodemo_heard *h);
/* 1 when the caption's sound is heard, 0 when not, -1 when the caption names no known sound,
 * -2 when out of memory. */
int audiodemo_hears(const float *wave, int channels, int64_t samples, int sample_rate, const char *caption);

#endif
