/* Noise schedules and timestep plans against the references' exact values. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "sample/sampler.h"

TEST(schedule_alphas_cumprod_f32_is_bit_exact_with_torch)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/alphas_f32.npy", test_fixtures());
    npy_array ref;
    CHECK_OK(npy_read(p, &ref));
    CHECK(ref.numel == 1000);
    sched_config sc;
    sched_default(&sc);
    float mine[1000];
    sched_alphas_cumprod_f32(&sc, mine);
    for (int i = 0; i < 1000; i++) CHECK_MSG(mine[i] == ref.data[i], "alphas_cumprod[%d] = %.9g, torch %.9g", i, mine[i], ref.data[i]);
    npy_free(&ref);
}

static void check_iddpm(int steps, const char *key)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/manifest.json", test_fixtures());
    json_t *j;
    CHECK_OK(json_load_object_file(p, 1u << 20, &j));
    const json_t *ref = json_object_get(j, key);
    CHECK((int)json_array_size(ref) == steps);
    sched_config sc;
    sched_default(&sc);
    sampler_plan plan;
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_IDDPM, steps, 1, 1, PREDICTS_EPSILON));
    /* The plan is in call order (noisiest first); the reference list ascends. */
    for (int k = 0; k < steps; k++)
        CHECK(plan.timesteps[steps - 1 - k] == (int)json_integer_value(json_array_get(ref, (size_t)k)));
    sampler_plan_free(&plan);
    json_decref(j);
}

TEST(schedule_iddpm_respacing_matches_space_timesteps) {
    check_iddpm(250, "iddpm_timesteps_250");
    check_iddpm(50, "iddpm_timesteps_50");
}

TEST(schedule_ddim_leading_50_is_980_down_to_0)
{
    sched_config sc;
    sched_default(&sc);
    sampler_plan plan;
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_DDIM, 50, 1, 0, PREDICTS_EPSILON));
    for (int k = 0; k < 50; k++) CHECK(plan.timesteps[k] == 980 - 20 * k);
    sampler_plan_free(&plan);
}

TEST(schedule_trailing_refuses_step_counts_where_diffusers_gives_an_extra_step)
{
    sched_config sc;
    sched_default(&sc);
    sc.spacing = SPACING_TRAILING;
    sampler_plan plan;
    CHECK_ERR(sampler_plan_make(&plan, &sc, SC_SAMPLER_DDIM, 61, 1, 0, PREDICTS_EPSILON), SC_ERR_ARG, "gives 62 timesteps");
    CHECK_OK(sampler_plan_make(&plan, &sc, SC_SAMPLER_DDIM, 50, 1, 0, PREDICTS_EPSILON));
    CHECK(plan.timesteps[0] == 999 && plan.timesteps[49] == 19);
    sampler_plan_free(&plan);
}
