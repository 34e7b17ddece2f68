/* smoothcache tools: the file and measurement helpers the command-line program is built on, for any
 * program that writes what the engine makes and measures it (include smoothcache.h first or with
 * it). Every output is written to a temporary file beside its path and renamed into place, so a
 * reader never sees half a file; an existing file is never replaced unless `force` is 1.
 *
 *     float *lat = ...;                              // from sc_generate, [2, 4, 32, 32]
 *     const uint64_t shape[4] = {2, 4, 32, 32};
 *     if (sc_npy_write("z.npy", lat, 4, shape, 0) != SC_OK) fprintf(stderr, "%s\n", sc_last_error());
 *     uint8_t *rgb = ...;                            // from sc_decode_images, [2, 256, 256, 3]
 *     sc_images_write("grid.png", rgb, 2, 256, "seed=0", 0);
 */
#ifndef SMOOTHCACHE_TOOLS_H
#define SMOOTHCACHE_TOOLS_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- files */

/* SC_OK when `path` may be written: it does not exist, or force is 1 and it is a regular file
 * (never a symbolic link, a folder or a device); SC_ERR_EXISTS naming it otherwise. */
sc_status sc_output_check(const char *path, int force);
/* 1 if path names an existing folder. */
int sc_is_folder(const char *path);
/* Writes n bytes to path atomically. */
sc_status sc_write_file(const char *path, const void *data, size_t n, int force);

/* ---------------------------------------------------------------- arrays (.npy) */

#define SC_ARRAY_MAX_RANK 8

typedef struct {
    int rank;
    uint64_t shape[SC_ARRAY_MAX_RANK];
    uint64_t numel;
    float *data; /* free with sc_array_free */
} sc_array;

/* Reads a little-endian C-order .npy of dtype <f4 (or <f8, <i8, <i4, |u1: converted to float). */
sc_status sc_npy_read(const char *path, sc_array *out);
void sc_array_free(sc_array *a);
/* The array `name` of a .npz (numpy.savez, uncompressed), as sc_npy_read reads a .npy. */
sc_status sc_npz_read(const char *path, const char *name, sc_array *out);
/* Writes a float32 .npy. */
sc_status sc_npy_write(const char *path, const float *data, int rank, const uint64_t *shape, int force);

/* ---------------------------------------------------------------- pictures */

/* rgb [n, side, side, 3] -> path.png (the picture, or a grid of all of them; `comment` goes into
 * the PNG's text) or path.npz (uint8 NHWC as "arr_0", the layout FID evaluators read). */
sc_status sc_images_write(const char *path, const uint8_t *rgb, int n, int side, const char *comment, int force);
/* 1 if path ends in .png or .npz. */
int sc_images_path_ok(const char *path);

/* ---------------------------------------------------------------- sound (docs/AUDIO.md) */

typedef enum { SC_WAV_PCM16 = 0, SC_WAV_FLOAT32 = 1 } sc_wav_format;

/* One clip wave [channels, samples] (planar, as sc_decode_audio writes each sample) -> a WAV file
 * through libsndfile: 16-bit PCM (clipped to [-1, 1]) or 32-bit float. title and comment (may be
 * NULL) go into the file's INFO chunk, cleaned of invalid UTF-8 and control characters. clipped
 * (may be NULL) receives the count of PCM values that were outside [-1, 1]. */
sc_status sc_wav_write(const char *path, const float *wave, int channels, int64_t samples, int sample_rate,
                       sc_wav_format format, const char *title, const char *comment, int force, int64_t *clipped);

/* The log-mel spectrogram of a clip, channels averaged first (librosa's defaults: n_fft 2048,
 * hop 512, centred frames padded with zeros, periodic Hann window, 128 Slaney mel bands from 0 Hz
 * to half the rate; decibels relative to the clip's maximum, floored 80 dB below it).
 * db [SC_MEL_BANDS, sc_spectrogram_frames(samples)]. */
#define SC_MEL_BANDS 128
int64_t sc_spectrogram_frames(int64_t samples);
sc_status sc_spectrogram(const float *wave, int channels, int64_t samples, int sample_rate, float *db);
/* n clips wave [n, channels, samples] -> path.png (one clip: frames wide, 2 x 128 rows high, low
 * frequencies at the bottom, -80..0 dB in the magma colours) or path.npy (every clip's decibels,
 * float32 [n, 128, frames]). comment goes into the PNG's text. */
sc_status sc_spectrogram_write(const char *path, const float *wave, int n, int channels, int64_t samples,
                               int sample_rate, const char *comment, int force);

/* The shipped audio model's sounds (tools/audiodemo/check.py, docs/AUDIODEMO.md): 1 when the clip
 * wave [channels, samples] (planar, at least 8 kHz) sounds like what the caption names (a steady or
 * tremolo tone at a note C4..A5, a major or minor chord, a noise burst, a rising or falling
 * sweep, a slow or fast rhythm of clicks; "short" and "long" for tones and noise bursts), 0 when
 * not, -1 when the caption names no sound the checker knows (-2: out of memory). */
int sc_audiodemo_hears(const float *wave, int channels, int64_t samples, int sample_rate, const char *caption);

/* A .npz of one uint8 array written piece by piece (50,000 samples do not fit in memory): open
 * with the final shape, write exactly its element count in any number of calls, then close
 * (renamed into place) or abort (nothing left behind). Both free the writer. */
typedef struct sc_npz_writer sc_npz_writer;
sc_status sc_npz_writer_open(const char *path, const char *array_name, int rank, const uint64_t *shape, int force,
                             sc_npz_writer **out);
sc_status sc_npz_writer_write(sc_npz_writer *w, const uint8_t *data, size_t n);
sc_status sc_npz_writer_close(sc_npz_writer *w);
void sc_npz_writer_abort(sc_npz_writer *w);

