/* The safetensors reader against every must-reject and must-accept case of docs/RELIABILITY.md.
 * Each file is generated here: 8-byte little-endian header length, header, data. */
#include "harness.h"
#include <sys/stat.h>

#include "io/safetensors.h"

/* Writes a file with `header` (length taken as given) and `data_len` bytes of data. */
static const char *make_raw(const char *name, uint64_t declared_len, const char *header, size_t hlen,
                            size_t data_len)
{
    size_t total = 8 + hlen + data_len;
    unsigned char *buf = calloc(1, total + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(declared_len >> (8 * i));
    memcpy(buf + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) buf[8 + hlen + i] = (unsigned char)i;
    const char *p = test_path(name);
    test_write(p, buf, total);
    free(buf);
    return p;
}

static const char *make(const char *header, size_t data_len)
{
    return make_raw("t.safetensors", strlen(header), header, strlen(header), data_len);
}

static void reject(const char *header, size_t data_len, const char *needle)
{
    st_file *f = NULL;
    sc_status s = st_open(make(header, data_len), &f);
    CHECK_MSG(s == SC_ERR_FORMAT && strstr(sc_last_error(), needle),
              "header %s: status %d, message \"%s\"; expected a format error with \"%s\"", header, (int)s,
              s ? sc_last_error() : "(accepted)", needle);
    CHECK(f == NULL);
}

static st_file *accept(const char *header, size_t data_len)
{
    st_file *f = NULL;
    sc_status s = st_open(make(header, data_len), &f);
    CHECK_MSG(s == SC_OK, "header %s rejected: %s", header, sc_last_error());
    return f;
}

#define T1 "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"

TEST(safetensors_rejects_files_shorter_than_8_bytes_or_header_past_end)
{
    st_file *f;
    test_write(test_path("short"), "\x02\x00\x00", 3);
    CHECK_ERR(st_open(test_path("short"), &f), SC_ERR_FORMAT, "too short");
    test_write(test_path("text.safetensors"), "{\"a\": \"a config, not a checkpoint\"}\n", 36);
    CHECK_ERR(st_open(test_path("text.safetensors"), &f), SC_ERR_FORMAT, "not a safetensors file");
    const char *p = make_raw("past.safetensors", 1000, "{}", 2, 0);
    CHECK_ERR(st_open(p, &f), SC_ERR_FORMAT, "runs past the end");
}

TEST(safetensors_rejects_header_length_over_the_cap_including_2_pow_64_minus_1)
{
    st_file *f;
    const char *p = make_raw("huge.safetensors", UINT64_MAX, "{}", 2, 0);
    CHECK_ERR(st_open(p, &f), SC_ERR_FORMAT, "exceeds the limit");
    p = make_raw("cap.safetensors", 100000001ull, "{}", 2, 0);
    CHECK_ERR(st_open(p, &f), SC_ERR_FORMAT, "exceeds the limit");
}

TEST(safetensors_accepts_a_header_of_exactly_the_cap)
{
    size_t n = 100000000;
    char *h = malloc(n);
    memset(h, ' ', n);
    h[0] = '{';
    h[n - 1] = '}';
    st_file *f = NULL;
    CHECK_OK(st_open(make_raw("cap.safetensors", n, h, n, 0), &f));
    CHECK(st_count(f) == 0);
    st_close(f);
    free(h);
}

TEST(safetensors_rejects_non_json_non_object_and_bom)
{
    reject("{", 0, "invalid JSON");
    reject("[1,2]", 0, "not a JSON object");
    reject("\xEF\xBB\xBF{}", 0, "byte-order mark");
    reject("nul", 0, "invalid JSON");
}

TEST(safetensors_rejects_invalid_utf8_nul_lone_surrogate_and_trailing_garbage)
{
    reject("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "invalid JSON");
    const char raw[] = "{\"a\0\":1}";
    const char *p = make_raw("nul.safetensors", sizeof raw - 1, raw, sizeof raw - 1, 0);
    st_file *f;
    CHECK_ERR(st_open(p, &f), SC_ERR_FORMAT, "NUL byte");
    reject("{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "invalid JSON");
    reject("{} x", 0, "invalid JSON");
    reject("{}{}", 0, "invalid JSON");
}

TEST(safetensors_rejects_bad_names_nul_empty_long_duplicate)
{
    reject("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "invalid JSON");
    reject("{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "empty name");
    char h[2048];
    char name[600];
    memset(name, 'n', 599);
    name[599] = '\0';
    snprintf(h, sizeof h, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", name);
    reject(h, 0, "name of 599 bytes");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "duplicate");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate");
}

TEST(safetensors_rejects_unknown_or_non_string_dtype)
{
    reject("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, "unknown dtype \"F128\"");
    reject("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string");
}

TEST(safetensors_rejects_missing_extra_or_repeated_entry_keys)
{
    reject("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks \"dtype\"");
    reject("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "lacks \"shape\"");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks \"data_offsets\"");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"strides\":[1]}}", 4,
           "unknown field \"strides\"");
    reject("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "duplicate");
}

TEST(safetensors_rejects_bad_dimensions)
{
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "negative");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4, "not an integer token");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e3],\"data_offsets\":[0,4]}}", 4, "not an integer token");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[16.0],\"data_offsets\":[0,4]}}", 4, "not an integer token");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,4]}}", 4, "negative");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[281474976710656],\"data_offsets\":[0,4]}}", 4, "outside [0, 2^48-1]");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "rank 9 exceeds 8");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "must hold integers");
}

