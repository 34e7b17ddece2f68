/* What kind of file this is, told from its bytes (and, for JSON, its top-level keys), so that a
 * file given where another kind was expected is named for what it is: "a PNG image", "a
 * SmoothCache schedule", "UTF-8 text". Only describes; parsers stay strict on their own. */
#ifndef SC_IO_SNIFF_H
#define SC_IO_SNIFF_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KIND_UNKNOWN,      /* binary data of no kind known here */
    KIND_MISSING,      /* nothing at that path */
    KIND_FOLDER,
    KIND_SPECIAL,      /* a FIFO, socket or device */
    KIND_EMPTY,
    KIND_PNG,
    KIND_JPEG,
    KIND_NPY,
    KIND_NPZ,          /* a ZIP of .npy entries */
    KIND_TORCH_ZIP,    /* torch.save's ZIP (data.pkl) */
    KIND_ZIP,          /* another ZIP */
    KIND_PICKLE,       /* a bare pickle: torch's legacy format */
    KIND_SAFETENSORS,
    KIND_GZIP,
    KIND_WAV,
    KIND_JSON,
    KIND_TEXT          /* UTF-8 text that is not JSON */
} file_kind;

/* The kind of the bytes b[0..n) (the start of a file of file_size bytes). */
file_kind sniff_bytes(const uint8_t *b, size_t n, uint64_t file_size);
/* The kind of the file at path (reads at most its first 64 KiB). */
file_kind sniff_path(const char *path);
/* "a PNG image", "a .npz archive of arrays"... for messages. */
const char *sniff_kind_text(file_kind k);
/* For messages: what the file at path is, as precisely as can be told: for JSON its role ("a
 * SmoothCache calibration file (error curves)", "a SmoothCache schedule", "a diffusers model
 * config (DiTTransformer2DModel)"...), else sniff_kind_text. Writes into buf, returns buf. */
const char *sniff_describe(const char *path, char *buf, size_t cap);

#endif
