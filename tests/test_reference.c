/* The C engine against the PyTorch / diffusers reference (tests/fixtures, written by
 * tools/reference.py): forwards at several timesteps and classes, and whole sampler
 * trajectories with guidance, for every checkpoint layout. Tolerances from docs/NUMERICS.md. */
#include "core/rng.h"
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"

static json_t *manifest(void)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", test_fixtures());
    json_t *j;
    CHECK_OK(json_load_object_file(p, 1u << 20, &j));
    return j;
}

static void load_npy(const char *name, npy_array *a)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", test_fixtures(), name);
    CHECK_OK(npy_read(p, a));
}

static sc_model *load_case_model(const json_t *c)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", test_fixtures(), json_string_value(json_object_get(c, "model")));
    const json_t *h = json_object_get(c, "heads");
    const json_t *is = json_object_get(c, "input_size");
    sc_load_opts o = {.num_heads = json_is_integer(h) ? (int)json_integer_value(h) : 0,
                      .input_size = json_is_integer(is) ? (int)json_integer_value(is) : 0};
    sc_model *m;
    CHECK_OK(sc_model_load(p, &o, &m));
    return m;
}

static int *int_list(const json_t *arr, int *n)
{
    *n = (int)json_array_size(arr);
    int *v = calloc((size_t)*n, sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = (int)json_integer_value(json_array_get(arr, (size_t)i));
    return v;
}

static void run_forward_case(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    sc_model *m = load_case_model(c);
    npy_array x, ref;
    load_npy(json_string_value(json_object_get(c, "x")), &x);
    load_npy(json_string_value(json_object_get(c, "out")), &ref);
    int n;
    int *y = int_list(json_object_get(c, "y"), &n);
    int *ti = int_list(json_object_get(c, "t"), &n);
    float *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) t[i] = (float)ti[i];
    float *out = calloc(ref.numel, sizeof *out);
    const sc_cond rows = {.n = n, .classes = y};
    CHECK_OK(sc_model_forward(m, &rows, x.data, t, out, 0));
    double e = test_rel_err(out, ref.data, ref.numel);
    double tol = json_real_value(json_object_get(c, "tol"));
    CHECK_MSG(e <= tol, "%s: forward relative error %.3g > %.3g", name, e, tol);
    free(out); free(t); free(ti); free(y);
    npy_free(&x); npy_free(&ref);
    sc_model_free(m);
}

typedef struct {
    float *first;
    size_t n;
} first_step;

static int keep_first(void *user, int step, int steps, double secs, const float *lat)
{
    (void)steps; (void)secs;
    first_step *f = user;
    if (step == 1) memcpy(f->first, lat, f->n * sizeof(float));
    return 0;
}

static void run_trajectory_case(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *sampler = json_string_value(json_object_get(c, "sampler"));
    sc_model *m = load_case_model(c);
    sc_gen_params p = sc_gen_params_default();
    int n;
    int *classes = int_list(json_object_get(c, "classes"), &n);
    const sc_cond cond = {.n = n, .classes = classes};
    p.cond = &cond;
    p.steps = (int)json_integer_value(json_object_get(c, "steps"));
    p.cfg = (float)json_number_value(json_object_get(c, "cfg"));
    p.seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
    p.sampler = !strcmp(sampler, "ddim") ? SC_SAMPLER_DDIM : !strcmp(sampler, "iddpm") ? SC_SAMPLER_IDDPM
                                                                                        : SC_SAMPLER_DPMPP2M;
    /* The timesteps the reference called the model with, in order. */
    int nt;
    int *ts = int_list(json_object_get(c, "timesteps"), &nt);
    int *mine = calloc((size_t)nt, sizeof *mine);
    CHECK(nt == p.steps);
    CHECK_OK(sc_sampler_timesteps(m, p.sampler, p.steps, mine));
    for (int i = 0; i < nt; i++) CHECK_MSG(mine[i] == ts[i], "%s: timestep %d is %d, reference %d", name, i, mine[i], ts[i]);

    npy_array lin = {0}, ref, ref1;
    const json_t *li = json_object_get(c, "latents_in");
    if (json_is_string(li)) {
        load_npy(json_string_value(li), &lin);
        p.latents_in = lin.data;
    }
    load_npy(json_string_value(json_object_get(c, "out")), &ref);
    load_npy(json_string_value(json_object_get(c, "first_step")), &ref1);
    first_step fs = {calloc(ref.numel, sizeof(float)), ref.numel};
    p.progress = keep_first;
    p.progress_user = &fs;
    float *out = calloc(ref.numel, sizeof *out);
    CHECK(sc_latent_bytes(m, n) == ref.numel * sizeof(float));
    CHECK_OK(sc_generate(m, &p, out));
    double tol = json_real_value(json_object_get(c, "tol"));
    double e1 = test_rel_err(fs.first, ref1.data, ref1.numel), e = test_rel_err(out, ref.data, ref.numel);
    CHECK_MSG(e1 <= tol, "%s: first step relative error %.3g > %.3g", name, e1, tol);
    CHECK_MSG(e <= tol, "%s: final latent relative error %.3g > %.3g", name, e, tol);
    free(out); free(fs.first); free(ts); free(mine); free(classes);
    npy_free(&lin); npy_free(&ref); npy_free(&ref1);
    sc_model_free(m);
}

static void run_cases(const char *kind, void (*fn)(const json_t *))
{
    json_t *j = manifest();
    const json_t *cases = json_object_get(j, "cases");
    size_t i;
    json_t *c;
    int count = 0;
    json_array_foreach(cases, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "kind")), kind)) continue;
        fn(c);
        count++;
    }
    CHECK(count >= 4);
    json_decref(j);
}

TEST(reference_forward_matches_pytorch_for_every_layout) { run_cases("forward", run_forward_case); }

TEST(reference_trajectories_match_diffusers_and_original_samplers) { run_cases("trajectory", run_trajectory_case); }

TEST(reference_rng_replays_the_specified_generator)
{
    json_t *j = manifest();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rng"), i, r) {
        npy_array v;
        load_npy(json_string_value(json_object_get(r, "values")), &v);
        float *mine = calloc(v.numel, sizeof *mine);
        rng_state g;
        rng_seed(&g, (uint64_t)json_integer_value(json_object_get(r, "seed")));
        rng_normal(&g, mine, v.numel);
        CHECK(memcmp(mine, v.data, v.numel * sizeof(float)) == 0);
        free(mine);
        npy_free(&v);
    }
    json_decref(j);
}

TEST(reference_long_sequences_use_query_blocks_and_match_pytorch)
{
    /* 400 tokens > ATT_QBLOCK: the blocked attention path of 512-px models. */
    char p[2048];
    snprintf(p, sizeof p, "%s/long/dit_long", test_fixtures());
    sc_model *m;
    CHECK_OK(sc_model_load(p, NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(info.tokens == 400);
    npy_array x, ref;
    load_npy("long/long_x.npy", &x);
    load_npy("long/long_out.npy", &ref);
    float t[2] = {10, 700};
    int y[2] = {1, 5};
    float *out = calloc(ref.numel, sizeof *out);
    const sc_cond rows = {.n = 2, .classes = y};
    CHECK_OK(sc_model_forward(m, &rows, x.data, t, out, 0));
    double e = test_rel_err(out, ref.data, ref.numel);
    CHECK_MSG(e <= 1e-4, "400-token forward relative error %.3g", e);
    free(out);
    npy_free(&x);
    npy_free(&ref);
    sc_model_free(m);
}
