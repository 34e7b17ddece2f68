/* The CPU backend's ISA-dependent kernels (src/backend/cpu/vec.h): the run-time choice follows
 * the CPU's features and $SMOOTHCACHE_MAX_ISA, and every copy this CPU can run computes what the
 * kernels promise (against double-precision sums and expf), tails and masks included. */
#include <stdlib.h>

#include "backend/cpu/vec.h"
#include "harness.h"

/* The name of the best copy this CPU runs, from the compiler's own feature test. */
static const char *expected_best(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        return "avx512";
    if (avx2) return "avx2";
#endif
    return "baseline";
}

TEST(vec_the_choice_follows_the_cpu_and_the_cap)
{
    const char *best = expected_best();
    CHECK_MSG(!strcmp(cpu_vec_pick(NULL)->name, best), "picked %s, the CPU supports %s", cpu_vec_pick(NULL)->name, best);
    CHECK(!strcmp(cpu_vec_pick("avx512")->name, best));
    CHECK(!strcmp(cpu_vec_pick("baseline")->name, "baseline"));
    CHECK(!strcmp(cpu_vec_pick("avx2")->name, strcmp(best, "baseline") ? "avx2" : "baseline"));
    CHECK(cpu_vec_pick("sse9") == NULL && cpu_vec_pick("") == NULL && cpu_vec_pick("AVX2") == NULL);
    CHECK(!strcmp(cpu_vec_baseline.name, "baseline"));
#if defined(__x86_64__)
    /* Every copy is built on x86-64, also those this CPU cannot run. */
    CHECK(!strcmp(cpu_vec_avx2.name, "avx2") && !strcmp(cpu_vec_avx512.name, "avx512"));
    CHECK(cpu_vec_avx512.ln_modulate_row && cpu_vec_avx512.exp_sub_sum && cpu_vec_avx512.scale_shift_row);
#endif
}

TEST(vec_the_environment_caps_the_choice_once)
{
    setenv("SMOOTHCACHE_MAX_ISA", "baseline", 1);
    CHECK(!strcmp(cpu_vec()->name, "baseline"));
    setenv("SMOOTHCACHE_MAX_ISA", "avx512", 1);
    CHECK(!strcmp(cpu_vec()->name, "baseline")); /* chosen once per process */
}

TEST(vec_an_unknown_cap_is_ignored)
{
    sc_set_quiet(1);
    setenv("SMOOTHCACHE_MAX_ISA", "sse9", 1);
    CHECK(!strcmp(cpu_vec()->name, expected_best()));
}

