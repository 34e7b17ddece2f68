/* Generation guarantees: determinism, the NaN/Inf guard, and outputs that change with the seed. */
#include <sys/stat.h>

#include "harness.h"
#include "tiny_dit.h"

static sc_model *tiny(const char *poison)
{
    tiny_dit t = tiny_dit_default();
    t.poison = poison;
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_load_opts o = {.num_heads = 4};
    sc_model *m;
    CHECK_OK(sc_model_load(test_path("m.safetensors"), &o, &m));
    return m;
}

static sc_status run(sc_model *m, uint64_t seed, int threads, sc_sampler s, float *out)
{
    static const int classes[3] = {0, 3, 4};
    static const sc_cond cond = {.n = 3, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = 6;
    p.seed = seed;
    p.threads = threads;
    p.sampler = s;
    return sc_generate(m, &p, out);
}

TEST(generate_same_seed_and_threads_is_bit_identical_for_every_sampler)
{
    sc_model *m = tiny(NULL);
    size_t n = sc_latent_bytes(m, 3);
    float *a = malloc(n), *b = malloc(n), *c = malloc(n);
    for (int s = SC_SAMPLER_DDIM; s <= SC_SAMPLER_DPMPP2M; s++) {
        CHECK_OK(run(m, 11, 2, (sc_sampler)s, a));
        CHECK_OK(run(m, 11, 2, (sc_sampler)s, b));
        CHECK(memcmp(a, b, n) == 0);
        CHECK_OK(run(m, 12, 2, (sc_sampler)s, c));
        CHECK(memcmp(a, c, n) != 0); /* another seed, other latents */
        /* A different thread count may reorder sums: equal to 1e-5 (docs/NUMERICS.md). */
        CHECK_OK(run(m, 11, 1, (sc_sampler)s, c));
        double md = 0, mr = 0;
        for (size_t i = 0; i < n / sizeof(float); i++) {
            md = fmax(md, fabs(a[i] - c[i]));
            mr = fmax(mr, fabs(a[i]));
        }
        CHECK_MSG(md <= 1e-5 * mr, "sampler %d: 1 vs 2 threads differ by %g (max %g)", s, md, mr);
    }
    free(a); free(b); free(c);
    sc_model_free(m);
}

TEST(generate_stops_on_a_non_finite_latent_naming_the_step)
{
    sc_model *m = tiny("final_layer.linear.bias");
    float *out = malloc(sc_latent_bytes(m, 3));
    CHECK_ERR(run(m, 1, 0, SC_SAMPLER_DDIM, out), SC_ERR_NUMERIC, "non-finite latent at step 1/6 (timestep 830)");
    free(out);
    sc_model_free(m);
}

TEST(generate_nan_weights_are_found_by_the_optional_scan)
{
    tiny_dit t = tiny_dit_default();
    t.poison = "blocks.1.mlp.fc1.weight";
    tiny_dit_write(test_path("m.safetensors"), &t);
    sc_load_opts o = {.num_heads = 4, .check_weights = 1};
    sc_model *m;
    CHECK_ERR(sc_model_load(test_path("m.safetensors"), &o, &m), SC_ERR_NUMERIC, "non-finite weight (block 1)");
}

TEST(generate_cli_leaves_no_file_after_a_numeric_failure)
{
    tiny_dit t = tiny_dit_default();
    t.poison = "final_layer.linear.bias";
    tiny_dit_write(test_path("m.safetensors"), &t);
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "generate --model %s --heads 4 --steps 3 --latents-out %s", test_path("m.safetensors"),
             test_path("z.npy"));
    int st = test_cli(args, &out);
    CHECK_MSG(st == 1 && strstr(out, "non-finite latent at step 1/3"), "exit %d: %s", st, out);
    free(out);
    struct stat sb;
    CHECK(stat(test_path("z.npy"), &sb) != 0);
}
