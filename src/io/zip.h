/* Read-only ZIP reader over bytes already in memory (a mapped file): the central directory is
 * parsed and validated, nothing is decompressed or extracted. Only what torch.save writes is
 * accepted (docs/FORMATS.md, "Weight files"; docs/RELIABILITY.md):
 *   - ZIP64 end record + locator and ZIP64 extra fields; sizes and offsets come from the central
 *     directory (entries may use data descriptors), the local header gives only the lengths of
 *     its name and extra field: data offset = local offset + 30 + name_len + extra_len;
 *   - entries stored (method 0) and unencrypted, their data inside the file and before the
 *     central directory, no two entries overlapping;
 *   - names: valid UTF-8, non-empty, no NUL, no '\', not absolute, no empty, '.' or '..'
 *     component, unique, and equal in the local and the central header.
 * Usage:
 *     zip_archive *z;
 *     if (zip_parse(bytes, size, "model.pt", &z)) { ...sc_last_error()... }
 *     const zip_entry *e = zip_find(z, "archive/data.pkl");   // bytes + e->offset, e->size
 *     zip_free(z);
 */
#ifndef SC_IO_ZIP_H
#define SC_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "smoothcache.h"

#define ZIP_MAX_ENTRIES 1000000
#define ZIP_MAX_NAME 1024

typedef struct {
    const char *name;      /* NUL-terminated copy, owned by the archive */
    uint64_t local_offset; /* of the local header */
    uint64_t offset;       /* of the data */
    uint64_t size;
} zip_entry;

typedef struct zip_archive zip_archive;

/* Validates the archive in bytes[0, size). `what` names it in errors. The bytes must outlive the
 * archive (entries point into them only through offsets). */
sc_status zip_parse(const uint8_t *bytes, uint64_t size, const char *what, zip_archive **out);
void zip_free(zip_archive *z);

size_t zip_count(const zip_archive *z);
const zip_entry *zip_at(const zip_archive *z, size_t i);          /* in name order */
const zip_entry *zip_find(const zip_archive *z, const char *name); /* NULL if absent */

#endif
