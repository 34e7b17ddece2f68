/* cosine-dpmpp2m-sde against diffusers' CosineDPMSolverMultistepScheduler driving the Stable Audio
 * fixture's transformer through StableAudioPipeline's loop (tools/reference_cosine_dpm.py,
 * tests/fixtures/stableaudio/cosine_dpm/): a pipeline folder whose scheduler/ holds the
 * configuration diffusers saved samples with it by default, and every step's latents match with
 * the reference's initial latents and per-step noise injected (Stable Audio Open's configuration
 * guided, heun with another sigma range and sigma_data, order 1 unguided). Then the seeded noise's
 * determinism, and the refusals: models without a sigma schedule, solver settings diffusers
 * cannot run. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "sample/sampler.h"

/* Stable Audio fixture `proj` as a pipeline folder with the case's scheduler configuration. */
static const char *pipeline_with_scheduler(const char *name, const char *scheduler_config)
{
    static char dir[1024];
    char cmd[8400];
    snprintf(dir, sizeof dir, "%s", test_path(name));
    snprintf(cmd, sizeof cmd, "mkdir -p %s/scheduler && cp -r %s %s %s %s/ && cp %s %s/scheduler/scheduler_config.json",
             dir, test_fixture_sub("stableaudio", "proj/model_index.json"),
             test_fixture_sub("stableaudio", "proj/transformer"), test_fixture_sub("stableaudio", "proj/projection_model"),
             dir, scheduler_config, dir);
    CHECK(system(cmd) == 0);
    return dir;
}

typedef struct {
    int steps;
    float *trajectory; /* [steps, n] */
    size_t n;
} recorder;

static int record(void *user, int step, int steps, double seconds, const float *latents)
{
    (void)seconds;
    recorder *r = user;
    CHECK(steps == r->steps && step >= 1 && step <= steps);
    memcpy(r->trajectory + (size_t)(step - 1) * r->n, latents, r->n * sizeof *latents);
    return 0;
}

/* The `guided` case's prompts of the fixture, as sc_cond. */
typedef struct {
    npy_array text, mask_a, secs;
    int mask[16];
    float start[2], total[2];
    sc_cond c;
} prompts;

static void prompts_load(prompts *p)
{
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/case_guided_text.npy"), &p->text));
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/case_guided_mask.npy"), &p->mask_a));
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "proj/case_guided_seconds.npy"), &p->secs));
    CHECK(p->mask_a.numel <= 16 && p->text.shape[0] == 2);
    for (uint64_t i = 0; i < p->mask_a.numel; i++) p->mask[i] = (int)p->mask_a.data[i];
    for (int i = 0; i < 2; i++) p->start[i] = p->secs.data[2 * i], p->total[i] = p->secs.data[2 * i + 1];
    p->c = (sc_cond){.n = 2, .text = p->text.data, .text_mask = p->mask, .text_len = (int)p->text.shape[1],
                     .text_dim = (int)p->text.shape[2], .n_scalars = 2};
    p->c.scalars[0] = (sc_scalar){"seconds_start", p->start};
    p->c.scalars[1] = (sc_scalar){"seconds_total", p->total};
}

static void prompts_free(prompts *p)
{
    npy_free(&p->text);
    npy_free(&p->mask_a);
    npy_free(&p->secs);
}

