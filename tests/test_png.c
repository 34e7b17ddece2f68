/* The PNG writer: pixels read back by libpng, files accepted by pngcheck, text chunks as the PNG
 * spec wants them, every input check of docs/RELIABILITY.md, and atomic output on failure. */
#include "harness.h"

#include <dirent.h>
#include <png.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/png.h"
#include "smoothcache_tools.h"

static uint8_t *noise(int w, int h, uint32_t seed)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
    return p;
}

static void check_pngcheck(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "pngcheck -q '%s'", path);
    int st = system(cmd);
    CHECK_MSG(st == 0, "pngcheck -q %s failed (status %d; `scripts/deps.sh test` installs pngcheck)", path, st);
}

/* Files in the test's directory (the temporary files must all be gone). */
static int dir_entries(void)
{
    DIR *d = opendir(test_tmpdir());
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Finds the chunk of `type` whose data starts with `prefix` (plen bytes). */
static int has_chunk(const char *b, size_t n, const char *type, const char *prefix, size_t plen)
{
    for (size_t off = 8; off + 12 <= n;) {
        const unsigned char *c = (const unsigned char *)b + off;
        size_t len = (size_t)c[0] << 24 | (size_t)c[1] << 16 | (size_t)c[2] << 8 | c[3];
        if (memcmp(c + 4, type, 4) == 0 && len >= plen && memcmp(c + 8, prefix, plen) == 0) return 1;
        off += 12 + len;
    }
    return 0;
}

TEST(png_round_trip_gives_back_the_pixels_and_pngcheck_accepts_the_file)
{
    int w = 37, h = 23;
    uint8_t *rgb = noise(w, h, 1);
    png_text_kv meta[] = {{"smoothcache", "model=DiT-XL-2-256,seed=7"}, {"Comment", "caf\xc3\xa9 \xe2\x98\x95"}};
    const char *p = test_path("a.png");
    CHECK_OK(png_write_rgb8(p, w, h, rgb, meta, 2, 0));
    check_pngcheck(p);

    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&img, p));
    CHECK((int)img.width == w && (int)img.height == h);
    img.format = PNG_FORMAT_RGB;
    uint8_t *back = malloc(PNG_IMAGE_SIZE(img));
    CHECK(png_image_finish_read(&img, NULL, back, 0, NULL));
    CHECK(memcmp(back, rgb, (size_t)w * h * 3) == 0);

    /* ASCII value: tEXt "key\0value"; UTF-8 value: iTXt "key\0" + no compression + empty tags. */
    size_t n;
    char *b = test_read(p, &n);
#define LIT(s) s, sizeof(s) - 1
    CHECK(has_chunk(b, n, "tEXt", LIT("smoothcache\0model=DiT-XL-2-256,seed=7")));
    CHECK(has_chunk(b, n, "iTXt", LIT("Comment\0\0\0\0\0caf\xc3\xa9 \xe2\x98\x95")));
#undef LIT
    free(b);
    free(back);
    free(rgb);
}

TEST(png_writes_a_one_by_one_image_without_text)
{
    const uint8_t px[3] = {1, 2, 3};
    CHECK_OK(png_write_rgb8(test_path("one.png"), 1, 1, px, NULL, 0, 0));
    check_pngcheck(test_path("one.png"));
}

TEST(png_refuses_to_overwrite_without_force_and_leaves_the_file_alone)
{
    const char *p = test_path("keep.png");
    test_write(p, "original", 8);
    uint8_t px[3] = {0};
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, NULL, 0, 0), SC_ERR_EXISTS, "already exists");
    size_t n;
    char *b = test_read(p, &n);
    CHECK(n == 8 && memcmp(b, "original", 8) == 0);
    free(b);
    CHECK(dir_entries() == 1);
}

TEST(png_overwrites_with_force)
{
    const char *p = test_path("over.png");
    test_write(p, "original", 8);
    uint8_t px[3] = {9, 8, 7};
    CHECK_OK(png_write_rgb8(p, 1, 1, px, NULL, 0, 1));
    check_pngcheck(p);
    CHECK(dir_entries() == 1);
}

