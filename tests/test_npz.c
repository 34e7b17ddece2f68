/* The .npz writer: every ZIP field read back by a minimal parser written from APPNOTE.TXT, the CRC
 * recomputed, the .npy header spelled like numpy's, `unzip -t` on the result, and the ZIP64 layout
 * exercised by lowering the size at which it starts. */
#include "harness.h"

#include <dirent.h>
#include <zlib.h>

#include "io/npz.h"

static uint64_t rd(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

typedef struct {
    int zip64;
    uint64_t entry_off, entry_size; /* the stored .npy */
    char name[80];
} zip_entry;

/* Checks the archive holds exactly one stored entry at offset 0, that local header, central
 * directory and end records agree, and that the CRC matches the bytes. */
static void parse_zip(const uint8_t *b, size_t n, zip_entry *z)
{
    CHECK(n >= 22);
    const uint8_t *e = b + n - 22;
    CHECK(rd(e, 4) == 0x06054b50 && rd(e + 4, 2) == 0 && rd(e + 6, 2) == 0);
    CHECK(rd(e + 8, 2) == 1 && rd(e + 10, 2) == 1 && rd(e + 20, 2) == 0);
    uint64_t cd_size = rd(e + 12, 4), cd_off = rd(e + 16, 4);
    z->zip64 = cd_off == 0xffffffff;
    if (z->zip64) {
        const uint8_t *loc = e - 20;
        CHECK(rd(loc, 4) == 0x07064b50 && rd(loc + 4, 4) == 0 && rd(loc + 16, 4) == 1);
        uint64_t rec = rd(loc + 8, 8);
        CHECK(rec == n - 22 - 20 - 56);
        const uint8_t *r = b + rec;
        CHECK(rd(r, 4) == 0x06064b50 && rd(r + 4, 8) == 44 && rd(r + 14, 2) == 45);
        CHECK(rd(r + 16, 4) == 0 && rd(r + 20, 4) == 0 && rd(r + 24, 8) == 1 && rd(r + 32, 8) == 1);
        CHECK(rd(r + 40, 8) == cd_size);
        cd_off = rd(r + 48, 8);
        CHECK(cd_off + cd_size == rec);
    } else {
        CHECK(cd_off + cd_size == n - 22);
    }
    const uint8_t *c = b + cd_off;
    uint64_t ver = z->zip64 ? 45 : 20;
    CHECK(rd(c, 4) == 0x02014b50 && rd(c + 6, 2) == ver && rd(c + 8, 2) == 0 && rd(c + 10, 2) == 0);
    uint32_t crc = (uint32_t)rd(c + 16, 4);
    uint64_t csize = rd(c + 20, 4), usize = rd(c + 24, 4);
    size_t nlen = rd(c + 28, 2), xlen = rd(c + 30, 2);
    CHECK(rd(c + 32, 2) == 0 && rd(c + 34, 2) == 0 && rd(c + 42, 4) == 0); /* comment, disk, offset */
    CHECK(46 + nlen + xlen == cd_size && nlen < sizeof z->name);
    memcpy(z->name, c + 46, nlen);
    z->name[nlen] = '\0';
    if (z->zip64) {
        const uint8_t *x = c + 46 + nlen;
        CHECK(csize == 0xffffffff && usize == 0xffffffff && xlen == 20);
        CHECK(rd(x, 2) == 1 && rd(x + 2, 2) == 16);
        usize = rd(x + 4, 8);
        csize = rd(x + 12, 8);
    } else {
        CHECK(xlen == 0);
    }
    CHECK(csize == usize);

    CHECK(rd(b, 4) == 0x04034b50 && rd(b + 4, 2) == ver && rd(b + 6, 2) == 0 && rd(b + 8, 2) == 0);
    CHECK(rd(b + 14, 4) == crc && rd(b + 26, 2) == nlen && memcmp(b + 30, z->name, nlen) == 0);
    size_t lx = rd(b + 28, 2);
    if (z->zip64) {
        const uint8_t *x = b + 30 + nlen;
        CHECK(rd(b + 18, 4) == 0xffffffff && rd(b + 22, 4) == 0xffffffff && lx == 20);
        CHECK(rd(x, 2) == 1 && rd(x + 2, 2) == 16 && rd(x + 4, 8) == usize && rd(x + 12, 8) == usize);
    } else {
        CHECK(rd(b + 18, 4) == usize && rd(b + 22, 4) == usize && lx == 0);
    }
    z->entry_off = 30 + nlen + lx;
    z->entry_size = usize;
    CHECK(z->entry_off + usize == cd_off);
    CHECK_MSG(crc32(0, b + z->entry_off, (uInt)usize) == crc, "CRC-32 of the entry does not match");
}

/* The entry must be a v1.0 .npy with exactly this dict, padded to 64 bytes, then `data`. */
static void check_npy(const uint8_t *b, const zip_entry *z, const char *dict, const uint8_t *data, size_t n)
{
    const uint8_t *p = b + z->entry_off;
    CHECK(memcmp(p, "\x93NUMPY\x01\x00", 8) == 0);
    size_t hlen = (size_t)rd(p + 8, 2), dl = strlen(dict);
    CHECK((10 + hlen) % 64 == 0 && hlen >= dl + 1);
    CHECK_MSG(memcmp(p + 10, dict, dl) == 0, "header is %.*s", (int)dl, (const char *)p + 10);
    for (size_t i = 10 + dl; i < 10 + hlen - 1; i++) CHECK(p[i] == ' ');
    CHECK(p[10 + hlen - 1] == '\n');
    CHECK(z->entry_size == 10 + hlen + n);
    CHECK(n == 0 || memcmp(p + 10 + hlen, data, n) == 0);
}

static void check_unzip(const char *path)
{
    if (system("command -v unzip >/dev/null 2>&1") != 0) {
        fprintf(stderr, "    note: unzip is not installed (`scripts/deps.sh test` installs it); skipping unzip -t\n");
        return;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "unzip -tq '%s' >/dev/null", path);
    CHECK_MSG(system(cmd) == 0, "unzip -t %s reports errors", path);
}

static int dir_entries(void)
{
    DIR *d = opendir(test_tmpdir());
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) d[i] = (uint8_t)(i * 7 % 251);
    return d;
}

