#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/utf8.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define EOCD_LEN 22
#define EOCD64_LEN 56
#define LOCATOR64_LEN 20
#define CENTRAL_LEN 46
#define LOCAL_LEN 30
#define MAX_COMMENT 65535
#define FLAG_ENCRYPTED 0x0001u
#define FLAG_STRONG_ENCRYPTION 0x0040u
#define FLAG_MASKED_HEADERS 0x2000u
#define EXTRA_ZIP64 0x0001u

struct zip_archive {
    zip_entry *entries; /* sorted by name */
    size_t n;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* The end-of-central-directory values, after ZIP64 substitution. */
typedef struct {
    uint64_t count, cd_offset, cd_size;
    uint64_t cd_limit; /* where the central directory must end: the first end record */
} zip_end;

/* Finds the end record, scanning back over at most a maximal comment; the comment length must
 * reach exactly to the end of the file. */
static sc_status find_eocd(const uint8_t *b, uint64_t size, const char *what, uint64_t *pos)
{
    if (size < EOCD_LEN)
        return err_fail(SC_ERR_FORMAT, "%s: %llu bytes is too short for a ZIP archive", what, (unsigned long long)size);
    uint64_t lowest = size - EOCD_LEN > MAX_COMMENT ? size - EOCD_LEN - MAX_COMMENT : 0;
    for (uint64_t p = size - EOCD_LEN + 1; p-- > lowest;) {
        if (rd32(b + p) == SIG_EOCD && (uint64_t)rd16(b + p + 20) == size - p - EOCD_LEN) {
            *pos = p;
            return SC_OK;
        }
    }
    return err_fail(SC_ERR_FORMAT, "%s: no ZIP end-of-central-directory record (truncated, or not a ZIP archive)", what);
}

/* A 16/32-bit field of the classic end record must be the ZIP64 sentinel or agree with ZIP64. */
static int agrees(uint64_t classic, uint64_t sentinel, uint64_t z64) { return classic == sentinel || classic == z64; }

static sc_status read_end(const uint8_t *b, uint64_t size, const char *what, zip_end *end)
{
    uint64_t pos = 0;
    sc_status s = find_eocd(b, size, what, &pos);
    if (s) return s;
    const uint8_t *e = b + pos;
    uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), n_disk = rd16(e + 8), n = rd16(e + 10);
    uint64_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    end->cd_limit = pos;
    if (pos >= LOCATOR64_LEN && rd32(b + pos - LOCATOR64_LEN) == SIG_LOCATOR64) {
        const uint8_t *l = b + pos - LOCATOR64_LEN;
        uint64_t z_off = rd64(l + 8), z_end;
        if (rd32(l + 4) != 0 || rd32(l + 16) != 1)
            return err_fail(SC_ERR_FORMAT, "%s: multi-disk ZIP archives are not supported", what);
        if (!ck_add(z_off, EOCD64_LEN, &z_end) || z_end > pos - LOCATOR64_LEN || rd32(b + z_off) != SIG_EOCD64)
            return err_fail(SC_ERR_FORMAT, "%s: ZIP64 locator at byte %llu points to no ZIP64 end record (offset %llu)",
                           what, (unsigned long long)(pos - LOCATOR64_LEN), (unsigned long long)z_off);
        const uint8_t *z = b + z_off;
        uint64_t rec_end;
        if (!ck_add(z_off, 12, &rec_end) || !ck_add(rec_end, rd64(z + 4), &rec_end) ||
            rd64(z + 4) < EOCD64_LEN - 12 || rec_end > pos - LOCATOR64_LEN)
            return err_fail(SC_ERR_FORMAT, "%s: ZIP64 end record at byte %llu has a bad size field", what,
                           (unsigned long long)z_off);
        uint64_t z_disk = rd32(z + 16), z_cd_disk = rd32(z + 20), z_n_disk = rd64(z + 24), z_n = rd64(z + 32);
        uint64_t z_cd_size = rd64(z + 40), z_cd_off = rd64(z + 48);
        if (!agrees(disk, 0xFFFF, z_disk) || !agrees(cd_disk, 0xFFFF, z_cd_disk) ||
            !agrees(n_disk, 0xFFFF, z_n_disk) || !agrees(n, 0xFFFF, z_n) ||
            !agrees(cd_size, 0xFFFFFFFF, z_cd_size) || !agrees(cd_off, 0xFFFFFFFF, z_cd_off))
            return err_fail(SC_ERR_FORMAT, "%s: the ZIP end record and the ZIP64 end record disagree", what);
        disk = z_disk, cd_disk = z_cd_disk, n_disk = z_n_disk, n = z_n, cd_size = z_cd_size, cd_off = z_cd_off;
        end->cd_limit = z_off;
    } else if (n == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
        return err_fail(SC_ERR_FORMAT, "%s: ZIP end record needs ZIP64 values but there is no ZIP64 locator", what);
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n)
        return err_fail(SC_ERR_FORMAT, "%s: multi-disk ZIP archives are not supported", what);
    uint64_t cd_end;
    if (!ck_add(cd_off, cd_size, &cd_end) || cd_end != end->cd_limit)
        return err_fail(SC_ERR_FORMAT, "%s: central directory (offset %llu, %llu bytes) does not end where the end record starts (byte %llu)",
                       what, (unsigned long long)cd_off, (unsigned long long)cd_size, (unsigned long long)end->cd_limit);
    uint64_t min_bytes;
    if (n > ZIP_MAX_ENTRIES || !ck_mul(n, CENTRAL_LEN, &min_bytes) || min_bytes > cd_size)
        return err_fail(SC_ERR_FORMAT, "%s: %llu entries do not fit a %llu-byte central directory (at most %d entries)",
                       what, (unsigned long long)n, (unsigned long long)cd_size, ZIP_MAX_ENTRIES);
    end->count = n;
    end->cd_offset = cd_off;
    end->cd_size = cd_size;
    return SC_OK;
}

