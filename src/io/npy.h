/* NumPy .npy arrays of float32 (read and write), for --latents-in / --latents-out and fixtures. */
#ifndef SC_IO_NPY_H
#define SC_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

#define NPY_MAX_RANK 8

typedef struct {
    int rank;
    uint64_t shape[NPY_MAX_RANK];
    uint64_t numel;
    float *data; /* mem_alloc'ed; free with npy_free */
} npy_array;

/* An array's header and a view of its bytes (no copy): for arrays read in place (merge). */
typedef struct {
    int rank;
    uint64_t shape[NPY_MAX_RANK];
    uint64_t numel;
    char descr[8];        /* "<f4", "<f8", "<i4", "<i8", "|u1" */
    int elem_size;
    const uint8_t *data;  /* numel * elem_size bytes, inside the parsed image */
} npy_view;

/* Validates an in-memory .npy image like npy_parse (the same dtypes, the data size checked
 * against the shape) and points into it. */
sc_status npy_view_parse(const uint8_t *bytes, uint64_t size, const char *what, npy_view *v);

/* Reads a little-endian C-order array of dtype <f4 (or <f8 / <i8 / <i4 / |u1, converted to float). */
sc_status npy_read(const char *path, npy_array *out);
/* Parses an in-memory .npy image (fuzz entry); `what` names it in errors. */
sc_status npy_parse(const uint8_t *bytes, uint64_t size, const char *what, npy_array *out);
void npy_free(npy_array *a);

/* Writes a float32 array atomically (temporary file + rename); refuses to overwrite unless force. */
sc_status npy_write_f32(const char *path, const float *data, int rank, const uint64_t *shape, int force);

#endif
