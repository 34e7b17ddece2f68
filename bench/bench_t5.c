/* Times the C T5 encoder: load, one first encode (buffers, primitives, page faults), then repeated
 * encodes of the same ids; prints the median, the spread and the resident memory, and writes the
 * embeddings for a comparison. Used by bench/bench_t5.py, which times transformers'
 * T5EncoderModel on the same weights and ids in the same run.
 *
 *     bench_t5 ENCODER_DIR IDS.npy MASK.npy THREADS REPEATS OUT.npy */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smoothcache.h"
#include "smoothcache_tools.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double rss_mb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* The peak resident memory of this program (VmHWM): getrusage's ru_maxrss would include the
 * resident size of the parent that forked it (bench_t5.py, with PyTorch loaded). */
static double peak_mb(void)
{
    char line[256];
    double kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

static int fail(void)
{
    fprintf(stderr, "%s\n", sc_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: bench_t5 ENCODER_DIR IDS.npy MASK.npy THREADS REPEATS OUT.npy [DTYPE]\n");
        return 2;
    }
    sc_load_opts o = {0};
    if (argc == 8 && sc_dtype_parse(argv[7], &o.dtype) != SC_OK) return fail();
    const int threads = atoi(argv[4]), reps = atoi(argv[5]);
    sc_array ids_f, mask_f;
    if (sc_npy_read(argv[2], &ids_f) != SC_OK || sc_npy_read(argv[3], &mask_f) != SC_OK) return fail();
    if (ids_f.rank != 2 || mask_f.numel != ids_f.numel || reps < 1 || reps > 100) {
        fprintf(stderr, "ids and mask must be [n, L] alike; 1..100 repeats\n");
        return 2;
    }
    const int n = (int)ids_f.shape[0], L = (int)ids_f.shape[1];
    int32_t *ids = malloc(ids_f.numel * sizeof *ids), *mask = malloc(ids_f.numel * sizeof *mask);
    for (uint64_t i = 0; i < ids_f.numel; i++) ids[i] = (int32_t)ids_f.data[i], mask[i] = (int32_t)mask_f.data[i];
    double t0 = now();
    sc_text_encoder *e;
    if (sc_text_encoder_load_opts(argv[1], &o, &e) != SC_OK) return fail();
    const double t_load = now() - t0, loaded = rss_mb();
    sc_text_encoder_info info;
    sc_text_encoder_get_info(e, &info);
    float *out = malloc((size_t)n * L * info.width * sizeof *out);
    t0 = now();
    if (sc_text_encode(e, n, L, ids, mask, out, threads) != SC_OK) return fail();
    const double first = now() - t0;
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        t0 = now();
        if (sc_text_encode(e, n, L, ids, mask, out, threads) != SC_OK) return fail();
        t[r] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    const uint64_t shape[3] = {(uint64_t)n, (uint64_t)L, (uint64_t)info.width};
    if (sc_npy_write(argv[6], out, 3, shape, 1) != SC_OK) return fail();
    printf("load_s=%.3f first_s=%.4f median_s=%.4f min_s=%.4f max_s=%.4f loaded_rss_mb=%.0f maxrss_mb=%.0f "
           "weight_mb=%.0f\n",
           t_load, first, t[reps / 2], t[0], t[reps - 1], loaded, peak_mb(), (double)info.weight_bytes / 1048576.0);
    sc_text_encoder_free(e);
    return 0;
}
