/* smoothcache sample: many images for FID-style evaluation, classes drawn uniformly at random
 * (as the DiT repository's sample_ddp.py does), written as one uint8 NHWC .npz batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/images.h"
#include "cli/mpi.h"
#include "smoothcache_tools.h"

static const cli_opt k_opts[] = {
    CLI_MODEL_OPTS_DEFAULT("the shipped class demo"),
    CLI_VAE_OPT,
    {"--num", "N", "images to make (default 50000, as the paper's FID-50K)"},
    {"--batch", "B", "images generated together (default 8)"},
    {"--seed", "S", "seed, 0..2^64-1, or -1 for a random one (printed): image i uses S+i; the classes come from S too (default 0)"},
    {"--steps", "N", "sampler steps, 1..1000 (default 50)"},
    {"--sampler", "NAME", "ddim (default), iddpm, dpmpp2m, k-euler, k-dpmpp2m, flow-euler, k-dpmpp3m-sde or cosine-dpmpp2m-sde (as for generate)"},
    {"--cfg", "F", "classifier-free guidance scale (default 1.5, the FID setting of the DiT paper)"},
    {"--threads", "N", "threads, 1..CPUs; 0 or absent: all CPUs"},
    {"--cache", "SPEC", "feature caching, as for generate (default none)"},
    {"--out", "FILE.npz", "the batch: uint8 [N, H, W, 3] as arr_0 (required); a shard writes FILE.shard-I-of-N.npz "
                          "and its manifest .json instead"},
    {"--shard", "I/N", "make only shard I of N (0 <= I < N): whole batches of the run, the images the one-process "
                       "run makes at those indices (default: from $OMPI_COMM_WORLD_RANK/SIZE, $PMI_RANK/SIZE, "
                       "$SLURM_PROCID/NTASKS, $SLURM_ARRAY_TASK_ID/COUNT or $JOB_COMPLETION_INDEX)"},
    {"--shards", "N", "the number of shards when the launcher gives only an index ($JOB_COMPLETION_INDEX)"},
    {"--force", NULL, "overwrite the output if it exists"},
    {"--quiet", NULL, "no progress line"},
};

static const char k_epilog[] =
    "The .npz is what the standard ImageNet evaluation suite (guided-diffusion evaluator.py) reads.\n"
    "Class of image i: uniform over the model's classes, from a generator seeded with S (the same\n"
    "seed gives the same classes and images; see docs/NUMERICS.md).\n"
    "Sharded (docs/SCALE.md): every shard makes whole batches of the one run, image i with seed S+i\n"
    "and class i of the run, so the merged shards equal the one-process .npz byte for byte whatever\n"
    "the number of shards. A shard whose manifest says it is complete is skipped when run again.\n"
    "examples:\n"
    "  smoothcache sample --model DiT-XL-2-256/ --num 50000 --cache smooth:schedule=s.json --out samples.npz\n"
    "  smoothcache sample --model DiT-XL-2-256/ --num 50000 --shard 3/8 --out samples.npz   # samples.shard-00003-of-00008.npz\n"
    "  smoothcache merge samples.npz samples.shard-*.npz\n";

int cmd_sample(int argc, char **argv)
{
    cli_args a = {"sample", "Make many images with uniformly drawn classes, for FID/IS evaluation.",
                  "[--model PATH] [--num N] --out FILE.npz [options]", k_epilog, k_opts, sizeof k_opts / sizeof *k_opts, {0}};
    int r = cli_parse(&a, argc, argv);
    if (r) return r < 0 ? 0 : r;
    sc_dtype dtype_check; /* a bad --dtype is a usage error before any file is looked at */
    if (cli_dtype(&a, &dtype_check)) return CLI_EXIT_USAGE;
    sc_gen_params p = sc_gen_params_default();
    long num, batch;
    const char *out = cli_get(&a, "--out");
    const int force = cli_get(&a, "--force") != NULL;
    int quiet = cli_get(&a, "--quiet") != NULL;
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
    sc_model *m = NULL;
    sc_vae *vae = NULL;
    int *classes = NULL;
    float *lat = NULL;
    uint8_t *rgb = NULL;
    sc_npz_writer *z = NULL;
    long shards_hint;
    if (cli_int(&a, "--shards", 1, 100000, 0, &shards_hint)) return CLI_EXIT_USAGE;
    /* Under an MPI launcher an MPI build gathers every rank's batches into the one output rank 0
     * writes; otherwise (or with --shard) each process is a shard writing its own file. */
    cli_mpi mp;
    sc_shard sh = {0, 1, NULL};
    if (!cli_get(&a, "--shard")) cli_mpi_start(&mp);
    else mp = (cli_mpi){0, 0, 1};
    const int root = mp.rank == 0;
    if (!mp.active && sc_shard_detect(cli_get(&a, "--shard"), (int)shards_hint, &sh) != SC_OK)
        return cli_usage_error(&a, "%s", sc_last_error());
    if (!root) quiet = 1; /* one progress display, rank 0's */
    sc_set_quiet(quiet);
    char shard_npz[4200], shard_json[4200];
    uint64_t begin = 0, end = (uint64_t)num;
    const char *target = out;
    if (sh.count > 1) {
        sc_shard_range((uint64_t)num, (int)batch, sh.index, sh.count, &begin, &end);
        if (sc_shard_names(out, sh.index, sh.count, shard_npz, shard_json, sizeof shard_npz)) return cli_fail(&a);
        target = shard_npz;
        if (begin == end) {
            if (!quiet)
                fprintf(stderr, "smoothcache sample: shard %d/%d (%s) has no images: %ld images make %ld batch(es) of %ld\n",
                        sh.index, sh.count, sh.source, num, (num + batch - 1) / batch, batch);
            return 0;
        }
    }
    if ((r = cli_load_model(&a, &m, 1)) || (r = cli_load_vae(&a, m, 1, &vae))) goto done;
    cli_sampling_defaults(&a, m, &p);
    sc_model_info info;
    sc_model_get_info(m, &info);
    const int side = sc_image_side(m, vae);
    char model_fp[17] = "", vae_fp[17] = "";
    int replace_own = 0; /* a shard's own leftovers (no manifest, or its incomplete one) */
    sc_shard_info si = {0};
    if (sh.count > 1) {
        if (sc_model_fingerprint(m, model_fp)) {
            r = cli_fail(&a);
            goto done;
        }
        if (vae) sc_vae_fingerprint(vae, vae_fp);
        si = (sc_shard_info){.index = sh.index, .count = sh.count, .begin = begin, .end = end, .num = (uint64_t)num,
                             .batch = (int)batch, .steps = p.steps, .side = side, .seed = p.seed, .cfg = p.cfg,
                             .sampler = sc_sampler_name(p.sampler), .dtype = info.compute_dtype, .cache = p.cache,
                             .model = cli_model_path(&a), .model_fingerprint = model_fp, .vae_fingerprint = vae_fp};
        char why[600];
        const int state = sc_shard_is_complete(shard_json, shard_npz, &si, why, sizeof why);
        if (!force && state == 1) {
            if (!quiet)
                fprintf(stderr, "smoothcache sample: shard %d/%d (images %llu..%llu) is already complete in %s: skipped\n",
                        sh.index, sh.count, (unsigned long long)begin, (unsigned long long)end - 1, shard_npz);
            goto done;
        }
        if (!force && state < 0) {
            fprintf(stderr, "smoothcache sample: %s is another run's manifest (%s); --force replaces it\n", shard_json,
                    why);
            r = CLI_EXIT_FAIL;
            goto done;
        }
        replace_own = state == 0;
        if (!quiet)
            fprintf(stderr, "smoothcache sample: shard %d/%d (%s): images %llu..%llu of %ld\n", sh.index, sh.count,
                    sh.source, (unsigned long long)begin, (unsigned long long)end - 1, num);
    }
    /* A shard's .npz without a manifest (or with this run's incomplete one) is what a run killed
     * between the two writes left: it is replaced. */
    if (root && sc_output_check(target, force || replace_own)) {
        r = cli_fail(&a);
        goto done;
    }
    classes = malloc((size_t)num * sizeof *classes);
    lat = malloc(sc_latent_bytes(m, (int)batch));
    rgb = malloc((size_t)batch * side * side * 3);
    if (!classes || !lat || !rgb) {
        fprintf(stderr, "smoothcache sample: out of memory\n");
        r = CLI_EXIT_FAIL;
        goto done;
    }
    sc_draw_classes(p.seed, info.num_classes, num, classes);
    const uint64_t shape[4] = {end - begin, (uint64_t)side, (uint64_t)side, 3};
    if (root && sc_npz_writer_open(target, "arr_0", 4, shape, force || replace_own, &z)) {
        r = cli_fail(&a);
        goto done;
    }
    if (mp.active && root && !quiet)
        fprintf(stderr, "smoothcache sample: %d MPI ranks, batches dealt in turn, gathered into %s\n", mp.size, out);
    const uint64_t seed0 = p.seed;
    cli_progress ps;
    cli_progress_init(&ps, "sample", "image", quiet);
    /* Global batch k holds images [k B, (k + 1) B). A shard runs its range's batches; under MPI,
     * batch k is rank (k mod size)'s, and rank 0 takes them all in order, making its own and
     * receiving the others', so at most one batch per rank is in flight. */
    const long kb = (long)(begin / (uint64_t)batch), ke = (long)((end + (uint64_t)batch - 1) / (uint64_t)batch);
    const long step = mp.active && !root ? mp.size : 1;
    for (long k = mp.active ? mp.rank : kb; k < ke; k += step) {
        const long s = k * batch;
        const sc_cond cond = {.n = (int)((long)end - s < batch ? (long)end - s : batch), .classes = classes + s};
        const size_t bytes = (size_t)cond.n * side * side * 3;
        const int owner = mp.active ? (int)(k % mp.size) : 0;
        p.cond = &cond;
        p.seed = seed0 + (uint64_t)s; /* image i of the run: seed S + i, whatever shard or rank makes it */
        if (owner == mp.rank) {
            if (sc_generate(m, &p, lat) || sc_decode_images(m, vae, cond.n, lat, rgb, p.threads)) {
                r = cli_fail(&a);
                if (mp.active) {
                    fprintf(stderr, "smoothcache sample: MPI rank %d failed at images %ld..%ld: ending every rank\n",
                            mp.rank, s, s + cond.n - 1);
                    cli_mpi_abort(&mp, r);
                }
                goto done;
            }
        } else if (cli_mpi_recv(&mp, rgb, bytes, owner, (int)(k % 32768))) {
            fprintf(stderr, "smoothcache sample: receiving images %ld..%ld from MPI rank %d failed\n", s,
                    s + cond.n - 1, owner);
            cli_mpi_abort(&mp, CLI_EXIT_FAIL);
        }
        if (!root) {
            if (cli_mpi_send(&mp, rgb, bytes, 0, (int)(k % 32768))) {
                fprintf(stderr, "smoothcache sample: MPI rank %d could not send images %ld..%ld\n", mp.rank, s,
                        s + cond.n - 1);
                cli_mpi_abort(&mp, CLI_EXIT_FAIL);
            }
            continue;
        }
        if (sc_npz_writer_write(z, rgb, bytes)) {
            r = cli_fail(&a);
            if (mp.active) cli_mpi_abort(&mp, r);
            goto done;
        }
        cli_progress_update(&ps, s + cond.n - (long)begin, (long)(end - begin), -1);
    }
    cli_progress_end(&ps);
    if (!root) goto done;
    sc_status closed = sc_npz_writer_close(z);
    z = NULL;
    /* The manifest last: it says "complete" only once the images are in place. */
    if (closed || (sh.count > 1 && sc_shard_manifest_write(shard_json, &si, 1))) {
        r = cli_fail(&a);
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "wrote %llu images (%dx%d) to %s%s%s\n", (unsigned long long)(end - begin), side, side, target,
                sh.count > 1 ? " and its manifest " : "", sh.count > 1 ? shard_json : "");
done:
    sc_npz_writer_abort(z);
    free(classes);
    free(lat);
    free(rgb);
    sc_vae_free(vae);
    sc_model_free(m);
    /* A rank that fails must not leave the others waiting for it. */
    if (mp.active && r) cli_mpi_abort(&mp, r);
    cli_mpi_stop(&mp);
    return r;
}
