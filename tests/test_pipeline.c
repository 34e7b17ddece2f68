/* The whole picture pipeline as a user runs it: a diffusers pipeline folder (DiT + VAE +
 * scheduler) through `smoothcache generate --out`, against diffusers' DiTPipeline
 * (tools/reference_pipeline.py): every 8-bit value within 1 of the reference on >= 99.9% of the
 * values; .npz readable as a ZIP of one uint8 .npy, PNG accepted by pngcheck. */
#include <sys/stat.h>

#include "harness.h"
#include "io/file.h"
#include "io/npy.h"
#include "io/zip.h"

static void copy_file(const char *from, const char *to)
{
    file_mapping m;
    CHECK_OK(file_map(from, &m));
    test_write(to, m.data, (size_t)m.size);
    file_unmap(&m);
}

/* tmp/pipe: model_index.json, transformer/ (dit_a), vae/ (vae_a_diffusers), scheduler/. */
static const char *make_pipeline(void)
{
    static char dir[1200];
    char p[2400], q[2400];
    snprintf(dir, sizeof dir, "%s/pipe", test_tmpdir());
    const char *sub[] = {"", "/transformer", "/vae", "/scheduler"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", dir, sub[i]);
        CHECK(mkdir(p, 0755) == 0);
    }
    const char *index = "{\"_class_name\":\"DiTPipeline\",\"transformer\":[\"diffusers\",\"DiTTransformer2DModel\"],"
                        "\"vae\":[\"diffusers\",\"AutoencoderKL\"],\"scheduler\":[\"diffusers\",\"DDIMScheduler\"]}";
    snprintf(p, sizeof p, "%s/model_index.json", dir);
    test_write(p, index, strlen(index));
    const char *sched = "{\"_class_name\":\"DDIMScheduler\",\"beta_end\":0.02,\"beta_schedule\":\"linear\","
                        "\"beta_start\":0.0001,\"clip_sample\":false,\"num_train_timesteps\":1000,"
                        "\"prediction_type\":\"epsilon\",\"set_alpha_to_one\":true,\"steps_offset\":0}";
    snprintf(p, sizeof p, "%s/scheduler/scheduler_config.json", dir);
    test_write(p, sched, strlen(sched));
    const char *files[] = {"config.json", "diffusion_pytorch_model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/dit_a/%s", test_fixtures(), files[i]);
        snprintf(q, sizeof q, "%s/transformer/%s", dir, files[i]);
        copy_file(p, q);
        snprintf(p, sizeof p, "%s/vae_a_diffusers/%s", test_fixtures(), files[i]);
        snprintf(q, sizeof q, "%s/vae/%s", dir, files[i]);
        copy_file(p, q);
    }
    return dir;
}

/* arr_0 of an .npz written by the CLI. */
static void read_npz(const char *path, npy_array *a)
{
    file_mapping m;
    CHECK_OK(file_map(path, &m));
    zip_archive *z;
    CHECK_OK(zip_parse(m.data, m.size, path, &z));
    CHECK(zip_count(z) == 1);
    const zip_entry *e = zip_find(z, "arr_0.npy");
    CHECK(e);
    CHECK_OK(npy_parse(m.data + e->offset, e->size, "arr_0.npy", a));
    zip_free(z);
    file_unmap(&m);
}

TEST(pipeline_images_match_diffusers_ditpipeline_to_one_level)
{
    const char *pipe = make_pipeline();
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "generate --model %s --class 1,2 --seed 7 --steps 10 --cfg 4 --out %s", pipe,
             test_path("p.npz"));
    int st = test_cli(args, &out);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    free(out);
    npy_array mine, ref;
    read_npz(test_path("p.npz"), &mine);
    char p[2048];
    snprintf(p, sizeof p, "%s/pipeline_out.npy", test_fixtures());
    CHECK_OK(npy_read(p, &ref));
    CHECK(mine.rank == 4 && mine.shape[0] == 2 && mine.shape[1] == 64 && mine.shape[2] == 64 && mine.shape[3] == 3);
    CHECK(ref.numel == mine.numel);
    size_t close = 0, exact = 0;
    for (size_t i = 0; i < ref.numel; i++) {
        float d = fabsf(mine.data[i] - ref.data[i]);
        close += d <= 1.0f;
        exact += d == 0.0f;
    }
    CHECK_MSG(close >= (size_t)(0.999 * (double)ref.numel), "%zu of %zu values within 1/255", close, ref.numel);
    CHECK_MSG(exact > ref.numel / 2, "only %zu of %zu values exact", exact, ref.numel);
    npy_free(&mine);
    npy_free(&ref);
}

