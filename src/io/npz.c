/* Layout written (APPNOTE.TXT 6.3; all fields little-endian):
 *   local file header (30) + name + [ZIP64 extra (20): uncompressed, compressed size]
 *   entry: .npy header (multiple of 64 bytes) + data, stored
 *   central directory header (46) + name + [ZIP64 extra (20)]
 *   [ZIP64 end of central directory record (56) + its locator (20)]
 *   end of central directory record (22)
 * The CRC covers the entry and is only known after streaming it, so the local header's CRC field
 * is patched in place (pwrite) rather than using a data descriptor, which some readers of stored
 * entries handle badly. */
#include "io/npz.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "io/file.h"

#define NPZ_MAX_NAME 64
#define CHUNK ((size_t)1 << 20) /* CRC then write per chunk, so the write reads cached bytes */
#define DOS_DATE_1980_01_01 0x0021 /* a fixed timestamp: same array, same file bytes */
#define UNIX_FILE_0644 (0100644u << 16)
#define MADE_BY_UNIX (3u << 8)

static uint8_t *put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

/* The .npy v1.0 header: magic, version, 2-byte length, dict padded with spaces and ended by '\n'
 * so that the data starts at a multiple of 64 bytes. Returns its length. */
static size_t npy_header(uint8_t *out /* 512 */, const char *descr, int rank, const uint64_t *shape)
{
    char dict[400];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < rank; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%llu%s", (unsigned long long)shape[i],
                        rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    SC_ASSERT(len > 0 && (size_t)len < sizeof dict); /* 8 dims of 20 digits fit */
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    put16(out + 8, (uint32_t)(total - 10));
    memcpy(out + 10, dict, (size_t)len);
    memset(out + 10 + len, ' ', total - 10 - (size_t)len - 1);
    out[total - 1] = '\n';
    return total;
}

static sc_status check_args(const char *path, const char *name, const uint8_t *data, int rank,
                            const uint64_t *shape, uint64_t *numel)
{
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty output path");
    size_t nlen = name ? strlen(name) : 0;
    if (nlen < 1 || nlen > NPZ_MAX_NAME || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != nlen)
        return err_fail(SC_ERR_ARG, "%s: array name must be 1..%d characters of A-Z a-z 0-9 _", path,
                       NPZ_MAX_NAME);
    if (rank < 0 || rank > NPZ_MAX_RANK || (rank > 0 && !shape))
        return err_fail(SC_ERR_ARG, "%s: array rank %d is not in 0..%d", path, rank, NPZ_MAX_RANK);
    if (!ck_prod(shape, rank, numel))
        return err_fail(SC_ERR_ARG, "%s: array shape size overflows 64 bits", path);
    size_t n;
    if (!ck_to_size(*numel, &n))
        return err_fail(SC_ERR_ARG, "%s: array of %llu bytes does not fit in memory", path,
                       (unsigned long long)*numel);
    if (*numel > 0 && !data) return err_fail(SC_ERR_ARG, "%s: no array data given", path);
    return SC_OK;
}

