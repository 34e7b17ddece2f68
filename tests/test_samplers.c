/* The samplers beyond the discrete (beta) schedule, against tools/reference_samplers.py:
 * k-diffusion's Euler and DPM-Solver++(2M) on Karras sigmas driving the fixture DiT end to end,
 * and flow matching's Euler step replayed on a latent of another shape against diffusers'
 * FlowMatchEulerDiscreteScheduler; then the refusals when sampler, schedule and model do not fit. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "sample/sampler.h"

static json_t *cases(void)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture("samplers/cases.json"), 1u << 20, &j));
    return j;
}

static void check_k_sampler(const char *name, sc_sampler kind)
{
    json_t *j = cases(), *c = json_object_get(j, name);
    CHECK(c != NULL);
    const int steps = (int)json_integer_value(json_object_get(c, "steps"));
    /* The plan: the model's fractional timesteps and the first noise level. */
    sched_config sc;
    sched_default(&sc);
    sampler_plan plan;
    CHECK_OK(sampler_plan_make(&plan, &sc, kind, steps, 1, 0, PREDICTS_EPSILON));
    const json_t *mt = json_object_get(c, "model_t"), *sig = json_object_get(c, "sigmas");
    CHECK((int)json_array_size(mt) == steps && (int)json_array_size(sig) == steps + 1);
    for (int k = 0; k < steps; k++) {
        const double want = json_number_value(json_array_get(mt, (size_t)k));
        CHECK_MSG(fabs(plan.model_t[k] - want) <= 1e-4 * fmax(want, 1.0), "%s step %d: t %.7g, k-diffusion %.7g", name, k,
                  plan.model_t[k], want);
    }
    const double s0 = json_number_value(json_array_get(sig, 0));
    CHECK_MSG(fabs(plan.init_sigma - s0) <= 1e-6 * s0, "%s: sigma_max %.9g, k-diffusion %.9g", name, plan.init_sigma, s0);
    sampler_plan_free(&plan);
    /* The whole trajectory. */
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture("dit_a"), NULL, &m));
    int classes[2] = {1, 2};
    const sc_cond cond = {.n = 2, .classes = classes};
    sc_gen_params p = sc_gen_params_default();
    p.cond = &cond;
    p.steps = steps;
    p.seed = (uint64_t)json_integer_value(json_object_get(c, "seed"));
    p.cfg = (float)json_number_value(json_object_get(c, "cfg"));
    p.sampler = kind;
    npy_array ref;
    CHECK_OK(npy_read(test_fixture_sub("samplers", json_string_value(json_object_get(c, "out"))), &ref));
    float *out = malloc(sc_latent_bytes(m, 2));
    CHECK(ref.numel * sizeof(float) == sc_latent_bytes(m, 2));
    CHECK_OK(sc_generate(m, &p, out));
    const double e = test_rel_err(out, ref.data, ref.numel), tol = json_number_value(json_object_get(c, "tol"));
    printf("  %s against k-diffusion: relative error %.3g\n", name, e);
    CHECK_MSG(e <= tol, "%s: final latents differ from k-diffusion's by %.3g (relative)", name, e);
    free(out);
    npy_free(&ref);
    sc_model_free(m);
    json_decref(j);
}

TEST(samplers_k_euler_matches_k_diffusion_on_the_fixture_dit) { check_k_sampler("k-euler", SC_SAMPLER_K_EULER); }

TEST(samplers_k_dpmpp2m_matches_k_diffusion_on_the_fixture_dit) { check_k_sampler("k-dpmpp2m", SC_SAMPLER_K_DPMPP2M); }

static void check_flow(const char *name)
{
    json_t *j = cases(), *c = json_object_get(j, name);
    CHECK(c != NULL);
    const int steps = (int)json_integer_value(json_object_get(c, "steps"));
    npy_array x0, v, ref;
    CHECK_OK(npy_read(test_fixture_sub("samplers", json_string_value(json_object_get(c, "x0"))), &x0));
    CHECK_OK(npy_read(test_fixture_sub("samplers", json_string_value(json_object_get(c, "v"))), &v));
    CHECK_OK(npy_read(test_fixture_sub("samplers", json_string_value(json_object_get(c, "out"))), &ref));
    CHECK(x0.rank == 4 && v.numel == (uint64_t)steps * x0.numel); /* [2, 3, 5, 7]: any shape */
    sched_config sc;
    sched_default(&sc);
    sc.kind = SCHED_FLOW;
    sc.num_train = (int)json_integer_value(json_object_get(c, "num_train"));
    sc.shift = json_number_value(json_object_get(c, "shift"));
    sampler_plan plan;
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_FLOW_EULER, steps, (size_t)x0.numel, 0, PREDICTS_FLOW));
    const json_t *mt = json_object_get(c, "model_t");
    for (int k = 0; k < steps; k++) {
        const double want = json_number_value(json_array_get(mt, (size_t)k));
        CHECK_MSG(plan.model_t[k] == (float)want, "%s step %d: t %.9g, diffusers %.9g", name, k, plan.model_t[k], want);
    }
    CHECK(plan.init_sigma == 1.0f);
    for (int k = 0; k < steps; k++) sampler_step(&plan, k, x0.data, v.data + (size_t)k * x0.numel, NULL, NULL);
    CHECK_MSG(!memcmp(x0.data, ref.data, ref.numel * sizeof(float)), "%s: final latents differ from diffusers' (%.3g)",
              name, test_rel_err(x0.data, ref.data, ref.numel));
    sampler_plan_free(&plan);
    npy_free(&x0);
    npy_free(&v);
    npy_free(&ref);
    json_decref(j);
}

