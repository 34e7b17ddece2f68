/* PNG output of 8-bit RGB images (generated samples, grids, plots) through libpng.
 *
 *   png_text_kv meta[] = {{"smoothcache", "model=DiT-XL-2-256,seed=0,steps=50"}};
 *   sc_status s = png_write_rgb8("out.png", 256, 256, rgb, meta, 1, force);
 *
 * The file is written to a temporary name beside `path` and renamed into place (io/file.h), so
 * a reader never sees half a PNG and, on any failure, `path` is untouched and no temporary file
 * is left behind. */
#ifndef SC_IO_PNG_H
#define SC_IO_PNG_H

#include <stdint.h>

#include "smoothcache.h"

#define PNG_MAX_DIM 16384         /* per side; 16384^2 * 3 bytes still fits an int */
#define PNG_MAX_TEXTS 32
#define PNG_MAX_TEXT_VALUE 4096   /* bytes per text value */

/* One text chunk. `key`: 1..79 bytes of printable Latin-1 (32..126, 161..255), no leading,
 * trailing or doubled spaces (the PNG rules for keywords). `value`: valid UTF-8 of at most
 * PNG_MAX_TEXT_VALUE bytes without control characters other than tab and newline; an ASCII
 * value is stored as tEXt, any other as iTXt (UTF-8 by definition, unlike tEXt's Latin-1). */
typedef struct {
    const char *key;
    const char *value;
} png_text_kv;

/* Writes rgb ([height][width][3], row-major, no padding) as an 8-bit RGB PNG. Fails with
 * SC_ERR_ARG for bad dimensions or text, SC_ERR_EXISTS if `path` exists and !force, SC_ERR_IO
 * for a failed write; texts may be NULL when n_texts == 0. */
sc_status png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb,
                         const png_text_kv *texts, int n_texts, int force);

/* Makes any text a valid PNG text value: valid UTF-8 characters are kept (tab and newline too),
 * every other byte (invalid UTF-8, a control character) becomes the four characters \xNN, and
 * the result is cut on a character boundary to fit out[cap] and PNG_MAX_TEXT_VALUE bytes, with
 * "..." when cut. Returns out. */
char *png_text_clean(const char *in, char *out, size_t cap);

#endif