sc_status npz_stream_open(npz_stream *z, const char *path, const char *array_name, int rank, const uint64_t *shape,
                          int force, uint64_t zip64_at)
{
    memset(z, 0, sizeof *z);
    z->o.fd = -1;
    static const uint8_t any = 0; /* the data comes later: only the shape is checked now */
    sc_status s = check_args(path, array_name, &any, rank, shape, &z->numel);
    if (s) return s;
    uint8_t npy_head[512];
    size_t hlen = npy_header(npy_head, "|u1", rank, shape);
    snprintf(z->entry_name, sizeof z->entry_name, "%s.npy", array_name);
    z->nlen = (uint32_t)strlen(z->entry_name);

    uint64_t cd_off;
    if (!ck_add(z->numel, hlen, &z->entry) || !ck_add(z->entry, 30 + z->nlen + 20, &cd_off))
        return err_fail(SC_ERR_ARG, "%s: array too large for a ZIP archive", path);
    /* All or nothing: ZIP64 sizes, and the ZIP64 end records for the central directory's offset,
     * which lies past the entry and so past 4 GiB too when the entry is that large. */
    z->z64 = z->entry >= zip64_at || cd_off >= 0xffffffffull;
    const uint32_t version = z->z64 ? 45 : 20; /* 4.5: ZIP64; 2.0: plain stored entries */
    const uint32_t size32 = z->z64 ? 0xffffffffu : (uint32_t)z->entry;
    const uint32_t extra_len = z->z64 ? 20 : 0;

    uint8_t lh[30 + NPZ_MAX_NAME + 8 + 20], *p = lh;
    p = put32(p, 0x04034b50);
    p = put16(p, version);
    p = put16(p, 0);                   /* flags */
    p = put16(p, 0);                   /* method: stored */
    p = put16(p, 0);                   /* time 00:00:00 */
    p = put16(p, DOS_DATE_1980_01_01);
    p = put32(p, 0);                   /* CRC-32, patched after the data (offset 14) */
    p = put32(p, size32);              /* compressed size */
    p = put32(p, size32);              /* uncompressed size */
    p = put16(p, z->nlen);
    p = put16(p, extra_len);
    memcpy(p, z->entry_name, z->nlen);
    p += z->nlen;
    if (z->z64) { /* the local header's ZIP64 extra holds both sizes, uncompressed first */
        p = put16(p, 0x0001);
        p = put16(p, 16);
        p = put64(p, z->entry);
        p = put64(p, z->entry);
    }
    if ((s = file_out_open(&z->o, path, force))) return s;
    z->crc = crc32_z(0L, Z_NULL, 0);
    s = file_out_write(&z->o, lh, (size_t)(p - lh));
    if (!s) {
        z->crc = crc32_z(z->crc, npy_head, hlen);
        s = file_out_write(&z->o, npy_head, hlen);
    }
    z->open = !s; /* file_out_write removed the temporary file on failure */
    return s;
}

sc_status npz_stream_write(npz_stream *z, const uint8_t *data, size_t n)
{
    SC_ASSERT(z->open);
    if (n > z->numel - z->written) {
        npz_stream_abort(z);
        return err_fail(SC_ERR_ARG, "%s: more data than the array's shape holds", z->o.path);
    }
    sc_status s = SC_OK;
    for (size_t done = 0; !s && done < n;) {
        size_t k = n - done < CHUNK ? n - done : CHUNK;
        z->crc = crc32_z(z->crc, data + done, k);
        s = file_out_write(&z->o, data + done, k);
        done += k;
    }
    if (s) z->open = 0;
    z->written += n;
    return s;
}

void npz_stream_abort(npz_stream *z)
{
    if (z->open) file_out_abort(&z->o);
    z->open = 0;
}

