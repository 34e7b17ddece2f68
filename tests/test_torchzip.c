/* Reading torch.save files (docs/RELIABILITY.md): every ZIP and storage reject case as a file made
 * here (tests/torch_craft.c), and the real files of tests/fixtures/torch/ (written by
 * tools/make_torch_fixtures.py with torch.save): values, shared storages, training checkpoints,
 * legacy files, and a tiny DiT in both layouts that must load and run exactly like its
 * safetensors twin, directly and after `smoothcache convert`. */
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "harness.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "io/zip.h"
#include "torch_craft.h"

static const float k_w[6] = {0, 1, 2, 3, 4, 5};

/* archive/data.pkl = {"w": F32 [2,3] over storage "0" (6 floats)}. */
static void pickle_w(tbuf *p)
{
    static const uint64_t shape[2] = {2, 3};
    tp_dict_begin(p);
    tp_str(p, "w");
    tp_tensor(p, "FloatStorage", "0", 6, 0, 2, shape, NULL);
    tp_dict_end(p);
}

/* The entries of a good torch file: data.pkl, byteorder, data/0. */
static int good_entries(tz_entry *e, tbuf *pkl)
{
    pickle_w(pkl);
    e[0] = (tz_entry){.name = "archive/data.pkl", .data = pkl->p, .size = pkl->n, .align64 = 1};
    e[1] = (tz_entry){.name = "archive/byteorder", .data = "little", .size = 6, .align64 = 1};
    e[2] = (tz_entry){.name = "archive/data/0", .data = k_w, .size = sizeof k_w, .align64 = 1};
    return 3;
}

/* The good file's bytes. */
static void good_image(tbuf *b)
{
    tz_entry e[8];
    tbuf pkl = {0};
    tz_build(b, e, good_entries(e, &pkl));
    tb_free(&pkl);
}

static const char *write_zip(const tz_entry *e, int n)
{
    tbuf b = {0};
    tz_build(&b, e, n);
    const char *p = test_path("t.pt");
    test_write(p, b.p, b.n);
    tb_free(&b);
    return p;
}

static void reject_file(const char *path, sc_status code, const char *needle)
{
    st_file *f = NULL;
    sc_status s = torch_open(path, &f);
    CHECK_MSG(s == code && strstr(sc_last_error(), needle), "status %d (want %d), message \"%s\"; expected \"%s\"",
              (int)s, (int)code, s ? sc_last_error() : "(accepted)", needle);
    CHECK(f == NULL);
}

/* Builds the good file with one change made by `edit` and expects a format error. */
static void reject_entries(void (*edit)(tz_entry *e, int *n), const char *needle)
{
    tz_entry e[8];
    tbuf pkl = {0};
    int n = good_entries(e, &pkl);
    edit(e, &n);
    reject_file(write_zip(e, n), SC_ERR_FORMAT, needle);
    tb_free(&pkl);
}

static const float *f32(const st_file *f, const char *name, float **owned)
{
    const st_tensor *t = st_find(f, name);
    CHECK_MSG(t, "tensor %s missing", name);
    const float *v;
    CHECK_OK(st_to_f32(f, t, &v, owned));
    return v;
}

/* ---------------------------------------------------------------- crafted files */

TEST(zip_lists_entries_by_name_with_data_offsets_from_the_central_directory)
{
    tbuf b = {0};
    good_image(&b);
    zip_archive *z;
    CHECK_OK(zip_parse(b.p, b.n, "z", &z));
    CHECK(zip_count(z) == 3 && !strcmp(zip_at(z, 0)->name, "archive/byteorder"));
    const zip_entry *d = zip_find(z, "archive/data/0");
    CHECK(d && d->size == sizeof k_w && d->offset % 64 == 0 && !memcmp(b.p + d->offset, k_w, sizeof k_w));
    CHECK(zip_find(z, "archive/data/1") == NULL && zip_at(z, 3) == NULL);
    zip_free(z);
    tb_free(&b);
}