/* The offset of the first byte of s[0 .. n) that does not start a well-formed UTF-8 character
 * (no overlong forms, surrogates or code points past U+10FFFF), or n when all of it is valid. */
size_t sc_utf8_check(const char *s, size_t n);

/* What the file at path is, told from its bytes and, for JSON, its keys: "a PNG image", "a
 * SmoothCache schedule", "a SmoothCache calibration file (error curves)", "a .npz archive of
 * arrays", "a text file", "missing"... Written into buf (NUL-terminated), which is returned. */
const char *sc_describe_file(const char *path, char *buf, size_t cap);

/* Removes the temporary files of the outputs this process is writing (each output is written
 * beside its final path as ".NAME.tmp.PID.XXXXXX" and renamed into place when complete).
 * Async-signal-safe: meant for a program's SIGINT / SIGTERM handler, after which the program
 * should end. A file left by a process that was killed outright is removed by the next output
 * written to the same path. */
void sc_remove_temporary_files(void);

/* Several arrays from memory in one .npz (numpy.load(path)[name]); dtype "<f4", "<i4" or "|u1";
 * up to 16 arrays, 4 GiB in all. */
typedef struct {
    const char *name;
    const char *dtype;
    int rank;
    const uint64_t *shape;
    const void *data;
} sc_npz_array;
sc_status sc_npz_write(const char *path, int n, const sc_npz_array *arrays, int force);

/* ---------------------------------------------------------------- sharded sampling (docs/SCALE.md) */

/* 16 lowercase hex digits identifying the weights a model / VAE was loaded from (every tensor's
 * name, dtype, shape and bytes; not the files' layout). The model's is computed on the call
 * (reading its files once, about 1 s for DiT-XL/2), the VAE's at its load. */
sc_status sc_model_fingerprint(const sc_model *m, char hex[17]);
void sc_vae_fingerprint(const sc_vae *v, char hex[17]);

/* Which shard this process is, from the command line or the launcher's environment. */
typedef struct {
    int index, count;     /* 0 <= index < count */
    const char *source;   /* "--shard", "OpenMPI", "PMI", "Slurm tasks", "Slurm array", "Kubernetes" */
} sc_shard;
/* SC_OK when the cache policy spec "NAME[:key=value,...]" names a policy and options it takes,
 * with valid values (and, for options that name files, files that load): what sc_generate would
 * refuse at its start, checked before any work. */
sc_status sc_cache_spec_check(const char *spec);

/* spec: "I/N" (--shard; NULL when absent); count_hint: the count for launchers that only give an
 * index (Kubernetes' JOB_COMPLETION_INDEX: --shards N), 0 when none. With neither a spec nor a
 * launcher of more than one task, *out = {0, 1, NULL}. Errors name the variable or flag. */
sc_status sc_shard_detect(const char *spec, int count_hint, sc_shard *out);
/* Images [*begin, *end) of shard `index` of `count` for num images in batches of `batch`: whole
 * global batches, so every image is computed in the same batch whatever the count. */
void sc_shard_range(uint64_t num, int batch, int index, int count, uint64_t *begin, uint64_t *end);

/* What a shard's manifest records (written beside its .npz once that is complete). */
typedef struct {
    int index, count;
    uint64_t begin, end, num;
    int batch, steps, side;
    uint64_t seed;
    double cfg;
    const char *sampler, *dtype, *cache; /* cache: NULL or "" for none */
    const char *model;
    const char *model_fingerprint, *vae_fingerprint; /* vae: "" without one */
} sc_shard_info;
/* The shard's file names for the run's output `out` (".npz"): npz and json, each cap bytes. */
sc_status sc_shard_names(const char *out, int index, int count, char *npz, char *json, size_t cap);
sc_status sc_shard_manifest_write(const char *json, const sc_shard_info *info, int force);
/* 1 when json is the complete manifest of exactly this shard of this run (same settings, range
 * and fingerprints) and npz exists: a rerun may skip it. 0 when there is no manifest, or this
 * shard's but incomplete or without its .npz: a rerun makes (and replaces) it. -1 when json is
 * another run's or range's manifest, or unreadable: why says what differs. */
int sc_shard_is_complete(const char *json, const char *npz, const sc_shard_info *info, char *why, size_t cap);
/* Merges complete shards (their .npz paths, manifests beside them) into out: the same run's,
 * tiling [0, num) without gap or overlap, streamed in index order in bounded memory. */
sc_status sc_shard_merge(const char *out, const char *const *shards, int n, int force, uint64_t *images);

/* ---------------------------------------------------------------- quality */

/* 10 log10(255^2 / MSE) over n bytes; +inf when identical. */
double sc_psnr(const uint8_t *a, const uint8_t *b, size_t n);
/* Mean SSIM of two images [h][w][ch] (11x11 Gaussian window, sigma 1.5, as scikit-image). */
double sc_ssim(const uint8_t *a, const uint8_t *b, int w, int h, int ch);
/* ||a - b||_2 / ||b||_2 (0 when both are zero). */
double sc_rel_l2(const float *a, const float *b, size_t n);

/* The shipped demo model's data set: the class (0..9) its analytic classifier sees in a 32x32 RGB
 * picture [32][32][3], or -1 when it sees no valid object. */
#define SC_DEMO_SIDE 32
int sc_demo_classify(const uint8_t *img);
/* The shipped text-to-image model's pictures (models/textdemo): 1 when the 32x32 RGB picture shows
 * the prompt's colour and shape (and its background, dark or light, when the prompt names one), 0
 * when not, -1 when the prompt names no colour or shape of that data set. */
int sc_textdemo_shows(const uint8_t *img, const char *prompt);

#ifdef __cplusplus
}
#endif
#endif