sc_status npz_stream_close(npz_stream *z)
{
    SC_ASSERT(z->open);
    const char *path = z->o.path;
    if (z->written != z->numel) {
        err_fail(SC_ERR_ARG, "%s: %llu of %llu array bytes written", path, (unsigned long long)z->written,
                (unsigned long long)z->numel);
        npz_stream_abort(z);
        return SC_ERR_ARG;
    }
    uint8_t crc_le[4];
    put32(crc_le, (uint32_t)z->crc);
    ssize_t w;
    while ((w = pwrite(z->o.fd, crc_le, 4, 14)) < 0 && errno == EINTR) {}
    if (w != 4) {
        int e = w < 0 ? errno : EIO;
        npz_stream_abort(z);
        return err_fail(SC_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    const uint32_t version = z->z64 ? 45 : 20;
    const uint32_t size32 = z->z64 ? 0xffffffffu : (uint32_t)z->entry;
    const uint32_t extra_len = z->z64 ? 20 : 0;
    const uint64_t cd_off = 30 + z->nlen + extra_len + z->entry, cd_size = 46 + z->nlen + extra_len;
    uint8_t tail[46 + NPZ_MAX_NAME + 8 + 20 + 56 + 20 + 22], *p = tail;
    p = put32(p, 0x02014b50);
    p = put16(p, MADE_BY_UNIX | version);
    p = put16(p, version);
    p = put16(p, 0);                   /* flags */
    p = put16(p, 0);                   /* stored */
    p = put16(p, 0);
    p = put16(p, DOS_DATE_1980_01_01);
    p = put32(p, (uint32_t)z->crc);
    p = put32(p, size32);
    p = put32(p, size32);
    p = put16(p, z->nlen);
    p = put16(p, extra_len);
    p = put16(p, 0);                   /* comment length */
    p = put16(p, 0);                   /* disk number start */
    p = put16(p, 0);                   /* internal attributes */
    p = put32(p, UNIX_FILE_0644);
    p = put32(p, 0);                   /* local header offset: always 0, so never in the extra */
    memcpy(p, z->entry_name, z->nlen);
    p += z->nlen;
    if (z->z64) { /* only the fields set to 0xffffffff above, in APPNOTE order */
        p = put16(p, 0x0001);
        p = put16(p, 16);
        p = put64(p, z->entry);
        p = put64(p, z->entry);
        uint64_t eocd64_off = cd_off + cd_size;
        p = put32(p, 0x06064b50);      /* ZIP64 end of central directory record */
        p = put64(p, 56 - 12);         /* its size, less the signature and this field */
        p = put16(p, MADE_BY_UNIX | version);
        p = put16(p, version);
        p = put32(p, 0);               /* this disk */
        p = put32(p, 0);               /* disk with the central directory */
        p = put64(p, 1);               /* entries on this disk */
        p = put64(p, 1);               /* entries in all */
        p = put64(p, cd_size);
        p = put64(p, cd_off);
        p = put32(p, 0x07064b50);      /* ZIP64 end of central directory locator */
        p = put32(p, 0);               /* disk with the ZIP64 record */
        p = put64(p, eocd64_off);
        p = put32(p, 1);               /* disks in all */
    }
    p = put32(p, 0x06054b50);          /* end of central directory record */
    p = put16(p, 0);
    p = put16(p, 0);
    p = put16(p, 1);
    p = put16(p, 1);
    p = put32(p, (uint32_t)cd_size);
    p = put32(p, z->z64 ? 0xffffffffu : (uint32_t)cd_off); /* ZIP64: readers take the record's */
    p = put16(p, 0);                   /* comment length */
    z->open = 0;
    sc_status s = file_out_write(&z->o, tail, (size_t)(p - tail));
    if (s) return s;
    return file_out_commit(&z->o);
}

sc_status npz_write_u8_zip64_at(const char *path, const char *array_name, const uint8_t *data, int rank,
                                const uint64_t *shape, int force, uint64_t zip64_at)
{
    uint64_t numel = 0;
    sc_status s = check_args(path, array_name, data, rank, shape, &numel);
    if (s) return s;
    npz_stream z;
    if ((s = npz_stream_open(&z, path, array_name, rank, shape, force, zip64_at))) return s;
    if ((s = npz_stream_write(&z, data, (size_t)numel))) return s;
    return npz_stream_close(&z);
}

sc_status npz_write_u8(const char *path, const char *array_name, const uint8_t *data, int rank,
                       const uint64_t *shape, int force)
{
    return npz_write_u8_zip64_at(path, array_name, data, rank, shape, force, NPZ_ZIP64_AT);
}

/* Several arrays of any of three dtypes, from memory: local header + .npy per entry (CRC known
 * up front), then the central directory. Without ZIP64: the whole archive stays under 4 GiB. */
sc_status npz_write_arrays(const char *path, int n, const npz_array *arrays, int force)
{
    if (n < 1 || n > 16) return err_fail(SC_ERR_ARG, "%s: %d arrays (1..16)", path, n);
    uint8_t heads[16][512];
    size_t hlen[16];
    uint64_t bytes[16], offset[16], total = 0;
    unsigned long crc[16];
    for (int i = 0; i < n; i++) {
        const npz_array *a = &arrays[i];
        size_t esize = !strcmp(a->dtype, "<f4") || !strcmp(a->dtype, "<i4") ? 4 : !strcmp(a->dtype, "|u1") ? 1 : 0;
        if (!esize) return err_fail(SC_ERR_ARG, "%s: array dtype \"%s\" (<f4, <i4 or |u1)", path, a->dtype);
        uint64_t numel = 0;
        sc_status s = check_args(path, a->name, (const uint8_t *)a->data, a->rank, a->shape, &numel);
        if (s) return s;
        if (!ck_mul(numel, esize, &bytes[i])) return err_fail(SC_ERR_ARG, "%s: array too large", path);
        hlen[i] = npy_header(heads[i], a->dtype, a->rank, a->shape);
        crc[i] = crc32_z(crc32_z(0L, Z_NULL, 0), heads[i], hlen[i]);
        for (uint64_t done = 0; done < bytes[i];) {
            const size_t k = bytes[i] - done < CHUNK ? (size_t)(bytes[i] - done) : CHUNK;
            crc[i] = crc32_z(crc[i], (const uint8_t *)a->data + done, k);
            done += k;
        }
        offset[i] = total;
        total += 30 + strlen(a->name) + 4 + hlen[i] + bytes[i];
        if (total >= 0xffffffffull)
            return err_fail(SC_ERR_ARG, "%s: the arrays come to more than 4 GiB; write fewer at a time", path);
    }
    file_out o;
    sc_status s = file_out_open(&o, path, force);
    if (s) return s;
    for (int i = 0; i < n && !s; i++) {
        char name[NPZ_MAX_NAME + 8];
        snprintf(name, sizeof name, "%s.npy", arrays[i].name);
        const uint32_t nlen = (uint32_t)strlen(name), size = (uint32_t)(hlen[i] + bytes[i]);
        uint8_t lh[30 + NPZ_MAX_NAME + 8], *p = lh;
        p = put32(p, 0x04034b50);
        p = put16(p, 20);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, DOS_DATE_1980_01_01);
        p = put32(p, (uint32_t)crc[i]);
        p = put32(p, size);
        p = put32(p, size);
        p = put16(p, nlen);
        p = put16(p, 0);
        memcpy(p, name, nlen);
        p += nlen;
        s = file_out_write(&o, lh, (size_t)(p - lh));
        if (!s) s = file_out_write(&o, heads[i], hlen[i]);
        if (!s && bytes[i]) s = file_out_write(&o, arrays[i].data, (size_t)bytes[i]);
    }
    uint64_t cd_size = 0;
    for (int i = 0; i < n && !s; i++) {
        char name[NPZ_MAX_NAME + 8];
        snprintf(name, sizeof name, "%s.npy", arrays[i].name);
        const uint32_t nlen = (uint32_t)strlen(name), size = (uint32_t)(hlen[i] + bytes[i]);
        uint8_t ch[46 + NPZ_MAX_NAME + 8], *p = ch;
        p = put32(p, 0x02014b50);
        p = put16(p, MADE_BY_UNIX | 20);
        p = put16(p, 20);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, DOS_DATE_1980_01_01);
        p = put32(p, (uint32_t)crc[i]);
        p = put32(p, size);
        p = put32(p, size);
        p = put16(p, nlen);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put32(p, UNIX_FILE_0644);
        p = put32(p, (uint32_t)offset[i]);
        memcpy(p, name, nlen);
        p += nlen;
        cd_size += (uint64_t)(p - ch);
        s = file_out_write(&o, ch, (size_t)(p - ch));
    }
    if (!s) {
        uint8_t end[22], *p = end;
        p = put32(p, 0x06054b50);
        p = put16(p, 0);
        p = put16(p, 0);
        p = put16(p, (uint32_t)n);
        p = put16(p, (uint32_t)n);
        p = put32(p, (uint32_t)cd_size);
        p = put32(p, (uint32_t)total);
        p = put16(p, 0);
        s = file_out_write(&o, end, (size_t)(p - end));
    }
    if (s) return s; /* file_out_write removed the temporary file */
    return file_out_commit(&o);
}