TEST(pipeline_png_output_is_a_valid_grid_and_is_not_overwritten)
{
    const char *pipe = make_pipeline();
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "generate --model %s --class 1,2,3 --steps 3 --out %s", pipe, test_path("g.png"));
    int st = test_cli(args, &out);
    CHECK_MSG(st == 0, "exit %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "pngcheck -q %s", test_path("g.png"));
    CHECK(system(args) == 0);
    snprintf(args, sizeof args, "generate --model %s --class 1 --steps 3 --out %s", pipe, test_path("g.png"));
    st = test_cli(args, &out);
    CHECK_MSG(st == 1 && strstr(out, "already exists"), "exit %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "generate --model %s/transformer --class 1 --steps 3 --out %s", pipe, test_path("x.png"));
    st = test_cli(args, &out);
    CHECK_MSG(st == 2 && strstr(out, "give --vae PATH"), "exit %d: %s", st, out);
    free(out);
    snprintf(args, sizeof args, "generate --model %s --class 1 --steps 3 --out %s", pipe, test_path("x.jpg"));
    st = test_cli(args, &out);
    CHECK_MSG(st == 2 && strstr(out, "must end in .png"), "exit %d: %s", st, out);
    free(out);
}

TEST(pipeline_sample_writes_a_uniform_class_npz)
{
    const char *pipe = make_pipeline();
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "sample --model %s --num 5 --batch 2 --steps 2 --out %s", pipe, test_path("s.npz"));
    int st = test_cli(args, &out);
    CHECK_MSG(st == 0 && strstr(out, "wrote 5 images"), "exit %d: %s", st, out);
    free(out);
    npy_array a;
    read_npz(test_path("s.npz"), &a);
    CHECK(a.rank == 4 && a.shape[0] == 5 && a.shape[1] == 64 && a.shape[3] == 3);
    npy_free(&a);
    snprintf(args, sizeof args, "unzip -tq %s", test_path("s.npz"));
    CHECK(system(args) == 0);
}

/* tmp/<name>: a pipeline folder whose transformer/ and vae/ hold the given weight files (file
 * names as diffusers writes them) beside their configs. */
static const char *make_pipeline_from(const char *name, const char *dit_config, const char *dit_weights,
                                      const char *vae_config, const char *vae_weights)
{
    static char dir[2][1200];
    static int k;
    char *d = dir[k++ % 2], p[2400];
    snprintf(d, sizeof dir[0], "%s/%s", test_tmpdir(), name);
    const char *sub[] = {"", "/transformer", "/vae"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", d, sub[i]);
        CHECK(mkdir(p, 0755) == 0);
    }
    const char *index = "{\"_class_name\":\"DiTPipeline\",\"transformer\":[\"diffusers\",\"DiTTransformer2DModel\"],"
                        "\"vae\":[\"diffusers\",\"AutoencoderKL\"]}";
    snprintf(p, sizeof p, "%s/model_index.json", d);
    test_write(p, index, strlen(index));
    const char *src[4] = {dit_config, dit_weights, vae_config, vae_weights};
    for (int i = 0; i < 4; i++) {
        const char *base = strrchr(src[i], '/') + 1;
        const char *dst = strstr(base, ".safetensors") ? "diffusion_pytorch_model.safetensors"
                          : strstr(base, ".bin")       ? "diffusion_pytorch_model.bin"
                                                       : "config.json";
        snprintf(p, sizeof p, "%s/%s/%s", d, i < 2 ? "transformer" : "vae", dst);
        copy_file(src[i], p);
    }
    return d;
}

TEST(pipeline_with_only_pytorch_bin_files_makes_the_images_of_its_safetensors_twin)
{
    /* diffusers' own files: the .bin of save_pretrained(safe_serialization=False) and the
     * safetensors of the same weights (tools/make_torch_fixtures.py); facebook/DiT-XL-2-256's vae/
     * ships only the .bin. */
    const char *bin = make_pipeline_from("bin", test_fixture("torch/dit_diffusers/config.json"),
                                         test_fixture("torch/dit_diffusers/diffusion_pytorch_model.bin"),
                                         test_fixture("torch/vae_a_bin/config.json"),
                                         test_fixture("torch/vae_a_bin/diffusion_pytorch_model.bin"));
    const char *twin = make_pipeline_from("twin", test_fixture("torch/dit_diffusers/config.json"),
                                          test_fixture("torch/dit_diffusers_twin.safetensors"),
                                          test_fixture("vae_a_diffusers/config.json"),
                                          test_fixture("vae_a_diffusers/diffusion_pytorch_model.safetensors"));
    const char *dirs[2] = {bin, twin};
    for (int i = 0; i < 2; i++) {
        char args[4096], *out = NULL;
        snprintf(args, sizeof args, "generate --model %s --class 1,7 --seed 3 --steps 6 --out %s/p.npz --latents-out %s/z.npy",
                 dirs[i], dirs[i], dirs[i]);
        const int st = test_cli(args, &out);
        CHECK_MSG(st == 0, "%s: exit %d: %s", dirs[i], st, out);
        free(out);
    }
    static const char *files[] = {"p.npz", "z.npy"};
    for (int f = 0; f < 2; f++) {
        char a[2400], b[2400];
        snprintf(a, sizeof a, "%s/%s", bin, files[f]);
        snprintf(b, sizeof b, "%s/%s", twin, files[f]);
        size_t na, nb;
        char *x = test_read(a, &na), *y = test_read(b, &nb);
        CHECK_MSG(na == nb && !memcmp(x, y, na), "%s differs between the .bin pipeline and its safetensors twin", files[f]);
        free(x);
        free(y);
    }
    npy_array pics;
    char p[2400];
    snprintf(p, sizeof p, "%s/p.npz", bin);
    read_npz(p, &pics);
    CHECK(pics.rank == 4 && pics.shape[0] == 2 && pics.shape[1] == 32 && pics.shape[3] == 3); /* 8 x 4 pixels */
    npy_free(&pics);
}