TEST(samplers_flow_euler_equals_diffusers_flow_match_euler_bit_for_bit)
{
    check_flow("flow-euler-shift1");
    check_flow("flow-euler-shift3");
}

TEST(samplers_refuse_a_schedule_or_a_prediction_they_do_not_step)
{
    sched_config sc;
    sched_default(&sc);
    sampler_plan plan;
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_FLOW_EULER, 10, 1, 0, PREDICTS_FLOW), SC_ERR_ARG,
              "the flow-euler sampler runs on a flow-matching schedule; this model's scheduler is a beta schedule");
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_K_EULER, 10, 1, 0, PREDICTS_V), SC_ERR_ARG,
              "the k-euler sampler needs a model that predicts the noise (epsilon); this one predicts v");
    sc.kind = SCHED_FLOW;
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_DDIM, 10, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG,
              "the ddim sampler runs on a noise (beta) schedule; this model's scheduler is flow matching");
    /* A pipeline's FlowMatchEulerDiscreteScheduler configuration. */
    const char *cfg = "{\"_class_name\":\"FlowMatchEulerDiscreteScheduler\",\"num_train_timesteps\":1000,\"shift\":3.0}";
    test_write(test_path("s.json"), cfg, strlen(cfg));
    CHECK_OK(sched_load(&sc, test_path("s.json")));
    CHECK(sc.kind == SCHED_FLOW && sc.shift == 3.0 && sc.num_train == 1000);
    cfg = "{\"_class_name\":\"FlowMatchEulerDiscreteScheduler\",\"use_dynamic_shifting\":true}";
    test_write(test_path("s.json"), cfg, strlen(cfg));
    CHECK_ERR(sched_load(&sc, test_path("s.json")), SC_ERR_UNSUPPORTED, "use_dynamic_shifting is not supported");
}

TEST(samplers_a_flow_sampler_on_the_dit_is_refused_before_any_work)
{
    char *out = NULL;
    char args[2048];
    snprintf(args, sizeof args, "generate --model %s --class 1 --steps 4 --sampler flow-euler --latents-out %s",
             test_fixture("dit_a"), test_path("z.npy"));
    CHECK_MSG(test_cli(args, &out) == 2 && strstr(out, "runs on a flow-matching schedule"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "generate --model %s --class 1 --steps 4 --sampler k-dpmpp2m --latents-out %s",
             test_fixture("dit_a"), test_path("z.npy"));
    CHECK_MSG(test_cli(args, &out) == 0, "%s", out);
    free(out);
}

/* Scheduler configurations that make sampling impossible are refused before any sampling, with
 * the reason: betas reaching 1, alphas_cumprod underflowing to 0, a zero beta_start under IDDPM's
 * log variance, a multistep solver stepping to a noise-free timestep. */
static sc_status load_config(const char *json, sched_config *sc)
{
    test_write(test_path("scheduler_config.json"), json, strlen(json));
    return sched_load(sc, test_path("scheduler_config.json"));
}

TEST(samplers_refuse_configurations_that_make_sampling_impossible)
{
    sched_config sc;
    CHECK_ERR(load_config("{\"beta_start\": 0.0001, \"beta_end\": 1.0}", &sc), SC_ERR_FORMAT, "beta_end must be below 1");
    CHECK_ERR(load_config("{\"beta_start\": 0.5, \"beta_end\": 0.999}", &sc), SC_ERR_FORMAT,
              "alphas_cumprod underflows to 0 at timestep");
    sampler_plan plan;
    CHECK_OK(load_config("{\"beta_start\": 0.0, \"beta_end\": 0.02}", &sc));
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_IDDPM, 10, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG,
              "IDDPM's posterior log-variance is log 0 when beta_start is 0; no sampling was done");
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_DDIM, 10, 1, 0, PREDICTS_EPSILON)); /* DDIM is fine */
    sampler_plan_free(&plan);
    CHECK_OK(load_config("{\"num_train_timesteps\": 10, \"steps_offset\": 1}", &sc));
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_DPMPP2M, 10, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG,
              "10 dpmpp2m steps over 10 training timesteps visit timestep 4 twice (steps 6 and 7)");
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_DPMPP2M, 11, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG,
              "steps must be in 1..10 (got 11)");
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_DPMPP2M, 5, 1, 0, PREDICTS_EPSILON));
    sampler_plan_free(&plan);
}
