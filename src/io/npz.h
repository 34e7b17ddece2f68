/* NumPy .npz output of uint8 arrays: the sample batches (N x H x W x 3) that openai/guided-diffusion's
 * evaluator.py reads with `numpy.load(path)["arr_0"]` for FID / IS / precision / recall.
 *
 * The file is a ZIP archive of one stored (uncompressed) entry "<name>.npy" holding a version 1.0
 * .npy of dtype '|u1' in C order. Entries of 4 GiB - 1 bytes or more (50k samples at 256 x 256 are
 * 9.8 GB) use the ZIP64 extensions. The data is streamed from the caller's array (never copied)
 * into a temporary file renamed into place (io/file.h): on failure `path` is untouched. */
#ifndef SC_IO_NPZ_H
#define SC_IO_NPZ_H

#include <stdint.h>

#include "io/file.h"
#include "smoothcache.h"

#define NPZ_MAX_RANK 8
#define NPZ_ZIP64_AT 0xffffffffull /* entry sizes from here on need ZIP64 */

/* array_name: 1..64 characters of [A-Za-z0-9_] ("arr_0" for evaluator.py); shape: rank entries
 * (0 <= rank <= NPZ_MAX_RANK), data: their product bytes (may be NULL when that is 0). Fails with
 * SC_ERR_ARG for a bad name/shape, SC_ERR_EXISTS if `path` exists and !force, SC_ERR_IO. */
sc_status npz_write_u8(const char *path, const char *array_name, const uint8_t *data, int rank,
                       const uint64_t *shape, int force);

/* npz_write_u8 with the entry size from which ZIP64 is used given (NPZ_ZIP64_AT in production;
 * tests pass 0 to exercise the ZIP64 layout without writing 4 GiB). */
sc_status npz_write_u8_zip64_at(const char *path, const char *array_name, const uint8_t *data, int rank,
                                const uint64_t *shape, int force, uint64_t zip64_at);

/* Writing an array piece by piece (50,000 images do not fit in memory): open with the final
 * shape, write exactly numel bytes in any number of calls, close (CRC patched, directory written,
 * file renamed into place) or abort (temporary file removed). */
typedef struct {
    file_out o;
    char entry_name[80];
    uint32_t nlen;
    uint64_t numel, entry, written;
    unsigned long crc;
    int z64, open;
} npz_stream;

sc_status npz_stream_open(npz_stream *z, const char *path, const char *array_name, int rank, const uint64_t *shape,
                          int force, uint64_t zip64_at);
sc_status npz_stream_write(npz_stream *z, const uint8_t *data, size_t n);
sc_status npz_stream_close(npz_stream *z);
void npz_stream_abort(npz_stream *z);

/* Several arrays in one .npz (numpy.load reads them by name): dtype "<f4", "<i4" or "|u1". */
typedef struct {
    const char *name;
    const char *dtype;
    int rank;
    const uint64_t *shape;
    const void *data;
} npz_array;

sc_status npz_write_arrays(const char *path, int n, const npz_array *arrays, int force);

#endif