static void check_case(const char *name)
{
    json_t *all;
    CHECK_OK(json_load_object_file(test_fixture_sub("stableaudio", "cosine_dpm/cases.json"), 1u << 20, &all));
    const json_t *c = json_object_get(all, name);
    CHECK(c != NULL);
    const int steps = (int)json_integer_value(json_object_get(c, "steps"));
    const float cfg = (float)json_number_value(json_object_get(c, "cfg"));
    char rel[256], config[1024];
    snprintf(rel, sizeof rel, "cosine_dpm/%s/scheduler_config.json", name);
    snprintf(config, sizeof config, "%s", test_fixture_sub("stableaudio", rel));

    /* The plan: the transformer's time input at each step and the initial noise scale. */
    sched_config sc;
    CHECK_OK(sched_load(&sc, config));
    CHECK(sc.kind == SCHED_SIGMA && sc.sampler == SC_SAMPLER_COSINE_DPMPP2M_SDE);
    sampler_plan plan;
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, steps, 1, 0, PREDICTS_V));
    const json_t *ts = json_object_get(c, "timesteps");
    CHECK((int)json_array_size(ts) == steps);
    for (int k = 0; k < steps; k++) {
        const double want = json_number_value(json_array_get(ts, (size_t)k));
        CHECK_MSG(fabs(plan.model_t[k] - want) <= 2e-7, "%s step %d: time input %.9g, diffusers %.9g", name, k + 1,
                  (double)plan.model_t[k], want);
    }
    const float init = (float)json_number_value(json_object_get(c, "init_noise_sigma"));
    CHECK_MSG(plan.init_sigma == init, "%s: init_noise_sigma %.9g, diffusers %.9g", name, (double)plan.init_sigma,
              (double)init);
    sampler_plan_free(&plan);

    /* The trajectory, with no --sampler: the folder's scheduler is the default. */
    sc_model *m;
    CHECK_OK(sc_model_load(pipeline_with_scheduler(name, config), NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK_MSG(info.default_sampler == SC_SAMPLER_COSINE_DPMPP2M_SDE, "default sampler %s",
              sc_sampler_name((sc_sampler)info.default_sampler));
    npy_array lat, noise, ref;
    snprintf(rel, sizeof rel, "cosine_dpm/%s/latents_in.npy", name);
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", rel), &lat));
    snprintf(rel, sizeof rel, "cosine_dpm/%s/noise.npy", name);
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", rel), &noise));
    snprintf(rel, sizeof rel, "cosine_dpm/%s/trajectory.npy", name);
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", rel), &ref));
    const size_t n = lat.numel; /* [2, C, S] */
    CHECK(noise.numel == (uint64_t)steps * n && ref.numel == (uint64_t)steps * n);
    prompts pr;
    prompts_load(&pr);
    recorder rec = {.steps = steps, .n = n, .trajectory = malloc(ref.numel * sizeof(float))};
    float *out = malloc(n * sizeof *out);
    CHECK(rec.trajectory && out);
    sc_gen_params gp = sc_gen_params_default();
    gp.cond = &pr.c;
    gp.steps = steps;
    gp.sampler = (sc_sampler)info.default_sampler;
    gp.cfg = cfg;
    gp.threads = 1;
    gp.latents_in = lat.data;
    gp.noise_in = noise.data;
    gp.progress = record;
    gp.progress_user = &rec;
    CHECK_OK(sc_generate(m, &gp, out));
    double worst = 0;
    for (int k = 0; k < steps; k++) {
        const double e = test_rel_err(rec.trajectory + (size_t)k * n, ref.data + (size_t)k * n, n);
        worst = fmax(worst, e);
        CHECK_MSG(e <= 1e-4, "%s: the latents after step %d/%d differ from diffusers' by %.3g (relative)", name, k + 1,
                  steps, e);
    }
    const double final = test_rel_err(out, ref.data + (size_t)(steps - 1) * n, n);
    printf("  %s against diffusers: final %.3g, worst step %.3g (relative)\n", name, final, worst);
    CHECK(final <= 1e-4);
    free(out);
    free(rec.trajectory);
    prompts_free(&pr);
    npy_free(&lat);
    npy_free(&noise);
    npy_free(&ref);
    sc_model_free(m);
    json_decref(all);
}

TEST(cosine_dpm_matches_diffusers_stable_audio_open_config_guided) { check_case("midpoint"); }

TEST(cosine_dpm_matches_diffusers_heun_other_sigmas_and_sigma_data) { check_case("heun"); }

TEST(cosine_dpm_matches_diffusers_order1_unguided) { check_case("order1"); }

/* Without noise_in the engine draws its own: the same seed gives the same latents bit for bit,
 * another seed other ones, and neither is the injected-noise trajectory. */
TEST(cosine_dpm_seeded_noise_is_deterministic)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("stableaudio", "proj"), NULL, &m));
    prompts pr;
    prompts_load(&pr);
    npy_array ref, lat; /* [8, 2, C, S], [2, C, S] */
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "cosine_dpm/midpoint/trajectory.npy"), &ref));
    CHECK_OK(npy_read(test_fixture_sub("stableaudio", "cosine_dpm/midpoint/latents_in.npy"), &lat));
    const size_t n = lat.numel;
    CHECK(ref.numel == 8 * n);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    CHECK(a && b && c);
    sc_gen_params gp = sc_gen_params_default();
    gp.cond = &pr.c;
    gp.steps = 8;
    gp.sampler = SC_SAMPLER_COSINE_DPMPP2M_SDE;
    gp.cfg = 7.0f;
    gp.seed = 11;
    gp.latents_in = lat.data;
    gp.threads = 1;
    CHECK_OK(sc_generate(m, &gp, a));
    gp.threads = 2;
    CHECK_OK(sc_generate(m, &gp, b));
    CHECK(!memcmp(a, b, n * sizeof *a));
    gp.seed = 12;
    CHECK_OK(sc_generate(m, &gp, c));
    CHECK(test_rel_err(c, a, n) > 1e-2);
    CHECK(test_rel_err(a, ref.data + 7 * n, n) > 1e-2);
    for (size_t i = 0; i < n; i++) CHECK(isfinite(a[i]) && isfinite(c[i]));
    free(a);
    free(b);
    free(c);
    npy_free(&lat);
    npy_free(&ref);
    prompts_free(&pr);
    sc_model_free(m);
}