TEST(png_rejects_zero_oversized_and_overflowing_dimensions)
{
    uint8_t px[3] = {0};
    const char *p = test_path("bad.png");
    CHECK_ERR(png_write_rgb8(p, 0, 1, px, NULL, 0, 0), SC_ERR_ARG, "must be at least 1");
    CHECK_ERR(png_write_rgb8(p, 1, 0, px, NULL, 0, 0), SC_ERR_ARG, "must be at least 1");
    CHECK_ERR(png_write_rgb8(p, -5, 1, px, NULL, 0, 0), SC_ERR_ARG, "must be at least 1");
    CHECK_ERR(png_write_rgb8(p, 16385, 1, px, NULL, 0, 0), SC_ERR_ARG, "limit of 16384");
    CHECK_ERR(png_write_rgb8(p, 1, 16385, px, NULL, 0, 0), SC_ERR_ARG, "limit of 16384");
    /* 65536 * 65536 * 3 wraps a 32-bit product to 0: caught before the per-side limit */
    CHECK_ERR(png_write_rgb8(p, 65536, 65536, px, NULL, 0, 0), SC_ERR_ARG, "overflow an int");
    CHECK_ERR(png_write_rgb8(p, 2147483647, 2147483647, px, NULL, 0, 0), SC_ERR_ARG, "overflow an int");
    CHECK_ERR(png_write_rgb8(p, 4, 4, NULL, NULL, 0, 0), SC_ERR_ARG, "no pixels");
    CHECK(dir_entries() == 0);
}

TEST(png_rejects_bad_keywords_values_and_text_counts)
{
    uint8_t px[3] = {0};
    const char *p = test_path("kw.png");
    char k80[81], k79[80];
    memset(k80, 'k', 80);
    k80[80] = '\0';
    memset(k79, 'k', 79);
    k79[79] = '\0';
#define KV(k, v) (png_text_kv[]){{(k), (v)}}
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("", "v"), 1, 0), SC_ERR_ARG, "1..79 bytes");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV(k80, "v"), 1, 0), SC_ERR_ARG, "is 80 bytes long");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV(NULL, "v"), 1, 0), SC_ERR_ARG, "no keyword");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("a\tb", "v"), 1, 0), SC_ERR_ARG, "byte 0x09 at offset 1");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("a\x7f", "v"), 1, 0), SC_ERR_ARG, "byte 0x7f");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("a\xa0", "v"), 1, 0), SC_ERR_ARG, "byte 0xa0"); /* NBSP */
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV(" a", "v"), 1, 0), SC_ERR_ARG, "leading, trailing or doubled");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("a ", "v"), 1, 0), SC_ERR_ARG, "leading, trailing or doubled");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("a  b", "v"), 1, 0), SC_ERR_ARG, "leading, trailing or doubled");

    char big[PNG_MAX_TEXT_VALUE + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", big), 1, 0), SC_ERR_ARG, "4097 bytes, more than the 4096");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", NULL), 1, 0), SC_ERR_ARG, "has no value");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "ok\x1b[31m"), 1, 0), SC_ERR_ARG, "at byte 2");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "\xc2\x9b"), 1, 0), SC_ERR_ARG, "control character"); /* C1 CSI */
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "\xff"), 1, 0), SC_ERR_ARG, "invalid UTF-8");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "\xc0\xaf"), 1, 0), SC_ERR_ARG, "invalid UTF-8"); /* overlong */
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "\xed\xa0\x80"), 1, 0), SC_ERR_ARG, "invalid UTF-8"); /* surrogate */
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "\xe2\x98"), 1, 0), SC_ERR_ARG, "invalid UTF-8"); /* cut short */
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, NULL, 1, 0), SC_ERR_ARG, "text chunks");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, KV("k", "v"), PNG_MAX_TEXTS + 1, 0), SC_ERR_ARG, "at most 32");
    CHECK(dir_entries() == 0);

    /* The limits themselves are accepted: a 79-byte keyword, a 4096-byte value, Latin-1, tabs. */
    big[PNG_MAX_TEXT_VALUE] = '\0';
    png_text_kv ok[] = {{k79, big}, {"Gr\xfc\xdf" "e", "a\tb\nc"}};
    CHECK_OK(png_write_rgb8(p, 1, 1, px, ok, 2, 0));
    check_pngcheck(p);
