/* Which copy of the ISA-dependent kernels (vec.h) this process runs: the CPU's features as the
 * compiler's runtime reports them (__builtin_cpu_supports, which also checks that the operating
 * system saves the vector registers), capped by $SMOOTHCACHE_MAX_ISA. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/vec.h"
#include "core/error.h"

/* The instruction sets in rising order, with what each copy was compiled for (CMakeLists.txt). */
static int supported(int level)
{
#if defined(SC_VEC_X86)
    __builtin_cpu_init();
    if (level == 1) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (level == 2)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && supported(1);
#endif
    return level == 0;
}

static const cpu_vec_ops *table(int level)
{
#if defined(SC_VEC_X86)
    if (level == 2) return &cpu_vec_avx512;
    if (level == 1) return &cpu_vec_avx2;
#endif
    (void)level;
    return &cpu_vec_baseline;
}

static const char *const k_names[] = {"baseline", "avx2", "avx512"};

const cpu_vec_ops *cpu_vec_pick(const char *max)
{
    int cap = 2;
    if (max) {
        for (cap = 2; cap >= 0 && strcmp(max, k_names[cap]); cap--) {}
        if (cap < 0) return NULL;
    }
    int level = cap;
    while (level > 0 && !supported(level)) level--;
    return table(level);
}

const cpu_vec_ops *cpu_vec(void)
{
    static _Atomic(const cpu_vec_ops *) chosen;
    const cpu_vec_ops *v = atomic_load_explicit(&chosen, memory_order_acquire);
    if (v) return v;
    const char *max = getenv("SMOOTHCACHE_MAX_ISA");
    if (max && !*max) max = NULL;
    v = cpu_vec_pick(max);
    if (!v) {
        err_warn("SMOOTHCACHE_MAX_ISA='%s' is not baseline, avx2 or avx512; ignored", max);
        v = cpu_vec_pick(NULL);
    }
    atomic_store_explicit(&chosen, v, memory_order_release);
    return v;
}
