/* Kernel choices of the bf16 and int8 backends, timed against their alternative in the same run
 * (alternating, so that drift of the shared machine hits both), at DiT-XL/2's 256-px shapes:
 *
 *   int8 products: oneDNN's VNNI matmul with u8 activations (q + 128) into s32, as the int8
 *     backend runs it, against s8 activations into f32 (the library then adds the offset and a
 *     compensation on every call), prepacked weights, M = 512 rows, the four block products;
 *   bf16 attention: the fused AVX512-BF16 kernel (attention_bf16.c) against the oneDNN path
 *     (batched bf16 products around a float softmax, attention.c), B 2, T 256, 16 heads of 72.
 *
 *     build/bench_kernels [THREADS] [ROUNDS]     (defaults 2 and 5)
 *
 * Prints one line per comparison: the median over rounds of each round's mean time and the ratio.
 * Unset OPENBLAS_CORETYPE in the environment it runs in. */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cpu/kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
} product;

/* x [M, K] (src_dt) times prepacked s8 weights [K, N] into dst_dt. */
static int product_make(product *p, dnnl_engine_t eng, long M, long K, long N, dnnl_data_type_t src_dt,
                        dnnl_data_type_t dst_dt)
{
    dnnl_memory_desc_t smd, wmd, dmd;
    dnnl_dims_t sd = {M, K}, wd = {K, N}, dd = {M, N};
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    if (dnnl_memory_desc_init_by_tag(&smd, 2, sd, src_dt, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&wmd, 2, wd, dnnl_s8, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&dmd, 2, dd, dst_dt, dnnl_ab) || dnnl_matmul_desc_init(&md, &smd, &wmd, NULL, &dmd) ||
        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL))
        return 1;
    const dnnl_memory_desc_t *packed = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    int bad = dnnl_primitive_create(&p->prim, pd) || dnnl_memory_create(&p->src, &smd, eng, DNNL_MEMORY_ALLOCATE) ||
              dnnl_memory_create(&p->wei, packed, eng, DNNL_MEMORY_ALLOCATE) ||
              dnnl_memory_create(&p->dst, &dmd, eng, DNNL_MEMORY_ALLOCATE);
    dnnl_primitive_desc_destroy(pd);
    if (bad) return 1;
    void *h;
    dnnl_memory_get_data_handle(p->src, &h);
    memset(h, 3, (size_t)(M * K)); /* the timing does not depend on the values */
    return 0;
}

static double product_time(product *p, dnnl_stream_t s, int calls)
{
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_WEIGHTS, p->wei}, {DNNL_ARG_DST, p->dst}};
    dnnl_primitive_execute(p->prim, s, 3, a); /* warm */
    const double t0 = now();
    for (int i = 0; i < calls; i++) dnnl_primitive_execute(p->prim, s, 3, a);
    return (now() - t0) / calls;
}

