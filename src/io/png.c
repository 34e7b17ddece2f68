#include "io/png.h"

#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "io/file.h"

/* Where libpng's output goes: the temporary file, plus what went wrong if it did. */
typedef struct {
    file_out *out;
    int io_failed;  /* file_out_write already recorded the errno message and removed the file */
    char msg[256];  /* libpng's own error text otherwise */
} png_sink;

static void on_error(png_structp png, png_const_charp msg)
{
    png_sink *k = png_get_error_ptr(png);
    snprintf(k->msg, sizeof k->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Every input libpng could warn about is validated before it sees it, so a warning is a bug
 * worth seeing, not a condition to handle. */
static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    err_warn("libpng: %s", msg);
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    png_sink *k = png_get_io_ptr(png);
    if (k->io_failed || file_out_write(k->out, data, n) != SC_OK) {
        k->io_failed = 1;
        png_error(png, "write failed");
    }
}

static void on_flush(png_structp png) { (void)png; }

/* All libpng calls that may longjmp live here, and nothing is read after the jump but the return
 * value: C11 7.13.2.1 leaves non-volatile locals changed after setjmp indeterminate, so the
 * caller keeps everything that must survive (sink, structs, file) in its own frame. */
static int encode(png_structp png, png_infop info, png_text *texts, int n_texts, int width,
                  int height, const uint8_t *rgb /* [height][width][3] */)
{
    if (setjmp(png_jmpbuf(png))) return 0;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (n_texts > 0) png_set_text(png, info, texts, n_texts);
    png_write_info(png, info);
    size_t row = (size_t)width * 3;
    for (int y = 0; y < height; y++) png_write_row(png, rgb + (size_t)y * row);
    png_write_end(png, info);
    return 1;
}

/* PNG 11.3.4.2: 1..79 bytes of Latin-1 printable characters (32..126, 161..255), no leading,
 * trailing or consecutive spaces. libpng would silently rewrite a bad keyword; we refuse it. */
static sc_status check_keyword(const char *path, int i, const char *key)
{
    if (!key) return err_fail(SC_ERR_ARG, "%s: PNG text %d has no keyword", path, i);
    size_t n = strlen(key);
    if (n < 1 || n > 79)
        return err_fail(SC_ERR_ARG, "%s: PNG text keyword %d is %zu bytes long; keywords are 1..79 bytes",
                       path, i, n);
    for (size_t j = 0; j < n; j++) {
        unsigned char c = (unsigned char)key[j];
        if (!((c >= 32 && c <= 126) || c >= 161))
            return err_fail(SC_ERR_ARG,
                           "%s: PNG text keyword %d has byte 0x%02x at offset %zu; keywords are printable Latin-1",
                           path, i, c, j);
    }
    if (key[0] == ' ' || key[n - 1] == ' ' || strstr(key, "  "))
        return err_fail(SC_ERR_ARG,
                       "%s: PNG text keyword %d has a leading, trailing or doubled space", path, i);
    return SC_OK;
}

/* Length of the UTF-8 sequence at s (bytes left: n), 0 if it is malformed, overlong, a surrogate,
 * beyond U+10FFFF, or a control character (C0 but tab/newline, DEL, C1: terminal escapes). */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return (c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n' ? 1 : 0;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len == 0 || len > n || c > 0xf4) return 0;
    uint32_t cp = c & (0x3f >> (len - 1));
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

char *png_text_clean(const char *in, char *out, size_t cap)
{
    if (!cap) return out;
    const size_t limit = cap - 1 < PNG_MAX_TEXT_VALUE ? cap - 1 : PNG_MAX_TEXT_VALUE;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    const size_t n = strlen((const char *)s);
    size_t o = 0;
    for (size_t j = 0; j < n;) {
        size_t len = utf8_char(s + j, n - j);
        char esc[5];
        const char *piece = (const char *)s + j;
        size_t plen = len;
        if (!len) { /* a byte that cannot stay is written as \xNN */
            snprintf(esc, sizeof esc, "\\x%02x", s[j]);
            piece = esc;
            plen = 4;
            len = 1;
        }
        /* While more follows, room is kept for the "..." that marks a cut. */
        const size_t room = j + len < n ? (limit >= 3 ? limit - 3 : 0) : limit;
        if (o + plen > room) {
            if (o + 3 <= limit) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, piece, plen);
        o += plen;
        j += len;
    }
    out[o] = '\0';
    return out;
}

/* Returns 1 in *ascii when the value can go into a tEXt chunk unchanged. */
static sc_status check_value(const char *path, const char *key, const char *value, int *ascii)
{
    if (!value) return err_fail(SC_ERR_ARG, "%s: PNG text \"%s\" has no value", path, key);
    size_t n = strlen(value);
    if (n > PNG_MAX_TEXT_VALUE)
        return err_fail(SC_ERR_ARG, "%s: PNG text \"%s\" is %zu bytes, more than the %d allowed", path,
                       key, n, PNG_MAX_TEXT_VALUE);
    const unsigned char *s = (const unsigned char *)value;
    *ascii = 1;
    for (size_t j = 0; j < n;) {
        size_t len = utf8_char(s + j, n - j);
        if (len == 0)
            return err_fail(SC_ERR_ARG,
                           "%s: PNG text \"%s\" has a control character or invalid UTF-8 at byte %zu", path,
                           key, j);
        if (len > 1) *ascii = 0;
        j += len;
    }
    return SC_OK;
}

static sc_status check_image(const char *path, int width, int height, const uint8_t *rgb)
{
    if (width < 1 || height < 1)
        return err_fail(SC_ERR_ARG, "%s: PNG size %d x %d: width and height must be at least 1", path,
                       width, height);
    /* Two ints times 3 cannot overflow 64 bits; the row offsets below are size_t and the libpng
     * row count int, so the byte count must fit both. */
    uint64_t bytes;
    size_t bytes_sz;
    SC_ASSERT(ck_mul3((uint64_t)width, (uint64_t)height, 3, &bytes));
    if (bytes > INT_MAX || !ck_to_size(bytes, &bytes_sz))
        return err_fail(SC_ERR_ARG, "%s: PNG size %d x %d: %llu bytes of pixels overflow an int", path,
                       width, height, (unsigned long long)bytes);
    if (width > PNG_MAX_DIM || height > PNG_MAX_DIM)
        return err_fail(SC_ERR_ARG, "%s: PNG size %d x %d exceeds the limit of %d pixels per side", path,
                       width, height, PNG_MAX_DIM);
    if (!rgb) return err_fail(SC_ERR_ARG, "%s: no pixels given", path);
    return SC_OK;
}

sc_status png_write_rgb8(const char *path, int width, int height, const uint8_t *rgb,
                         const png_text_kv *texts, int n_texts, int force)
{
    if (!path || !*path) return err_fail(SC_ERR_ARG, "empty output path");
    sc_status s = check_image(path, width, height, rgb);
    if (s) return s;
    if (n_texts < 0 || n_texts > PNG_MAX_TEXTS || (n_texts > 0 && !texts))
        return err_fail(SC_ERR_ARG, "%s: %d PNG text chunks; at most %d are allowed", path, n_texts,
                       PNG_MAX_TEXTS);
    png_text chunks[PNG_MAX_TEXTS];
    memset(chunks, 0, sizeof chunks);
    for (int i = 0; i < n_texts; i++) {
        int ascii = 1;
        if ((s = check_keyword(path, i, texts[i].key))) return s;
        if ((s = check_value(path, texts[i].key, texts[i].value, &ascii))) return s;
        /* libpng copies the strings in png_set_text; it never writes through these pointers. */
        chunks[i].key = (png_charp)texts[i].key;
        chunks[i].text = (png_charp)texts[i].value;
        chunks[i].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    }

    file_out o;
    if ((s = file_out_open(&o, path, force))) return s;
    png_sink sink = {.out = &o};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        file_out_abort(&o);
        return err_fail(SC_ERR_NOMEM, "%s: out of memory starting the PNG encoder", path);
    }
    png_set_write_fn(png, &sink, on_write, on_flush);
    int ok = encode(png, info, chunks, n_texts, width, height, rgb);
    png_destroy_write_struct(&png, &info);
    if (!ok) {
        file_out_abort(&o);
        if (sink.io_failed) return SC_ERR_IO; /* file_out_write's message (with errno) stands */
        return err_fail(SC_ERR_IO, "%s: PNG encoding failed: %s", path, sink.msg);
    }
    return file_out_commit(&o);
}