TEST(npz_holds_one_stored_npy_entry_with_numpy_header_data_and_crc)
{
    uint64_t shape[4] = {2, 3, 4, 3}; /* N H W C, as evaluator.py wants */
    uint8_t *d = pattern(72);
    const char *p = test_path("batch.npz");
    CHECK_OK(npz_write_u8(p, "arr_0", d, 4, shape, 0));
    size_t n;
    uint8_t *b = (uint8_t *)test_read(p, &n);
    zip_entry z;
    parse_zip(b, n, &z);
    CHECK(!z.zip64 && strcmp(z.name, "arr_0.npy") == 0);
    check_npy(b, &z, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 3), }", d, 72);
    CHECK(n == 30 + 9 + 128 + 72 + 46 + 9 + 22);
    check_unzip(p);
    free(b);
    free(d);
}

TEST(npz_spells_rank_1_rank_0_and_empty_shapes_like_numpy)
{
    uint64_t s1[1] = {5}, s2[2] = {0, 4};
    uint8_t *d = pattern(5);
    size_t n;
    zip_entry z;
    CHECK_OK(npz_write_u8(test_path("r1.npz"), "x", d, 1, s1, 0));
    uint8_t *b = (uint8_t *)test_read(test_path("r1.npz"), &n);
    parse_zip(b, n, &z);
    CHECK(strcmp(z.name, "x.npy") == 0);
    check_npy(b, &z, "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", d, 5);
    free(b);
    CHECK_OK(npz_write_u8(test_path("r0.npz"), "arr_0", d, 0, NULL, 0));
    b = (uint8_t *)test_read(test_path("r0.npz"), &n);
    parse_zip(b, n, &z);
    check_npy(b, &z, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", d, 1);
    free(b);
    CHECK_OK(npz_write_u8(test_path("empty.npz"), "arr_0", NULL, 2, s2, 0));
    b = (uint8_t *)test_read(test_path("empty.npz"), &n);
    parse_zip(b, n, &z);
    check_npy(b, &z, "{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4), }", NULL, 0);
    check_unzip(test_path("empty.npz"));
    free(b);
    free(d);
}

/* Writing 4 GiB in a unit test is too slow; the threshold parameter drives the same code. */
TEST(npz_zip64_layout_is_valid_when_the_entry_reaches_the_threshold)
{
    uint64_t shape[2] = {8, 9};
    uint8_t *d = pattern(72);
    size_t n;
    zip_entry z;
    const char *p = test_path("z64.npz");
    CHECK_OK(npz_write_u8_zip64_at(p, "arr_0", d, 2, shape, 0, 128 + 72)); /* entry: 128 + 72 bytes */
    uint8_t *b = (uint8_t *)test_read(p, &n);
    parse_zip(b, n, &z);
    CHECK(z.zip64);
    check_npy(b, &z, "{'descr': '|u1', 'fortran_order': False, 'shape': (8, 9), }", d, 72);
    CHECK(n == 30 + 9 + 20 + 200 + 46 + 9 + 20 + 56 + 20 + 22);
    check_unzip(p);
    free(b);
    /* one byte more than the entry: plain ZIP */
    CHECK_OK(npz_write_u8_zip64_at(p, "arr_0", d, 2, shape, 1, 128 + 72 + 1));
    b = (uint8_t *)test_read(p, &n);
    parse_zip(b, n, &z);
    CHECK(!z.zip64);
    free(b);
    free(d);
}

TEST(npz_refuses_to_overwrite_without_force_and_replaces_with_force)
{
    const char *p = test_path("keep.npz");
    test_write(p, "original", 8);
    uint64_t shape[1] = {3};
    const uint8_t d[3] = {1, 2, 3};
    CHECK_ERR(npz_write_u8(p, "arr_0", d, 1, shape, 0), SC_ERR_EXISTS, "already exists");
    size_t n;
    uint8_t *b = (uint8_t *)test_read(p, &n);
    CHECK(n == 8 && memcmp(b, "original", 8) == 0);
    free(b);
    CHECK_OK(npz_write_u8(p, "arr_0", d, 1, shape, 1));
    b = (uint8_t *)test_read(p, &n);
    zip_entry z;
    parse_zip(b, n, &z);
    free(b);
    CHECK(dir_entries() == 1);
}

TEST(npz_rejects_bad_names_ranks_shapes_and_missing_data)
{
    const char *p = test_path("bad.npz");
    uint64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, huge[3] = {1ull << 32, 1ull << 32, 2};
    const uint8_t d[1] = {0};
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    CHECK_ERR(npz_write_u8(p, "", d, 1, shape, 0), SC_ERR_ARG, "array name");
    CHECK_ERR(npz_write_u8(p, NULL, d, 1, shape, 0), SC_ERR_ARG, "array name");
    CHECK_ERR(npz_write_u8(p, "../x", d, 1, shape, 0), SC_ERR_ARG, "array name");
    CHECK_ERR(npz_write_u8(p, "a.npy", d, 1, shape, 0), SC_ERR_ARG, "array name");
    CHECK_ERR(npz_write_u8(p, long_name, d, 1, shape, 0), SC_ERR_ARG, "array name");
    CHECK_ERR(npz_write_u8(p, "arr_0", d, 9, shape, 0), SC_ERR_ARG, "rank 9");
    CHECK_ERR(npz_write_u8(p, "arr_0", d, -1, shape, 0), SC_ERR_ARG, "rank -1");
    CHECK_ERR(npz_write_u8(p, "arr_0", d, 1, NULL, 0), SC_ERR_ARG, "rank 1");
    CHECK_ERR(npz_write_u8(p, "arr_0", d, 3, huge, 0), SC_ERR_ARG, "overflows");
    CHECK_ERR(npz_write_u8(p, "arr_0", NULL, 1, shape, 0), SC_ERR_ARG, "no array data");
    CHECK_ERR(npz_write_u8(test_path("no/dir/x.npz"), "arr_0", d, 1, shape, 0), SC_ERR_IO, "cannot create");
    CHECK(dir_entries() == 0);
    long_name[64] = '\0'; /* 64 characters are fine */
    CHECK_OK(npz_write_u8(p, long_name, d, 1, shape, 0));
}