static void product_free(product *p)
{
    dnnl_primitive_destroy(p->prim);
    dnnl_memory_destroy(p->src);
    dnnl_memory_destroy(p->wei);
    dnnl_memory_destroy(p->dst);
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2, rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (threads < 1 || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_kernels [THREADS] [ROUNDS 1..100]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    dnnl_engine_t eng;
    dnnl_stream_t s;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) || dnnl_stream_create(&s, eng, dnnl_stream_default_flags)) {
        fprintf(stderr, "bench_kernels: oneDNN has no CPU engine\n");
        return 1;
    }
    printf("%d threads, median of %d alternating rounds\n", threads, rounds);
    const long shapes[4][2] = {{1152, 3456}, {1152, 1152}, {1152, 4608}, {4608, 1152}}; /* K, N: qkv, proj, fc1, fc2 */
    double total_u8 = 0, total_s8 = 0;
    for (int c = 0; c < 4; c++) {
        const long M = 512, K = shapes[c][0], N = shapes[c][1];
        product u8, s8;
        if (product_make(&u8, eng, M, K, N, dnnl_u8, dnnl_s32) || product_make(&s8, eng, M, K, N, dnnl_s8, dnnl_f32)) {
            fprintf(stderr, "bench_kernels: no int8 matmul for %ld x %ld x %ld on this CPU\n", M, K, N);
            return 1;
        }
        double tu[100], ts[100];
        const int calls = (int)(2e10 / (2.0 * M * K * N)) + 1; /* ~20 GOP a round */
        for (int r = 0; r < rounds; r++) {
            tu[r] = product_time(&u8, s, calls);
            ts[r] = product_time(&s8, s, calls);
        }
        const double mu = median(tu, rounds), ms = median(ts, rounds), gop = 2.0 * M * K * N / 1e9;
        total_u8 += mu, total_s8 += ms;
        printf("int8 %ldx%ldx%ld: u8 x s8 -> s32 %.3f ms (%.0f GOP/s), s8 x s8 -> f32 %.3f ms (%.0f GOP/s): %.3f\n", M, K,
               N, 1e3 * mu, gop / mu, 1e3 * ms, gop / ms, mu / ms);
        product_free(&u8);
        product_free(&s8);
    }
    printf("int8, the four block products: u8 / s8 time %.3f\n", total_u8 / total_s8);

    if (!cpu_attention_bf16_available()) {
        printf("bf16 attention: the AVX512-BF16 kernel is off here (no such CPU, or SMOOTHCACHE_MAX_ISA below avx512)\n");
    } else {
        const int B = 2, T = 256, H = 16, hd = 72;
        const int64_t D = (int64_t)H * hd, M = (int64_t)B * T;
        float *qkv = malloc(sizeof(float) * (size_t)(M * 3 * D)), *dense = malloc(sizeof(float) * (size_t)(M * 3 * D));
        float *att = malloc(sizeof(float) * (size_t)(M * D));
        float *scores = malloc(sizeof(float) * cpu_attention_cross_scratch(B, T, T, H));
        mm_ctx *mm = NULL;
        if (!qkv || !dense || !att || !scores || mm_create(&mm)) {
            fprintf(stderr, "bench_kernels: out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < M * 3 * D; i++) qkv[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        for (int64_t m = 0; m < M; m++)
            for (int part = 0; part < 3; part++)
                memcpy(dense + part * M * D + m * D, qkv + m * 3 * D + part * D, sizeof(float) * (size_t)D);
        double tf[100], to[100];
        const int calls = 20;
        for (int r = 0; r < rounds; r++) {
            double t0 = now();
            for (int i = 0; i < calls; i++) cpu_attention_bf16_fused(mm, qkv, qkv + D, qkv + 2 * D, 3 * D, att, B, T, H, hd);
            tf[r] = (now() - t0) / calls;
            t0 = now();
            for (int i = 0; i < calls; i++)
                cpu_attention_general(mm, dense, dense + M * D, dense + 2 * M * D, att, scores, B, T, T, H, hd,
                                      1.0f / sqrtf((float)hd), NULL, NULL, MM_BF16);
            to[r] = (now() - t0) / calls;
        }
        const double f = median(tf, rounds), o = median(to, rounds), gflop = 4.0 * B * H * (double)T * T * hd / 1e9;
        printf("bf16 attention B %d T %d H %d hd %d: fused %.3f ms (%.0f GFLOP/s), oneDNN path %.3f ms (%.0f GFLOP/s): "
               "%.3f\n", B, T, H, hd, 1e3 * f, gflop / f, 1e3 * o, gflop / o, f / o);
        mm_destroy(mm);
        free(qkv), free(dense), free(att), free(scores);
    }
    /* float32 attention (attention.c: oneDNN products around a vectorised softmax; above
     * CPU_ATT_QBLOCK tokens one query block of one (sample, head) at a time): DiT-XL/2's and
     * PixArt-alpha 512's shapes, against the f32 peak. */
    for (int shape = 0; shape < 2; shape++) {
        const int B = 2, T = shape ? 1024 : 256, H = 16, hd = 72;
        const int64_t D = (int64_t)H * hd, M = (int64_t)B * T;
        float *qkv = malloc(sizeof(float) * (size_t)(M * 3 * D)), *dense = malloc(sizeof(float) * (size_t)(M * 3 * D));
        float *att = malloc(sizeof(float) * (size_t)(M * D));
        float *scores = malloc(sizeof(float) * cpu_attention_scratch(B, T, H));
        mm_ctx *mm = NULL;
        if (!qkv || !dense || !att || !scores || mm_create(&mm)) {
            fprintf(stderr, "bench_kernels: out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < M * 3 * D; i++) qkv[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
        double tf[100];
        const int calls = shape ? 3 : 10;
        for (int r = 0; r < rounds; r++) {
            const double t0 = now();
            for (int i = 0; i < calls; i++)
                cpu_attention(mm, qkv, qkv + D, qkv + 2 * D, 3 * D, att, dense, scores, B, T, H, hd, MM_F32);
            tf[r] = (now() - t0) / calls;
        }
        const double f = median(tf, rounds), gflop = 4.0 * B * H * (double)T * T * hd / 1e9;
        printf("f32 attention B %d T %d H %d hd %d: %.3f ms (%.0f GFLOP/s, %.0f%% of the f32 peak 228)\n", B, T, H, hd,
               1e3 * f, gflop / f, 100 * gflop / f / 228);
        mm_destroy(mm);
        free(qkv), free(dense), free(att), free(scores);
    }
    dnnl_stream_destroy(s);
    dnnl_engine_destroy(eng);
    return 0;
}
