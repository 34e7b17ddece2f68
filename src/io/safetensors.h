/* safetensors reader: the whole header is validated (docs/FORMATS.md, "Weight files"; docs/RELIABILITY.md) before a
 * single tensor is touched; tensors are then served zero-copy (aligned F32) or converted to F32. */
#ifndef SC_IO_SAFETENSORS_H
#define SC_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io/file.h"
#include "smoothcache.h"

#define ST_MAX_HEADER 100000000ull
#define ST_MAX_RANK 8
#define ST_MAX_VALUE ((1ull << 48) - 1)
#define ST_MAX_TENSORS 65536
#define ST_MAX_METADATA 4096
#define ST_MAX_NAME 512

typedef enum {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_F8_E8M0, ST_F8_E4M3FNUZ, ST_F8_E5M2FNUZ,
    ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32, ST_I64, ST_U64, ST_F64, ST_C64,
    ST_F4, ST_F6_E2M3, ST_F6_E3M2,
    ST_NDTYPES
} st_dtype;

typedef struct {
    const char *name;      /* owned by the st_file */
    st_dtype dtype;
    int rank;
    uint64_t shape[ST_MAX_RANK];
    uint64_t numel;
    uint64_t begin, end;   /* byte range relative to the data buffer (torch files: the whole file) */
} st_tensor;

typedef struct st_file st_file;

/* Maps and validates a file. */
sc_status st_open(const char *path, st_file **out);
/* Validates an in-memory image of a file (the fuzz target's entry). `what` names it in errors.
 * The bytes must outlive the st_file. */
sc_status st_parse(const uint8_t *bytes, uint64_t size, const char *what, st_file **out);
void st_close(st_file *f);

const char *st_path(const st_file *f);
size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);          /* in name order */
const st_tensor *st_find(const st_file *f, const char *name); /* NULL if absent */
/* Value of a __metadata__ key, or NULL. */
const char *st_metadata(const st_file *f, const char *key);
const uint8_t *st_data(const st_file *f, const st_tensor *t);
/* Gives back the resident pages of t's bytes when they lie in the file's read-only mapping (they
 * are read again from the file if ever touched); nothing for a file parsed from memory. For
 * tensors already converted into a copy of their own. */
void st_release(const st_file *f, const st_tensor *t);
/* h mixed with every tensor's name, dtype, shape and bytes, in name order: a fingerprint of what
 * the file holds (not of its layout), for telling runs on different weights apart. */
uint64_t st_fingerprint(const st_file *f, uint64_t h);

const char *st_dtype_name(st_dtype d);
/* Bits per element (4 for F4, 6 for the F6 types); 0 for an invalid value. */
int st_dtype_bits(st_dtype d);

/* The tensor as float32. Zero-copy for 4-byte-aligned F32 (*owned = NULL); F16, BF16 and
 * unaligned F32 are converted into a new buffer returned in *owned (free with mem_free). */
sc_status st_to_f32(const st_file *f, const st_tensor *t, const float **out, float **owned);

/* A tensor another container located (the torch reader): its bytes are
 * image[offset, offset + numel * element size). */
typedef struct {
    const char *name;      /* copied */
    st_dtype dtype;
    int rank;
    uint64_t shape[ST_MAX_RANK];
    uint64_t offset;       /* byte offset in the image */
} st_tensor_src;

/* Builds an st_file over tensors already located in the image bytes[0, size): checks names
 * (non-empty, at most ST_MAX_NAME bytes, unique), rank, dims (at most 2^48-1), sizes (checked)
 * and that every byte range lies inside the image. Ranges may overlap (shared storages); st_data
 * points into the image. On success a non-NULL `map` (the image's mapping) is taken over and
 * unmapped by st_close; on failure it stays the caller's. */
sc_status st_from_entries(const char *what, const uint8_t *bytes, uint64_t size, const st_tensor_src *entries,
                          size_t n, file_mapping *map, st_file **out);

/* Writes the tensors of `src` as a clean safetensors file (src/io/safetensors_write.c): header
 * keys in name order with __metadata__ {"format":"pt"}, padded with spaces to a multiple of 8;
 * data packed from the widest dtype down (then by name), so each tensor is aligned to its
 * element size; dtypes and bytes as stored. Written atomically; SC_ERR_EXISTS if `path` exists
 * and !force. */
sc_status st_write(const char *path, const st_file *src, int force);
/* The same with the F32, F16 and BF16 tensors written as `to` (ST_BF16: rounded to nearest even;
 * ST_F32: exactly); every other dtype as stored. */
sc_status st_write_floats_as(const char *path, const st_file *src, int force, st_dtype to);

#endif
