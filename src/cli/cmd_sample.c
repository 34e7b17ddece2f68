/* smoothcache sample: many images for FID-style evaluation, classes drawn uniformly at random
 * (as the DiT repository's sample_ddp.py does), written as one uint8 NHWC .npz batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/images.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS,
    CLI_VAE_OPT,
    {"--num", "N", "images to make (default 50000, as the paper's FID-50K)"},
    {"--batch", "B", "images generated together (default 8)"},
    {"--seed", "S", "seed, 0..2^64-1, or -1 for a random one (printed): image i uses S+i; the classes come from S too (default 0)"},
    {"--steps", "N", "sampler steps, 1..1000 (default 50)"},
    {"--sampler", "NAME", "ddim (default), iddpm, dpmpp2m, k-euler, k-dpmpp2m or flow-euler (as for generate)"},
    {"--cfg", "F", "classifier-free guidance scale (default 1.5, the FID setting of the DiT paper)"},
    {"--threads", "N", "threads, 1..CPUs; 0 or absent: all CPUs"},
    {"--cache", "SPEC", "feature caching, as for generate (default none)"},
    {"--out", "FILE.npz", "the batch: uint8 [N, H, W, 3] as arr_0 (required)"},
    {"--force", NULL, "overwrite the output if it exists"},
    {"--quiet", NULL, "no progress line"},
};

static const char k_epilog[] =
    "The .npz is what the standard ImageNet evaluation suite (guided-diffusion evaluator.py) reads.\n"
    "Class of image i: uniform over the model's classes, from a generator seeded with S (the same\n"
    "seed gives the same classes and images; see docs/NUMERICS.md).\n"
    "example:\n"
    "  smoothcache sample --model DiT-XL-2-256/ --num 50000 --cache smooth:schedule=s.json --out samples.npz\n";

int cmd_sample(int argc, char **argv)
{
    cli_args a = {"sample", "Make many images with uniformly drawn classes, for FID/IS evaluation.",
                  "[--model PATH] [--num N] --out FILE.npz [options]", k_epilog, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_gen_params p = sc_gen_params_default();
    long num, batch;
    const char *out = cli_get(&a, "--out");
    const int force = cli_get(&a, "--force") != NULL, quiet = cli_get(&a, "--quiet") != NULL;
    double cfg;
    long steps;
    r = cli_path_ext(&a, "--out", ".npz");
    if (r) return r;
    if (cli_int(&a, "--num", 1, 10000000, 50000, &num) || cli_int(&a, "--batch", 1, 256, 8, &batch) ||
        cli_seed(&a, &p.seed) || cli_int(&a, "--steps", 1, 1000, 50, &steps) ||
        cli_float(&a, "--cfg", 1.0, 1000.0, 1.5, &cfg) || cli_threads(&a, &p.threads))
        return CLI_EXIT_USAGE;
    if ((r = cli_sampler(&a, &p.sampler))) return r;
    if (!out) return cli_usage_error(&a, "--out FILE.npz is required");
    if (strlen(out) < 5 || strcmp(out + strlen(out) - 4, ".npz"))
        return cli_usage_error(&a, "--out: '%s' must end in .npz", out);
    p.steps = (int)steps;
    p.cfg = (float)cfg;
    p.cache = cli_get(&a, "--cache");
    sc_set_quiet(quiet);
    sc_model *m = NULL;
    sc_vae *vae = NULL;
    int *classes = NULL;
    float *lat = NULL;
    uint8_t *rgb = NULL;
    sc_npz_writer *z = NULL;
    if (sc_output_check(out, force)) return cli_fail(&a);
    if ((r = cli_load_model(&a, &m, 1)) || (r = cli_load_vae(&a, m, 1, &vae))) goto done;
    sc_model_info info;
    sc_model_get_info(m, &info);
    const int side = sc_image_side(m, vae);
    classes = malloc((size_t)num * sizeof *classes);
    lat = malloc(sc_latent_bytes(m, (int)batch));
    rgb = malloc((size_t)batch * side * side * 3);
    if (!classes || !lat || !rgb) {
        fprintf(stderr, "smoothcache sample: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    sc_draw_classes(p.seed, info.num_classes, num, classes);
    const uint64_t shape[4] = {(uint64_t)num, (uint64_t)side, (uint64_t)side, 3};
    if (sc_npz_writer_open(out, "arr_0", 4, shape, force, &z)) {
        r = cli_fail(&a);
        goto done;
    }
    const uint64_t seed0 = p.seed;
    cli_progress ps;
    cli_progress_init(&ps, "sample", "image", quiet);
    for (long s = 0; s < num; s += batch) {
        const sc_cond cond = {.n = (int)(num - s < batch ? num - s : batch), .classes = classes + s};
        p.cond = &cond;
        p.seed = seed0 + (uint64_t)s;
        if (sc_generate(m, &p, lat) || sc_decode_images(m, vae, cond.n, lat, rgb, p.threads) ||
            sc_npz_writer_write(z, rgb, (size_t)cond.n * side * side * 3)) {
            r = cli_fail(&a);
            goto done;
        }
        cli_progress_update(&ps, s + cond.n, num, -1);
    }
    cli_progress_end(&ps);
    sc_status closed = sc_npz_writer_close(z);
    z = NULL;
    if (closed) {
        r = cli_fail(&a);
        goto done;
    }
    if (!quiet) fprintf(stderr, "wrote %ld images (%dx%d) to %s\n", num, side, side, out);
done:
    sc_npz_writer_abort(z);
    free(classes);
    free(lat);
    free(rgb);
    sc_vae_free(vae);
    sc_model_free(m);
    return r;
}
