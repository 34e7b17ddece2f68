/* Flow matching's Euler step as diffusers' FlowMatchEulerDiscreteScheduler takes it (static
 * shift, set_timesteps(steps)): the training table s_j = shift(j / N) for j = N..1, whose ends
 * give s_max = 1 and s_min = shift(1/N); the step's s_i = shift(linspace(s_max N, s_min N, steps) / N)
 * in double (numpy), cast to float32, then 0; the model's time input is s_i N; the update
 * x += (s_next - s) v for a model that predicts v = noise - x0. shift(s) = k s / (1 + (k - 1) s)
 * (diffusers shifts the table's end, then the steps again). */
#include "sample/sampler.h"

enum { C_DT };

static double shifted(double k, double s) { return k * s / (1.0 + (k - 1.0) * s); }

sc_status flow_euler_plan(sampler_plan *p, const sched_config *sc, int steps)
{
    const int N = sc->num_train;
    const double k = sc->shift;
    /* The table's ends in float32, as diffusers builds it (torch float32), read back as doubles. */
    const float t_min = 1.0f / (float)N;
    const double s_max = (double)((float)k * 1.0f / (1.0f + (float)(k - 1.0) * 1.0f));
    const double s_min = (double)((float)k * t_min / (1.0f + (float)(k - 1.0) * t_min));
    float s[SCHED_MAX_TRAIN + 1];
    const double a = s_max * N, b = s_min * N;
    for (int i = 0; i < steps; i++) {
        /* numpy.linspace(a, b, steps): a + i * (b - a) / (steps - 1), the last exactly b. */
        const double t = steps == 1 ? a : i == steps - 1 ? b : a + i * ((b - a) / (steps - 1));
        s[i] = (float)shifted(k, t / N);
    }
    s[steps] = 0.0f;
    for (int i = 0; i < steps; i++) {
        p->model_t[i] = s[i] * (float)N;
        p->timesteps[i] = (int)np_round(p->model_t[i]);
        p->coef[i][C_DT] = s[i + 1] - s[i];
    }
    p->own_time = 1;
    return SC_OK;
}

void flow_euler_step(const sampler_plan *p, int k, float *x, const float *v)
{
    const float dt = p->coef[k][C_DT];
    #pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < p->n; i++) x[i] = x[i] + dt * v[i];
}