/* Why a name is unsafe, or NULL. A final '/' (a directory entry) is allowed. */
static const char *bad_name(const uint8_t *s, size_t n)
{
    if (n == 0) return "is empty";
    if (memchr(s, '\0', n)) return "contains a NUL byte";
    if (utf8_check(s, n) != n) return "is not valid UTF-8";
    if (memchr(s, '\\', n)) return "contains a backslash";
    if (s[0] == '/' || (n >= 2 && s[1] == ':')) return "is an absolute path";
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '/') continue;
        size_t len = i - start;
        if (len == 0 && i < n) return "has an empty path component";
        if (len == 1 && s[start] == '.') return "has a '.' component";
        if (len == 2 && s[start] == '.' && s[start + 1] == '.') return "has a '..' component";
        start = i + 1;
    }
    return NULL;
}

/* Sizes and local offset from the ZIP64 extra field where the central header holds sentinels. */
static sc_status apply_zip64_extra(const uint8_t *x, uint64_t xlen, const char *what, const char *name,
                                   uint64_t *usize, uint64_t *csize, uint64_t *local, uint64_t *disk)
{
    uint64_t *fields[4] = {usize, csize, local, disk};
    const uint64_t sentinels[4] = {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFF};
    int seen = 0;
    uint64_t p = 0;
    while (p < xlen) {
        if (xlen - p < 4)
            return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": truncated extra field", what, name);
        uint64_t id = rd16(x + p), len = rd16(x + p + 2);
        p += 4;
        if (len > xlen - p)
            return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": extra field 0x%04llx runs past its header", what, name,
                           (unsigned long long)id);
        if (id == EXTRA_ZIP64) {
            if (seen++)
                return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": two ZIP64 extra fields", what, name);
            uint64_t q = 0;
            for (int k = 0; k < 4; k++) {
                if (*fields[k] != sentinels[k]) continue;
                uint64_t width = k == 3 ? 4 : 8;
                if (len - q < width)
                    return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": ZIP64 extra field too short", what, name);
                *fields[k] = width == 8 ? rd64(x + p + q) : rd32(x + p + q);
                q += width;
            }
        }
        p += len;
    }
    return SC_OK;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const zip_entry *)a)->name, ((const zip_entry *)b)->name);
}

