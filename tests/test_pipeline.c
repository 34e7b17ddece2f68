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