TEST(torch_reads_a_crafted_file_zero_copy_with_aligned_f32)
{
    tz_entry e[8];
    tbuf pkl = {0};
    int n = good_entries(e, &pkl);
    st_file *f;
    CHECK_OK(torch_open(write_zip(e, n), &f));
    CHECK(st_count(f) == 1);
    const st_tensor *t = st_find(f, "w");
    CHECK(t && t->dtype == ST_F32 && t->rank == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    float *owned;
    const float *v = f32(f, "w", &owned);
    CHECK(owned == NULL && ((uintptr_t)v & 63) == 0); /* points into the mapping */
    CHECK(!memcmp(v, k_w, sizeof k_w));
    st_close(f);
    tb_free(&pkl);
}

TEST(zip_reads_zip64_extra_fields_unaligned_data_and_files_without_byteorder)
{
    tz_entry e[8];
    tbuf pkl = {0};
    good_entries(e, &pkl);
    e[1] = e[2];
    for (int i = 0; i < 2; i++) {
        e[i].zip64_extra = 1;
        e[i].align64 = 0;
    }
    e[0].name = "my model/data.pkl";
    e[1].name = "my model/data/0";
    st_file *f;
    CHECK_OK(torch_open(write_zip(e, 2), &f));
    float *owned;
    const float *v = f32(f, "w", &owned);
    CHECK(!memcmp(v, k_w, sizeof k_w));
    mem_free(owned);
    st_close(f);
    tb_free(&pkl);
}

TEST(torch_parse_reads_an_in_memory_image)
{
    tbuf b = {0};
    good_image(&b);
    st_file *f;
    CHECK_OK(torch_parse(b.p, b.n, "memory", &f));
    CHECK(st_count(f) == 1 && !strcmp(st_path(f), "memory"));
    st_close(f);
    b.n -= 1;
    CHECK_ERR(torch_parse(b.p, b.n, "memory", &f), SC_ERR_FORMAT, "memory: no ZIP end-of-central-directory record");
    tb_free(&b);
}

TEST(zip_rejects_truncated_files)
{
    tbuf b = {0};
    good_image(&b);
    const size_t cuts[] = {b.n - 1, b.n - 22, b.n - 30, b.n / 2, 100, 4};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        test_write(test_path("cut.pt"), b.p, cuts[i]);
        st_file *f;
        sc_status s = torch_open(test_path("cut.pt"), &f);
        CHECK_MSG(s == SC_ERR_FORMAT && strstr(sc_last_error(), "cut.pt: "), "cut at %zu: status %d, \"%s\"", cuts[i],
                  (int)s, sc_last_error());
    }
    test_write(test_path("cut.pt"), b.p, b.n - 1);
    reject_file(test_path("cut.pt"), SC_ERR_FORMAT, "no ZIP end-of-central-directory record (truncated, or not a ZIP archive)");
    test_write(test_path("empty.pt"), "", 0);
    reject_file(test_path("empty.pt"), SC_ERR_FORMAT, "not a torch.save file (no ZIP local header at byte 0)");
    tb_free(&b);
}

static void compress_storage(tz_entry *e, int *n) { (void)n; e[2].method = 8; }
static void encrypt_storage(tz_entry *e, int *n) { (void)n; e[2].flags = 1; }
static void duplicate_storage(tz_entry *e, int *n) { e[*n] = e[2]; (*n)++; }
static void rename_local(tz_entry *e, int *n) { (void)n; e[2].local_name = "archive/data/1"; }
static void two_top_folders(tz_entry *e, int *n) { (void)n; e[1].name = "other/byteorder"; }
static void entry_outside_folder(tz_entry *e, int *n) { (void)n; e[1].name = "AAA"; }
static void no_pickle(tz_entry *e, int *n) { (void)n; e[0].name = "archive/data.pk"; }
static void no_storage(tz_entry *e, int *n) { (void)n; e[2].name = "archive/data/1"; }
static void short_storage(tz_entry *e, int *n) { (void)n; e[2].size -= 4; }