static int cmp_entry_local(const void *a, const void *b)
{
    const zip_entry *x = *(const zip_entry *const *)a, *y = *(const zip_entry *const *)b;
    return x->local_offset < y->local_offset ? -1 : x->local_offset > y->local_offset;
}

/* One central header at b + *p (inside the central directory [*p, cd_end)); fills e. */
static sc_status read_central(const uint8_t *b, uint64_t size, uint64_t *p, const zip_end *end,
                              const char *what, zip_entry *e)
{
    uint64_t cd_end, rec_len;
    if (!ck_add(end->cd_offset, end->cd_size, &cd_end) || cd_end - *p < CENTRAL_LEN || rd32(b + *p) != SIG_CENTRAL)
        return err_fail(SC_ERR_FORMAT, "%s: bad central directory header at byte %llu", what, (unsigned long long)*p);
    const uint8_t *c = b + *p;
    uint64_t flags = rd16(c + 8), method = rd16(c + 10);
    uint64_t csize = rd32(c + 20), usize = rd32(c + 24);
    uint64_t nl = rd16(c + 28), xl = rd16(c + 30), cl = rd16(c + 32);
    uint64_t disk = rd16(c + 34), local = rd32(c + 42);
    if (!ck_add(CENTRAL_LEN, nl, &rec_len) || !ck_add(rec_len, xl, &rec_len) || !ck_add(rec_len, cl, &rec_len) ||
        rec_len > cd_end - *p)
        return err_fail(SC_ERR_FORMAT, "%s: central directory header at byte %llu runs past the central directory",
                       what, (unsigned long long)*p);
    const char *why = bad_name(c + CENTRAL_LEN, (size_t)nl);
    if (why)
        return err_fail(SC_ERR_FORMAT, "%s: entry name at byte %llu %s (\"%.*s\")", what,
                       (unsigned long long)(*p + CENTRAL_LEN), why, (int)(nl > 80 ? 80 : nl), (const char *)c + CENTRAL_LEN);
    if (nl > ZIP_MAX_NAME)
        return err_fail(SC_ERR_FORMAT, "%s: entry name at byte %llu is %llu bytes long (at most %d)", what,
                       (unsigned long long)(*p + CENTRAL_LEN), (unsigned long long)nl, ZIP_MAX_NAME);
    char *name = malloc((size_t)nl + 1);
    if (!name) return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    memcpy(name, c + CENTRAL_LEN, (size_t)nl);
    name[nl] = '\0';
    e->name = name;
    if (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS))
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\" is encrypted", what, name);
    if (method != 0)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\" is compressed (method %llu); torch files store entries uncompressed",
                       what, name, (unsigned long long)method);
    sc_status s = apply_zip64_extra(c + CENTRAL_LEN + nl, xl, what, name, &usize, &csize, &local, &disk);
    if (s) return s;
    if (csize != usize)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\" is stored but its sizes differ (%llu compressed, %llu uncompressed)",
                       what, name, (unsigned long long)csize, (unsigned long long)usize);
    if (disk != 0) return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\" starts on disk %llu", what, name, (unsigned long long)disk);

    /* The local header: only its signature, flags, method, name and the lengths are read. */
    uint64_t lh_end, data_off, data_end;
    if (!ck_add(local, LOCAL_LEN, &lh_end) || lh_end > end->cd_offset || rd32(b + local) != SIG_LOCAL)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": no local header at byte %llu", what, name, (unsigned long long)local);
    const uint8_t *l = b + local;
    uint64_t lnl = rd16(l + 26), lxl = rd16(l + 28);
    if ((rd16(l + 6) & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) || rd16(l + 8) != 0)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": local header at byte %llu says compressed or encrypted", what,
                       name, (unsigned long long)local);
    if (!ck_add(lh_end, lnl, &data_off) || !ck_add(data_off, lxl, &data_off) || data_off > end->cd_offset)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": local header at byte %llu runs into the central directory",
                       what, name, (unsigned long long)local);
    if (lnl != nl || memcmp(l + LOCAL_LEN, name, (size_t)nl) != 0)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": the local header at byte %llu names \"%.*s\"", what, name,
                       (unsigned long long)local, (int)(lnl > 80 ? 80 : lnl), (const char *)l + LOCAL_LEN);
    if (!ck_add(data_off, usize, &data_end) || data_end > size)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": %llu bytes of data at byte %llu run past the end of the %llu-byte file",
                       what, name, (unsigned long long)usize, (unsigned long long)data_off, (unsigned long long)size);
    if (data_end > end->cd_offset)
        return err_fail(SC_ERR_FORMAT, "%s: entry \"%s\": %llu bytes of data at byte %llu run into the central directory",
                       what, name, (unsigned long long)usize, (unsigned long long)data_off);
    e->local_offset = local;
    e->offset = data_off;
    e->size = usize;
    *p += rec_len;
    return SC_OK;
}