/* A model on a beta schedule (DiT) or flow matching is refused with the sampler's name and the
 * schedule it needs; so is an epsilon model on a sigma schedule. */
TEST(cosine_dpm_refuses_models_without_a_sigma_schedule)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    int classes[1] = {1};
    const sc_cond cond = {.n = 1, .classes = classes};
    sc_gen_params gp = sc_gen_params_default();
    gp.cond = &cond;
    gp.steps = 4;
    gp.sampler = SC_SAMPLER_COSINE_DPMPP2M_SDE;
    float *out = malloc(sc_latent_bytes(m, 1));
    CHECK(out != NULL);
    CHECK_ERR(sc_generate(m, &gp, out), SC_ERR_ARG,
              "the cosine-dpmpp2m-sde sampler runs on a sigma (v-diffusion) schedule; this model's scheduler is a "
              "beta schedule");
    free(out);
    sc_model_free(m);
    sched_config sc;
    sampler_plan plan;
    sched_default(&sc);
    sc.kind = SCHED_FLOW;
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, 4, 1, 0, PREDICTS_FLOW), SC_ERR_ARG,
              "this model's scheduler is flow matching");
    sampler_plan_free(&plan);
    sched_sigma_default(&sc);
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, 4, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG,
              "needs a model that predicts v");
    sampler_plan_free(&plan);
}

/* The scheduler file's solver settings: what diffusers cannot run (order 3 fails at its third
 * step; sigma_min as the final sigma makes a zero-length last step) is refused when this sampler
 * is asked for, not when the folder loads (k-dpmpp3m-sde reads only the sigmas); an unknown
 * solver_type is refused at load as diffusers refuses it; UniPC's names are midpoint there. */
TEST(cosine_dpm_scheduler_settings_refused_by_name)
{
    static const struct {
        const char *extra, *want;
    } bad[] = {
        {"\"solver_order\": 3", "solver_order 3"},
        {"\"final_sigmas_type\": \"sigma_min\"", "final_sigmas_type sigma_min"},
    };
    char path[1024];
    snprintf(path, sizeof path, "%s", test_path("cos_sched.json"));
    sched_config sc;
    sampler_plan plan;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"_class_name\": \"CosineDPMSolverMultistepScheduler\", %s}", bad[i].extra);
        test_write(path, text, strlen(text));
        CHECK_OK(sched_load(&sc, path));
        CHECK(sc.sampler == SC_SAMPLER_COSINE_DPMPP2M_SDE);
        CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_K_DPMPP3M_SDE, 4, 1, 0, PREDICTS_V));
        sampler_plan_free(&plan);
        CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, 4, 1, 0, PREDICTS_V), SC_ERR_ARG,
                  bad[i].want);
        sampler_plan_free(&plan);
    }
    const char *unknown = "{\"_class_name\": \"CosineDPMSolverMultistepScheduler\", \"solver_type\": \"euler\"}";
    test_write(path, unknown, strlen(unknown));
    CHECK_ERR(sched_load(&sc, path), SC_ERR_UNSUPPORTED, "solver_type \"euler\" is not supported");
    /* bh2 runs as midpoint: the same plan as the default. */
    const char *unipc = "{\"_class_name\": \"CosineDPMSolverMultistepScheduler\", \"solver_type\": \"bh2\"}";
    test_write(path, unipc, strlen(unipc));
    CHECK_OK(sched_load(&sc, path));
    sampler_plan a, b;
    CHECK_OK(sampler_plan_make(&a, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, 6, 1, 0, PREDICTS_V));
    sched_sigma_default(&sc);
    CHECK_OK(sampler_plan_make(&b, &sc, SC_SAMPLER_COSINE_DPMPP2M_SDE, 6, 1, 0, PREDICTS_V));
    CHECK(!memcmp(a.coef, b.coef, sizeof a.coef) && !memcmp(a.model_t, b.model_t, sizeof a.model_t));
    sampler_plan_free(&a);
    sampler_plan_free(&b);
}