TEST(zip_rejects_compressed_and_encrypted_entries)
{
    reject_entries(compress_storage, "entry \"archive/data/0\" is compressed (method 8)");
    reject_entries(encrypt_storage, "entry \"archive/data/0\" is encrypted");
}

TEST(zip_rejects_duplicate_names_and_local_central_name_mismatch)
{
    reject_entries(duplicate_storage, "duplicate entry name \"archive/data/0\"");
    reject_entries(rename_local, "entry \"archive/data/0\": the local header at byte");
}

TEST(zip_rejects_unsafe_entry_names)
{
    static const char *const names[][2] = {
        {"archive/../data.pkl", "has a '..' component"}, {"archive/./x", "has a '.' component"},
        {"/archive/x", "is an absolute path"},           {"C:/archive/x", "is an absolute path"},
        {"archive\\x", "contains a backslash"},          {"archive//x", "has an empty path component"},
        {"archive/\xff", "is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        tz_entry e[8];
        tbuf pkl = {0};
        int n = good_entries(e, &pkl);
        e[n++] = (tz_entry){.name = names[i][0], .data = "x", .size = 1};
        reject_file(write_zip(e, n), SC_ERR_FORMAT, names[i][1]);
        tb_free(&pkl);
    }
    /* A NUL inside a name: the central header says 11 bytes, "archive/a\0b". */
    tz_entry e[8];
    tbuf pkl = {0}, b = {0};
    int n = good_entries(e, &pkl);
    e[n++] = (tz_entry){.name = "archive/a#b", .data = "x", .size = 1};
    tz_build(&b, e, n);
    for (size_t i = 0; i + 11 <= b.n; i++)
        if (!memcmp(b.p + i, "archive/a#b", 11)) b.p[i + 9] = '\0';
    test_write(test_path("nul.pt"), b.p, b.n);
    reject_file(test_path("nul.pt"), SC_ERR_FORMAT, "contains a NUL byte");
    tb_free(&b);
    tb_free(&pkl);
}

/* Offset of the k-th (0-based) occurrence of a 4-byte signature. */
static size_t find_sig(const tbuf *b, const char *sig, int k)
{
    for (size_t at = 0; at + 4 <= b->n; at++)
        if (!memcmp(b->p + at, sig, 4) && k-- == 0) return at;
    CHECK(!"signature not found");
    return 0;
}

/* Sets the 32-bit field at `field` of entry k's central header. */
static void patch_central(tbuf *b, int k, size_t field, uint32_t v)
{
    size_t at = find_sig(b, "PK\x01\x02", k) + field;
    for (int i = 0; i < 4; i++) b->p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* The good file with one central field of one entry changed must be refused with `needle`. */
static void reject_patched(const tbuf *good, int k, size_t field, uint32_t v, const char *needle)
{
    tbuf c = {0};
    tb_put(&c, good->p, good->n);
    patch_central(&c, k, field, v);
    if (field == 20) patch_central(&c, k, 24, v); /* stored: both sizes agree */
    test_write(test_path("o.pt"), c.p, c.n);
    reject_file(test_path("o.pt"), SC_ERR_FORMAT, needle);
    tb_free(&c);
}

TEST(zip_rejects_overlapping_entries_and_data_past_the_end)
{
    tbuf b = {0};
    good_image(&b);
    /* data.pkl's data starts at byte 64 (the first local header is padded to it) */
    uint32_t next_local = (uint32_t)find_sig(&b, "PK\x03\x04", 1), cd = (uint32_t)find_sig(&b, "PK\x01\x02", 0);
    reject_patched(&b, 0, 20, next_local - 64 + 1, "overlap");
    reject_patched(&b, 0, 20, cd - 64 + 1, "run into the central directory");
    reject_patched(&b, 2, 20, 0xFFFFFFF0u, "run past the end of the");
    reject_patched(&b, 2, 42, 0, "entry \"archive/data/0\": the local header at byte 0 names \"archive/data.pkl\"");
    reject_patched(&b, 1, 42, 0x7FFFFFF0u, "entry \"archive/byteorder\": no local header at byte 2147483632");
    tb_free(&b);
}

TEST(zip_rejects_inconsistent_end_records)
{
    tbuf b = {0};
    good_image(&b);
    tbuf c = {0};
    tb_put(&c, b.p, b.n);
    c.p[c.n - 22 + 10] = 2; /* classic record: 2 entries, ZIP64 record: 3 */
    test_write(test_path("e.pt"), c.p, c.n);
    reject_file(test_path("e.pt"), SC_ERR_FORMAT, "the ZIP end record and the ZIP64 end record disagree");
    tb_free(&c);
    tb_put(&c, b.p, b.n);
    c.p[c.n - 22 - 20 + 16] = 2; /* two disks */
    test_write(test_path("e.pt"), c.p, c.n);
    reject_file(test_path("e.pt"), SC_ERR_FORMAT, "multi-disk ZIP archives are not supported");
    tb_free(&c);
    tb_put(&c, b.p, b.n);
    for (int i = 0; i < 8; i++) c.p[c.n - 22 - 20 - 56 + 32 + i] = 0xFF; /* 2^64-1 entries */
    for (int i = 0; i < 2; i++) c.p[c.n - 22 + 10 + i] = 0xFF;
    for (int i = 0; i < 2; i++) c.p[c.n - 22 + 8 + i] = 0xFF;
    for (int i = 0; i < 8; i++) c.p[c.n - 22 - 20 - 56 + 24 + i] = 0xFF;
    test_write(test_path("e.pt"), c.p, c.n);
    reject_file(test_path("e.pt"), SC_ERR_FORMAT, "entries do not fit a");
    tb_free(&c);
    tb_free(&b);
}

TEST(torch_rejects_more_than_one_top_folder_and_missing_entries)
{
    reject_entries(two_top_folders, "more than one top folder");
    reject_entries(entry_outside_folder, "entry \"AAA\" is not inside a top folder");
    reject_entries(no_pickle, "no archive/data.pkl: not a torch.save file");
    reject_entries(no_storage, "tensor \"w\": its storage archive/data/0 is not in the archive");
    reject_entries(short_storage, "tensor \"w\": storage archive/data/0 holds 20 bytes but is declared as 6 F32 elements");
}

TEST(torch_rejects_big_endian_and_unknown_byteorder)
{
    tz_entry e[8];
    tbuf pkl = {0};
    int n = good_entries(e, &pkl);
    e[1].data = "big";
    e[1].size = 3;
    reject_file(write_zip(e, n), SC_ERR_UNSUPPORTED, "archive/byteorder is \"big\": big-endian tensors are not supported");
    e[1].data = "LITTLE";
    e[1].size = 6;
    reject_file(write_zip(e, n), SC_ERR_FORMAT, "archive/byteorder holds 6 bytes that are neither \"little\" nor \"big\"");
    tb_free(&pkl);
}

TEST(torch_rejects_storage_offsets_past_the_end_and_huge_declared_sizes)
{
    const uint64_t shape[2] = {2, 3};
    tz_storage st = {"0", k_w, sizeof k_w};
    /* offset 1: the [2,3] view reaches element 6 of 6 */
    tbuf p = {0};
    tp_dict_begin(&p);
    tp_str(&p, "w");
    tp_tensor(&p, "FloatStorage", "0", 6, 1, 2, shape, NULL);
    tp_dict_end(&p);
    reject_file(tz_torch_file("t.pt", "archive", &p, "little", &st, 1), SC_ERR_FORMAT,
                "t.pt: archive/data.pkl: tensor \"w\"");
    CHECK(strstr(sc_last_error(), "reaches element 6 of a storage of 6 elements"));
    tb_free(&p);
    /* a storage declared with 2^48-1 elements over a 24-byte entry */
    tp_dict_begin(&p);
    tp_str(&p, "w");
    tp_tensor(&p, "FloatStorage", "0", (1ull << 48) - 1, 0, 2, shape, NULL);
    tp_dict_end(&p);
    reject_file(tz_torch_file("t.pt", "archive", &p, "little", &st, 1), SC_ERR_FORMAT,
                "storage archive/data/0 holds 24 bytes but is declared as 281474976710655 F32 elements");
    tb_free(&p);
}

TEST(torch_reads_shared_storages_at_different_offsets_and_refuses_mixed_dtypes)
{
    const uint64_t three = 3, two = 2;
    tz_storage st = {"0", k_w, sizeof k_w};
    tbuf p = {0};
    tp_dict_begin(&p);
    tp_str(&p, "head");
    tp_tensor(&p, "FloatStorage", "0", 6, 0, 1, &three, NULL);
    tp_str(&p, "tail");
    tp_tensor(&p, "FloatStorage", "0", 6, 3, 1, &three, NULL);
    tp_dict_end(&p);
    st_file *f;
    CHECK_OK(torch_open(tz_torch_file("t.pt", "archive", &p, NULL, &st, 1), &f));
    float *o1, *o2;
    const float *head = f32(f, "head", &o1), *tail = f32(f, "tail", &o2);
    CHECK(head[0] == 0 && head[2] == 2 && tail[0] == 3 && tail[2] == 5 && tail == head + 3);
    st_close(f);
    tb_free(&p);
    tp_dict_begin(&p);
    tp_str(&p, "a");
    tp_tensor(&p, "FloatStorage", "0", 6, 0, 1, &three, NULL);
    tp_str(&p, "b");
    tp_tensor(&p, "DoubleStorage", "0", 3, 0, 1, &two, NULL);
    tp_dict_end(&p);
    reject_file(tz_torch_file("t.pt", "archive", &p, NULL, &st, 1), SC_ERR_FORMAT,
                "storage archive/data/0 is used as F64 and as F32");
    tb_free(&p);
}

TEST(torch_refuses_a_hostile_pickle_inside_a_zip_and_never_runs_it)
{
    char cmd[1200];
    const char *marker = test_path("pwned");
    snprintf(cmd, sizeof cmd, "touch %s", marker);
    tbuf p = {0};
    tp_call(&p, "posix", "system", cmd);
    reject_file(tz_torch_file("evil.pt", "evil", &p, "little", NULL, 0), SC_ERR_FORMAT,
                "evil.pt: evil/data.pkl: hostile or unsupported pickle: global 'posix.system' at offset 2 is not allowed");
    struct stat s;
    CHECK(stat(marker, &s) != 0);
    tb_free(&p);
}

TEST(torch_refuses_legacy_pickle_and_tar_files_with_advice)
{
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20,
                                     0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e};
    test_write(test_path("old.pt"), legacy, sizeof legacy);
    reject_file(test_path("old.pt"), SC_ERR_UNSUPPORTED, "re-save with a current torch or convert to safetensors");
    uint8_t tar[1024] = {0};
    memcpy(tar, "storages", 8);
    memcpy(tar + 257, "ustar", 5);
    test_write(test_path("old.tar"), tar, sizeof tar);
    reject_file(test_path("old.tar"), SC_ERR_UNSUPPORTED, "legacy (pre-1.6, non-zip) torch.save file");
    char path[2048];
    snprintf(path, sizeof path, "%s/torch/legacy.pt", test_fixtures());
    reject_file(path, SC_ERR_UNSUPPORTED, "re-save with a current torch or convert to safetensors");
    st_file *f;
    CHECK_ERR(torch_or_safetensors_open(path, &f), SC_ERR_UNSUPPORTED, "legacy (pre-1.6, non-zip)");
}

TEST(torch_caps_the_size_of_data_pkl)
{
    size_t big = (size_t)TORCH_MAX_PICKLE + 1;
    uint8_t *pkl = calloc(1, big);
    tz_entry e[2] = {{.name = "archive/data.pkl", .data = pkl, .size = big}};
    reject_file(write_zip(e, 1), SC_ERR_FORMAT, "archive/data.pkl is 67108865 bytes (at most 67108864)");
    free(pkl);
}

/* ---------------------------------------------------------------- real torch.save files */

static const char *torch_fixture(const char *name) { return test_fixture_sub("torch", name); }


TEST(torch_reads_real_plain_state_dict_values_views_scalars_and_empty_tensors)
{
    st_file *f;
    CHECK_OK(torch_open(torch_fixture("plain.pt"), &f));
    CHECK(st_count(f) == 6);
    float *owned[6] = {0};
    const float *a = f32(f, "a", &owned[0]), *row1 = f32(f, "row1", &owned[1]);
    CHECK(owned[0] == NULL && owned[1] == NULL); /* aligned F32: zero-copy */
    for (int i = 0; i < 6; i++) CHECK(a[i] == (float)i);
    CHECK(row1 == a + 3); /* a[1] is a view into a's storage at element offset 3 */
    const st_tensor *t = st_find(f, "h");
    CHECK(t->dtype == ST_F16 && t->rank == 1 && t->shape[0] == 4);
    const float *h = f32(f, "h", &owned[2]);
    CHECK(h[0] == 0.0f && h[1] == 0.5f && h[2] == 1.0f && h[3] == 1.5f);
    t = st_find(f, "b");
    CHECK(t->dtype == ST_BF16 && t->shape[0] == 3);
    const float *bf = f32(f, "b", &owned[3]);
    CHECK(bf[0] == -1.0f && bf[1] == 0.0f && bf[2] == 1.0f);
    t = st_find(f, "s");
    CHECK(t->rank == 0 && t->numel == 1 && f32(f, "s", &owned[4])[0] == 2.5f);
    t = st_find(f, "empty");
    CHECK(t->rank == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->numel == 0);
    for (int i = 0; i < 6; i++) mem_free(owned[i]);
    st_close(f);
}

TEST(torch_takes_ema_from_a_real_training_checkpoint)
{
    st_file *f;
    CHECK_OK(torch_open(torch_fixture("train_noargs.pt"), &f));
    CHECK(st_count(f) == 2);
    float *o1, *o2;
    const float *w = f32(f, "weight", &o1), *b = f32(f, "bias", &o2);
    CHECK(st_find(f, "weight")->shape[0] == 2 && st_find(f, "weight")->shape[1] == 3);
    for (int i = 0; i < 6; i++) CHECK(w[i] == 7.0f); /* the ema copy, not the model's */
    CHECK(b[0] == 7.0f && b[1] == 7.0f);
    st_close(f);
}

TEST(torch_refuses_a_real_training_checkpoint_with_args_and_hints_to_export_ema)
{
    reject_file(torch_fixture("train.pt"), SC_ERR_FORMAT, "global 'argparse.Namespace'");
    CHECK(strstr(sc_last_error(), "train.pt: train/data.pkl: hostile or unsupported pickle"));
    CHECK(strstr(sc_last_error(), "export the `ema` state dict"));
}

/* A fixed input and the model's forward output. */
static float *forward(const char *path, int heads)
{
    sc_load_opts o = {.num_heads = heads};
    sc_model *m;
    CHECK_OK(sc_model_load(path, &o, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    size_t per = (size_t)info.in_channels * info.latent.dims[1] * info.latent.dims[2];
    size_t out_n = (size_t)info.out_channels * info.latent.dims[1] * info.latent.dims[2];
    float *x = malloc(2 * per * sizeof *x), *out = malloc(2 * out_n * sizeof *out);
    for (size_t i = 0; i < 2 * per; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    float t[2] = {999, 10};
    int y[2] = {3, 10};
    const sc_cond rows = {.n = 2, .classes = y};
    CHECK_OK(sc_model_forward(m, &rows, x, t, out, 1));
    free(x);
    sc_model_free(m);
    return out;
}

static void check_same_forward(const char *a, const char *b, int heads, size_t n)
{
    float *x = forward(a, heads), *y = forward(b, heads);
    CHECK_MSG(!memcmp(x, y, n * sizeof(float)), "%s and %s give different outputs", a, b);
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += x[i] != 0 && isfinite(x[i]);
    CHECK(nonzero > (int)(n / 2));
    free(x);
    free(y);
}

TEST(torch_original_dit_pt_runs_bit_identical_to_its_safetensors_twin)
{
    check_same_forward(torch_fixture("dit_original.pt"), torch_fixture("dit_original.safetensors"), 1, 2 * 8 * 8 * 8);
}

TEST(torch_diffusers_folder_with_only_the_bin_runs_bit_identical_to_its_safetensors_twin)
{
    /* The twin: the same config.json beside the safetensors file. */
    char p[2048];
    CHECK(mkdir(test_path("twin"), 0755) == 0);
    snprintf(p, sizeof p, "%s/dit_diffusers/config.json", torch_fixture(""));
    CHECK(symlink(p, test_path("twin/config.json")) == 0);
    CHECK(symlink(torch_fixture("dit_diffusers_twin.safetensors"), test_path("twin/diffusion_pytorch_model.safetensors")) == 0);
    check_same_forward(torch_fixture("dit_diffusers"), test_path("twin"), 0, 2 * 8 * 8 * 8);
    sc_model *m;
    CHECK_OK(sc_model_load(torch_fixture("dit_diffusers"), NULL, &m));
    sc_model_info i;
    sc_model_get_info(m, &i);
    CHECK(!strcmp(i.layout, "diffusers") && !strcmp(i.dtype, "BF16") && i.hidden == 8 && i.depth == 1);
    sc_model_free(m);
}

/* Every tensor of `a` is in `b` with the same dtype, shape and bytes, and the counts match. */
static void check_same_tensors(const char *a, const char *b)
{
    st_file *x, *y;
    CHECK_OK(torch_or_safetensors_open(a, &x));
    CHECK_OK(st_open(b, &y));
    CHECK(st_count(x) == st_count(y));
    for (size_t i = 0; i < st_count(x); i++) {
        const st_tensor *s = st_at(x, i), *t = st_find(y, s->name);
        CHECK_MSG(t, "%s: no tensor \"%s\"", b, s->name);
        CHECK(s->dtype == t->dtype && s->rank == t->rank && !memcmp(s->shape, t->shape, sizeof s->shape));
        CHECK_MSG(!memcmp(st_data(x, s), st_data(y, t), (size_t)(s->end - s->begin)), "\"%s\" differs", s->name);
    }
    st_close(x);
    st_close(y);
}

TEST(torch_convert_of_the_diffusers_bin_equals_the_safetensors_twin_byte_for_byte)
{
    char args[8192], *out = NULL;
    const char *bin = torch_fixture("dit_diffusers/diffusion_pytorch_model.bin"), *dst = test_path("c.safetensors");
    snprintf(args, sizeof args, "convert '%s' '%s'", bin, dst);
    CHECK_MSG(test_cli(args, &out) == 0 && strstr(out, "(25 tensors)"), "%s", out);
    free(out);
    check_same_tensors(bin, dst);
    check_same_tensors(dst, torch_fixture("dit_diffusers_twin.safetensors"));
    /* The layout is the Python package's too: the whole file is identical. */
    char *x, *y;
    size_t nx, ny;
    CHECK_OK(file_read_small(dst, 1 << 20, &x, &nx));
    CHECK_OK(file_read_small(torch_fixture("dit_diffusers_twin.safetensors"), 1 << 20, &y, &ny));
    CHECK(nx == ny && !memcmp(x, y, nx));
    free(x);
    free(y);
    CHECK(test_cli(args, &out) == 1 && strstr(out, "already exists (use --force to overwrite)"));
    free(out);
    snprintf(args, sizeof args, "convert '%s' '%s' --force", torch_fixture("plain.pt"), dst);
    CHECK_MSG(test_cli(args, &out) == 0, "%s", out);
    free(out);
    check_same_tensors(torch_fixture("plain.pt"), dst);
}

TEST(torch_convert_writes_a_clean_safetensors_file_for_mixed_dtypes)
{
    st_file *f, *g;
    CHECK_OK(torch_open(torch_fixture("plain.pt"), &f));
    CHECK_OK(st_write(test_path("p.safetensors"), f, 0));
    CHECK_ERR(st_write(test_path("p.safetensors"), f, 0), SC_ERR_EXISTS, "already exists");
    CHECK_OK(st_open(test_path("p.safetensors"), &g));
    CHECK(!strcmp(st_metadata(g, "format"), "pt"));
    /* header padded to 8 bytes; F32 first, then the 2-byte dtypes: every tensor aligned */
    char *raw;
    size_t len;
    CHECK_OK(file_read_small(test_path("p.safetensors"), 1 << 20, &raw, &len));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)raw[i];
    CHECK(len > 8 + hlen && hlen % 8 == 0 && raw[8 + hlen - 1] == ' ');
    free(raw);
    for (size_t i = 0; i < st_count(g); i++) {
        const st_tensor *t = st_at(g, i);
        CHECK(t->begin % (uint64_t)(st_dtype_bits(t->dtype) / 8) == 0);
    }
    CHECK(st_find(g, "a")->begin == 0);
    st_close(g);
    st_close(f);
    check_same_tensors(torch_fixture("plain.pt"), test_path("p.safetensors"));
}

TEST(torch_convert_usage_errors_name_the_problem)
{
    char *out = NULL;
    CHECK(test_cli("convert", &out) == 2 && strstr(out, "expected IN and OUT.safetensors"));
    free(out);
    CHECK(test_cli("convert a b c", &out) == 2 && strstr(out, "unexpected argument 'c'"));
    free(out);
    CHECK(test_cli("convert a b --overwrite", &out) == 2 && strstr(out, "unknown option '--overwrite'"));
    free(out);
    char args[4096];
    snprintf(args, sizeof args, "convert '%s' '%s'", torch_fixture("train.pt"), test_path("x.safetensors"));
    CHECK(test_cli(args, &out) == 1 && strstr(out, "export the `ema` state dict"));
    free(out);
    struct stat st;
    CHECK(stat(test_path("x.safetensors"), &st) != 0);
}

/* convert never writes a safetensors file it cannot read back: a tensor named "__metadata__"
 * (possible in a PyTorch file) is refused, and nothing appears at the output path. */
TEST(torch_convert_refuses_a_tensor_named_like_the_metadata)
{
    static const uint8_t image[16] = {0};
    const st_tensor_src entries[2] = {{"__metadata__", ST_F32, 1, {2}, 0}, {"w", ST_F32, 1, {2}, 8}};
    st_file *f;
    CHECK_OK(st_from_entries("crafted.pt", image, sizeof image, entries, 2, NULL, &f));
    CHECK_ERR(st_write(test_path("m.safetensors"), f, 0), SC_ERR_FORMAT, "a tensor is named \"__metadata__\"");
    st_close(f);
    struct stat st;
    CHECK(stat(test_path("m.safetensors"), &st) != 0);
    /* An ordinary one is read back before it takes its name, and is there afterwards. */
    const st_tensor_src ok[1] = {{"w", ST_F32, 1, {4}, 0}};
    CHECK_OK(st_from_entries("crafted.pt", image, sizeof image, ok, 1, NULL, &f));
    CHECK_OK(st_write(test_path("w.safetensors"), f, 0));
    st_close(f);
    CHECK(stat(test_path("w.safetensors"), &st) == 0);
}