/* Entries sorted by local header offset must not overlap: each one's data ends before the next
 * local header starts. */
static sc_status check_overlaps(zip_archive *z, const char *what)
{
    if (z->n < 2) return SC_OK;
    zip_entry **order = malloc(z->n * sizeof *order);
    if (!order) return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < z->n; i++) order[i] = &z->entries[i];
    qsort(order, z->n, sizeof *order, cmp_entry_local);
    sc_status s = SC_OK;
    for (size_t i = 1; i < z->n && !s; i++) {
        const zip_entry *a = order[i - 1], *b = order[i];
        uint64_t a_end;
        if (!ck_add(a->offset, a->size, &a_end) || a_end > b->local_offset)
            s = err_fail(SC_ERR_FORMAT, "%s: entries \"%s\" and \"%s\" overlap (data up to byte %llu, next header at %llu)",
                        what, a->name, b->name, (unsigned long long)a_end, (unsigned long long)b->local_offset);
    }
    free(order);
    return s;
}

sc_status zip_parse(const uint8_t *bytes, uint64_t size, const char *what, zip_archive **out)
{
    *out = NULL;
    zip_end end = {0};
    sc_status s = read_end(bytes, size, what, &end);
    if (s) return s;
    zip_archive *z = calloc(1, sizeof *z);
    if (!z || !(z->entries = calloc(end.count ? (size_t)end.count : 1, sizeof *z->entries))) {
        free(z);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    }
    uint64_t p = end.cd_offset;
    for (uint64_t i = 0; i < end.count && !s; i++) {
        s = read_central(bytes, size, &p, &end, what, &z->entries[z->n]);
        if (z->entries[z->n].name) z->n++;
    }
    if (!s && p != end.cd_limit) /* cd_limit = cd_offset + cd_size, checked in read_end */
        s = err_fail(SC_ERR_FORMAT, "%s: central directory holds %llu bytes after its %llu entries", what,
                    (unsigned long long)(end.cd_limit - p), (unsigned long long)end.count);
    if (!s) {
        qsort(z->entries, z->n, sizeof *z->entries, cmp_entry_name);
        for (size_t i = 1; i < z->n && !s; i++)
            if (!strcmp(z->entries[i - 1].name, z->entries[i].name))
                s = err_fail(SC_ERR_FORMAT, "%s: duplicate entry name \"%s\"", what, z->entries[i].name);
    }
    if (!s) s = check_overlaps(z, what);
    if (s) {
        zip_free(z);
        return s;
    }
    *out = z;
    return SC_OK;
}

void zip_free(zip_archive *z)
{
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) free((char *)z->entries[i].name);
    free(z->entries);
    free(z);
}

size_t zip_count(const zip_archive *z) { return z->n; }
const zip_entry *zip_at(const zip_archive *z, size_t i) { return i < z->n ? &z->entries[i] : NULL; }

const zip_entry *zip_find(const zip_archive *z, const char *name)
{
    zip_entry key = {.name = name};
    return bsearch(&key, z->entries, z->n, sizeof key, cmp_entry_name);
}