#undef KV
}

TEST(png_create_failure_in_a_missing_directory_leaves_no_file)
{
    uint8_t px[3] = {0};
    const char *p = test_path("no/such/dir/x.png");
    CHECK_ERR(png_write_rgb8(p, 1, 1, px, NULL, 0, 0), SC_ERR_IO, "cannot create");
    CHECK(dir_entries() == 0);
}

/* A write that fails halfway (the file-size limit stands in for a full disk) leaves neither the
 * temporary file nor a changed target, through libpng's longjmp path. */
TEST(png_write_failure_midway_removes_the_temporary_file_and_keeps_the_target)
{
    const char *p = test_path("full.png");
    test_write(p, "original", 8);
    int w = 300, h = 300; /* noise does not compress: ~270 kB */
    uint8_t *rgb = noise(w, h, 2);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {64 * 1024, 64 * 1024};
    CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    CHECK_ERR(png_write_rgb8(p, w, h, rgb, NULL, 0, 1), SC_ERR_IO, "write failed: File too large");
    size_t n;
    char *b = test_read(p, &n);
    CHECK(n == 8 && memcmp(b, "original", 8) == 0);
    CHECK(dir_entries() == 1);
    free(b);
    free(rgb);
}

/* User text (a model path with a non-UTF-8 byte, a long accented path) never fails the write:
 * bytes that cannot stay are escaped, and a long value is cut on a character boundary. */
TEST(png_text_clean_escapes_and_cuts_on_a_character_boundary)
{
    char out[64];
    CHECK(!strcmp(png_text_clean("a\xff" "b\x01" "c\tok\n", out, sizeof out), "a\\xffb\\x01c\tok\n"));
    CHECK(!strcmp(png_text_clean("caf\xc3\xa9", out, sizeof out), "caf\xc3\xa9"));
    CHECK(!strcmp(png_text_clean("\xc3", out, sizeof out), "\\xc3")); /* a cut sequence */
    CHECK(!strcmp(png_text_clean(NULL, out, sizeof out), ""));
    /* 3000 x "é" (6000 bytes) into a value of at most 4096: whole characters, then "...". */
    char *big = malloc(6001), *clean = malloc(8192);
    for (int i = 0; i < 3000; i++) memcpy(big + 2 * i, "\xc3\xa9", 2);
    big[6000] = '\0';
    png_text_clean(big, clean, 8192);
    const size_t n = strlen(clean);
    CHECK_MSG(n <= 4096 && n >= 4090 && !strcmp(clean + n - 3, "..."), "%zu bytes", n);
    CHECK(sc_utf8_check(clean, n) == n);
    png_text_clean(big, clean, 10); /* 9 bytes: three characters and "..." */
    CHECK_MSG(!strcmp(clean, "\xc3\xa9\xc3\xa9\xc3\xa9..."), "%s", clean);
    /* The cleaned text is accepted by the writer. */
    uint8_t px[12] = {0};
    const png_text_kv kv = {"smoothcache", png_text_clean(big, clean, 8192)};
    CHECK_OK(png_write_rgb8(test_path("t.png"), 2, 2, px, &kv, 1, 0));
    free(big);
    free(clean);
}

TEST(png_generate_with_a_hostile_model_path_writes_its_picture)
{
    /* The demo model reached through a name with a byte that is not UTF-8 and a long accented
     * folder name: the comment the picture records carries both. */
    char dir[4096], link[4096], args[8192];
    snprintf(dir, sizeof dir, "%s/", test_path(""));
    size_t n = strlen(dir);
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(dir + n, sizeof dir - n, "\xc3\xa9");
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(link, sizeof link, "%s/mod\xe8le", dir);
    CHECK(symlink(SC_SOURCE_DIR "/models/demo", link) == 0);
    snprintf(args, sizeof args, "generate --model '%s' --steps 2 --class 1 --out %s", link, test_path("h.png"));
    char *out = NULL;
    CHECK_MSG(test_cli(args, &out) == 0, "%s", out);
    free(out);
    snprintf(args, sizeof args, "pngcheck -q %s", test_path("h.png"));
    CHECK(system(args) == 0);
}