TEST(safetensors_rejects_size_overflow)
{
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
           "overflows");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,18446744073709551614],\"data_offsets\":[0,4]}}", 4, "invalid JSON");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,9223372036854775807],\"data_offsets\":[0,4]}}", 4,
           "outside [0, 2^48-1]");
    reject("{\"a\":{\"dtype\":\"F64\",\"shape\":[281474976710655,281474976710655],\"data_offsets\":[0,4]}}", 4,
           "overflows");
}

TEST(safetensors_rejects_bad_data_offsets)
{
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "must be [begin, end]");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "must be [begin, end]");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end 0 < begin 4");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,281474976710656]}}", 4, "outside [0, 2^48-1]");
}

TEST(safetensors_rejects_size_mismatch_and_partial_bytes)
{
    reject("{\"a\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4, "need 16");
    reject("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "whole bytes");
}

TEST(safetensors_rejects_tiling_gaps_overlaps_and_aliasing)
{
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps");
    reject("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "share the byte range");
}

TEST(safetensors_rejects_truncation_and_trailing_bytes)
{
    reject(T1, 4, "truncated");
    reject(T1, 12, "trailing bytes");
    /* A ZIP end record appended after the data makes a polyglot: refused as trailing bytes. */
    reject(T1, 8 + 22, "trailing bytes");
    st_file *f;
    const char *p = make_raw("mid.safetensors", strlen(T1), T1, strlen(T1) / 2, 0);
    CHECK_ERR(st_open(p, &f), SC_ERR_FORMAT, "runs past the end");
}

TEST(safetensors_rejects_bad_metadata)
{
    reject("{\"__metadata__\":[1]}", 0, "__metadata__ is not an object");
    reject("{\"__metadata__\":{\"k\":1}}", 0, "is not a string");
    size_t cap = 5000 * 16 + 64;
    char *h = malloc(cap);
    size_t n = (size_t)snprintf(h, cap, "{\"__metadata__\":{");
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(h + n, cap - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(h + n, cap - n, "}}");
    reject(h, 0, "__metadata__ has 5000 entries");
    free(h);
}

TEST(safetensors_accepts_empty_header_metadata_zero_size_scalars_and_whitespace)
{
    st_file *f = accept("{}", 0);
    CHECK(st_count(f) == 0);
    st_close(f);
    f = accept(" \t\r\n{\"__metadata__\":{\"format\":\"pt\"},"
               "\"z1\":{\"dtype\":\"F32\",\"shape\":[2,0],\"data_offsets\":[0,0]},"
               "\"s\":{\"shape\":[],\"data_offsets\":[0,4],\"dtype\":\"F32\"},"
               "\"z2\":{\"dtype\":\"BF16\",\"shape\":[0],\"data_offsets\":[4,4]},"
               "\"z3\":{\"dtype\":\"F16\",\"shape\":[0,5],\"data_offsets\":[4,4]}}  \n", 4);
    CHECK(st_count(f) == 4);
    CHECK(!strcmp(st_metadata(f, "format"), "pt"));
    const st_tensor *s = st_find(f, "s");
    CHECK(s && s->rank == 0 && s->numel == 1);
    CHECK(st_find(f, "z1")->numel == 0);
    st_close(f);
}

TEST(safetensors_accepts_every_spec_dtype)
{
    const char *dts[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
                         "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "I64", "U64", "F64", "C64",
                         "F4", "F6_E2M3", "F6_E3M2"};
    const int bits[] = {8, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64, 4, 6, 6};
    for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
        char h[256];
        int bytes = 8 * bits[i] / 8; /* 8 elements */
        snprintf(h, sizeof h, "{\"a\":{\"dtype\":\"%s\",\"shape\":[8],\"data_offsets\":[0,%d]}}", dts[i], bytes);
        st_file *f = accept(h, (size_t)bytes);
        CHECK(!strcmp(st_dtype_name(st_find(f, "a")->dtype), dts[i]));
        st_close(f);
    }
}

TEST(safetensors_converts_f16_bf16_and_unaligned_f32)
{
    /* Header padded so the data starts at an odd offset: F32 must be copied, not cast. */
    const char *h = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
                    "\"f\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}} ";
    size_t hl = strlen(h);
    unsigned char *buf = calloc(1, 8 + hl + 12);
    buf[0] = (unsigned char)hl;
    memcpy(buf + 8, h, hl);
    const unsigned char data[12] = {0x00, 0x3c, 0x00, 0xc0,   /* F16 1.0, -2.0 */
                                    0x80, 0x3f, 0x40, 0x40,   /* BF16 1.0, 3.0 */
                                    0x00, 0x00, 0x20, 0x41};  /* F32 10.0 */
    memcpy(buf + 8 + hl, data, 12);
    test_write(test_path("c.safetensors"), buf, 8 + hl + 12);
    free(buf);
    CHECK((8 + hl) % 4 != 0);
    st_file *f;
    CHECK_OK(st_open(test_path("c.safetensors"), &f));
    const float *v;
    float *owned;
    CHECK_OK(st_to_f32(f, st_find(f, "h"), &v, &owned));
    CHECK(owned && v[0] == 1.0f && v[1] == -2.0f);
    free(owned);
    CHECK_OK(st_to_f32(f, st_find(f, "b"), &v, &owned));
    CHECK(owned && v[0] == 1.0f && v[1] == 3.0f);
    free(owned);
    CHECK_OK(st_to_f32(f, st_find(f, "f"), &v, &owned));
    CHECK(owned && v[0] == 10.0f);
    free(owned);
    st_close(f);
}

TEST(safetensors_refuses_directories_and_fifos_without_hanging)
{
    st_file *f;
    CHECK_ERR(st_open(test_tmpdir(), &f), SC_ERR_IO, "directory");
    char fifo[1200];
    snprintf(fifo, sizeof fifo, "%s/fifo", test_tmpdir());
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_ERR(st_open(fifo, &f), SC_ERR_IO, "not a regular file");
    CHECK_ERR(st_open(test_path("missing"), &f), SC_ERR_IO, "cannot open");
}