/* The tables this CPU can run. */
static int runnable(const cpu_vec_ops **out)
{
    int n = 0;
    static const char *const names[] = {"baseline", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        const cpu_vec_ops *v = cpu_vec_pick(names[i]);
        if (!strcmp(v->name, names[i])) out[n++] = v;
    }
    return n;
}

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(vec_every_runnable_copy_computes_its_kernels)
{
    const cpu_vec_ops *tabs[3];
    const int nt = runnable(tabs);
    CHECK(nt >= 1);
    static const int lens[] = {1, 7, 16, 37, 128, 1153};
    enum { N = 1153 };
    float x[N], a[N], b[N], y[N], e[N];
    unsigned seed = 7;
    for (int i = 0; i < N; i++) x[i] = 3 * frand(&seed), a[i] = frand(&seed), b[i] = frand(&seed);
    for (int t = 0; t < nt; t++) {
        const cpu_vec_ops *v = tabs[t];
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            const int n = lens[k];
            /* LayerNorm + modulation against double sums. */
            double s = 0, q = 0;
            for (int i = 0; i < n; i++) s += x[i];
            const double mean = s / n;
            for (int i = 0; i < n; i++) q += (x[i] - mean) * (x[i] - mean);
            const double rstd = 1 / sqrt(q / n + 1e-6);
            v->ln_modulate_row(y, x, n, 1e-6f, b, a);
            for (int i = 0; i < n; i++) {
                const double want = (x[i] - mean) * rstd * (1 + a[i]) + b[i];
                CHECK_MSG(fabs(y[i] - want) <= 1e-4 * (1 + fabs(want)), "%s ln n=%d i=%d: %g vs %g", v->name, n, i,
                          y[i], want);
            }
            /* exp(x - max) and its sum. */
            float mx = x[0];
            for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
            const float sum = v->exp_sub_sum(x, mx, e, n);
            double ref = 0;
            for (int i = 0; i < n; i++) {
                const double want = exp((double)x[i] - mx);
                ref += want;
                CHECK_MSG(fabs(e[i] - want) <= 1e-6 * want + 1e-30, "%s exp n=%d i=%d: %g vs %g", v->name, n, i, e[i],
                          want);
            }
            CHECK_MSG(fabs(sum - ref) <= 1e-5 * ref, "%s exp sum n=%d: %g vs %g", v->name, n, sum, ref);
            /* x a + b, then SiLU. */
            for (int silu = 0; silu < 2; silu++) {
                v->scale_shift_row(y, x, a, b, n, silu);
                for (int i = 0; i < n; i++) {
                    double want = (double)x[i] * a[i] + b[i];
                    if (silu) want = want / (1 + exp(-want));
                    CHECK_MSG(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want)), "%s scale_shift silu=%d n=%d i=%d: %g vs %g",
                              v->name, silu, n, i, y[i], want);
                }
            }
            /* SwiGLU: a * silu(x). */
            v->swiglu_row(y, a, x, n);
            for (int i = 0; i < n; i++) {
                const double want = a[i] * ((double)x[i] / (1 + exp(-(double)x[i])));
                CHECK_MSG(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want)), "%s swiglu n=%d i=%d: %g vs %g", v->name, n, i,
                          y[i], want);
            }
            /* L1 sums, plain and of a residual. */
            double d = 0, r = 0, dr = 0;
            for (int i = 0; i < n; i++) {
                d += fabs((double)x[i] - b[i]), r += fabs(b[i]);
                dr += fabs((double)(float)(x[i] - a[i]) - b[i]);
            }
            float fd, fr;
            v->l1_chunk(x, b, (size_t)n, &fd, &fr);
            CHECK_MSG(fabs(fd - d) <= 1e-5 * d && fabs(fr - r) <= 1e-5 * r, "%s l1 n=%d: %g %g vs %g %g", v->name, n, fd,
                      fr, d, r);
            v->l1_residual_chunk(x, a, b, (size_t)n, &fd, &fr);
            CHECK_MSG(fabs(fd - dr) <= 1e-5 * dr && fabs(fr - r) <= 1e-5 * r, "%s l1 residual n=%d: %g vs %g", v->name,
                      n, fd, dr);
        }
    }
}

TEST(vec_swiglu_keeps_the_limits_of_its_gate)
{
    /* Far out the gate is the identity (x > 88: exp(-x) underflows) or zero (x < -88: it
     * overflows to inf, x / inf = -0); NaN stays NaN; 17 values cover a vector and a tail. */
    const float g[17] = {100.0f, 89.0f, -89.0f, -100.0f, -1e30f, 1e30f, NAN, 0.0f, -0.0f,
                         20.0f, -20.0f, 1.0f, -1.0f, 87.5f, -87.5f, 3.0f, NAN};
    float a[17], y[17];
    for (int i = 0; i < 17; i++) a[i] = 2.0f;
    const cpu_vec_ops *tabs[3];
    const int nt = runnable(tabs);
    for (int t = 0; t < nt; t++) {
        tabs[t]->swiglu_row(y, a, g, 17);
        for (int i = 0; i < 17; i++) {
            const double want = 2.0 * ((double)g[i] / (1 + exp(-(double)g[i])));
            if (isnan(g[i])) {
                CHECK_MSG(isnan(y[i]), "%s swiglu(NaN) = %g", tabs[t]->name, y[i]);
                continue;
            }
            CHECK_MSG(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want)), "%s swiglu(%g) = %g, want %g", tabs[t]->name, g[i],
                      y[i], want);
        }
    }
}
