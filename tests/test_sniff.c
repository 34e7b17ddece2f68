/* Identify before parsing: every kind of file a user may give where another was expected is
 * named for what it is, by the sniffer and in the messages of the loaders and the command line. */
#include <math.h>
#include <sys/stat.h>

#include "harness.h"
#include "io/npy.h"
#include "io/sniff.h"
#include "smoothcache_tools.h"
#include "tiny_dit.h"

static void write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

static const char *describe(const char *path)
{
    static char buf[160];
    return sc_describe_file(path, buf, sizeof buf);
}

/* One file of every kind, in the test's own folder. */
static void make_files(void)
{
    write_bytes(test_path("p.png"), "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    write_bytes(test_path("j.jpg"), "\xff\xd8\xff\xe0\0\x10JFIF", 10);
    write_bytes(test_path("e.bin"), "", 0);
    write_bytes(test_path("g.gz"), "\x1f\x8b\x08\0\0\0\0\0", 8);
    write_bytes(test_path("w.wav"), "RIFF\x24\0\0\0WAVEfmt ", 16);
    write_bytes(test_path("k.pkl"), "\x80\x02}q\0.", 6);
    write_bytes(test_path("n.zip"), "PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x05\0\0\0a.npy", 35);
    write_bytes(test_path("t.zip"), "PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x0e\0\0\0archive/data.pkl", 46);
    write_bytes(test_path("r.bin"), "\x01\x02\xff\xfe\x00\x9c", 6);
    write_text(test_path("t.txt"), "a prompt, caf\xc3\xa9\n");
    write_text(test_path("sched.json"), "{\"attn1\": [1, 0, 1], \"ff\": [1, 1, 1]}");
    write_text(test_path("cal.json"), "{\"attn\": [[0.1, 0.2], [0.3]], \"_meta\": {\"k\": 2}}");
    write_text(test_path("tea.json"), "{\"coef\": [1, 2, 3, 4, 5], \"_meta\": {}}");
    write_text(test_path("mag.json"), "{\"ratios\": [1, 0.9], \"_meta\": {}}");
    write_text(test_path("config.json"), "{\"_class_name\": \"DiTTransformer2DModel\", \"_diffusers_version\": \"0.30\"}");
    write_text(test_path("sch.json"), "{\"_class_name\": \"DDIMScheduler\", \"_diffusers_version\": \"0.30\"}");
    write_text(test_path("other.json"), "[1, 2]");
    const float x[2] = {1, 2};
    const uint64_t shape[1] = {2};
    CHECK_OK(npy_write_f32(test_path("a.npy"), x, 1, shape, 1));
    tiny_dit t = tiny_dit_default();
    tiny_dit_write(test_path("m.safetensors"), &t);
}

TEST(sniff_names_every_kind)
{
    make_files();
    mkdir(test_path("dir"), 0755);
    static const struct {
        const char *file, *kind;
    } cases[] = {
        {"p.png", "a PNG image"}, {"j.jpg", "a JPEG image"}, {"e.bin", "an empty file"},
        {"g.gz", "a gzip-compressed file"}, {"w.wav", "a WAV audio file"}, {"k.pkl", "a pickle"},
        {"n.zip", "a .npz archive of arrays"}, {"t.zip", "a PyTorch checkpoint"}, {"r.bin", "binary data"},
        {"t.txt", "a text file"}, {"sched.json", "a SmoothCache schedule"},
        {"cal.json", "a SmoothCache calibration file (error curves)"}, {"tea.json", "a TeaCache calibration file"},
        {"mag.json", "a MagCache calibration file"}, {"config.json", "a diffusers model config (DiTTransformer2DModel)"},
        {"sch.json", "a diffusers scheduler config (DDIMScheduler)"}, {"other.json", "a JSON file"},
        {"a.npy", "a .npy array"}, {"m.safetensors", "a safetensors file"}, {"dir", "a folder"},
        {"nothing-here", "missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *d = describe(test_path(cases[i].file));
        CHECK_MSG(!strncmp(d, cases[i].kind, strlen(cases[i].kind)), "%s: \"%s\", want \"%s\"", cases[i].file, d,
                  cases[i].kind);
    }
    CHECK(!strcmp(describe("/dev/null"), "not a regular file (a FIFO, socket or device)"));
    /* A UTF-8 sequence cut by the 64 KiB window is still text. */
    char *big = malloc(65536 + 8);
    memset(big, 'a', 65536 + 8);
    memcpy(big + 65535, "\xc3\xa9", 2);
    write_bytes(test_path("big.txt"), big, 65536 + 8);
    free(big);
    CHECK(!strcmp(describe(test_path("big.txt")), "a text file"));
}

/* The loaders say what a wrong file is, and keep the caller's error when they only describe. */
TEST(sniff_loaders_name_the_wrong_kind)
{
    make_files();
    sc_model *m;
    CHECK(sc_model_load(test_path("p.png"), NULL, &m) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "this is a PNG image, not a checkpoint"), "%s", sc_last_error());
    CHECK(sc_model_load(test_path("sched.json"), NULL, &m) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "this is a SmoothCache schedule, not a checkpoint"), "%s", sc_last_error());
    sc_array a;
    CHECK(sc_npy_read(test_path("n.zip"), &a) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "not a .npy array: this is a .npz archive of arrays"), "%s", sc_last_error());
    CHECK(sc_npy_read(test_path("r.bin"), &a) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "not a .npy array (no"), "%s", sc_last_error());
    sc_schedule_opts o = {.alpha = 0.1, .target_macs = NAN};
    CHECK(sc_schedule_make(test_path("p.png"), &o, test_path("o.json"), 1, NULL) == SC_ERR_FORMAT);
    CHECK_MSG(strstr(sc_last_error(), "not JSON: this is a PNG image"), "%s", sc_last_error());
}

TEST(sniff_cli_says_which_option_takes_the_file)
{
    make_files();
    char *out = NULL, args[4096];
    snprintf(args, sizeof args, "generate --model %s --latents-out %s", test_path("sched.json"), test_path("o.npy"));
    CHECK(test_cli(args, &out) == 1);
    CHECK_MSG(strstr(out, "is a SmoothCache schedule: it goes to --cache smooth:schedule=FILE)"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "generate --model %s --latents-out %s", test_path("config.json"), test_path("o.npy"));
    CHECK(test_cli(args, &out) == 1);
    CHECK_MSG(strstr(out, "give --model the folder that holds it, not the file"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "schedule --errors %s --alpha 0.1 --out %s", test_path("sched.json"), test_path("o.json"));
    CHECK(test_cli(args, &out) == 1);
    CHECK_MSG(strstr(out, "it goes to --cache smooth:schedule=FILE"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "schedule --errors %s --alpha 0.1 --out %s", test_path("mag.json"), test_path("o.json"));
    CHECK(test_cli(args, &out) == 1);
    CHECK_MSG(strstr(out, "it goes to --cache magcache:ratios=FILE"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "generate --latents-in %s --latents-out %s", test_path("n.zip"), test_path("o.npy"));
    CHECK(test_cli(args, &out) == 1);
    CHECK_MSG(strstr(out, "not a .npy array: this is a .npz archive of arrays"), "%s", out);
    free(out);
}
