/* Times the SD-VAE decode of the C engine: load, one untimed-for-the-median first decode (buffers,
 * primitives, page faults), then repeated decodes of the same latents; prints the median and
 * the spread, and optionally writes the images for a comparison. Used by bench/bench_vae.py,
 * which times diffusers' AutoencoderKL.decode on the same weights in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "io/npy.h"
#include "pipeline/pipeline.h"

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

/* Resident memory now, in MB (maxrss also counts the weight file mapped during the load). */
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

static int fail(void)
{
    fprintf(stderr, "%s\n", sc_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_vae VAE LATENTS.npy [threads=2] [repeats=5] [IMAGES_OUT.npy] [dtype=auto]\n");
        return 2;
    }
    int threads = argc > 3 ? atoi(argv[3]) : 2, reps = argc > 4 ? atoi(argv[4]) : 5;
    if (reps < 1) reps = 1;
    npy_array lat;
    if (npy_read(argv[2], &lat) != SC_OK) return fail();
    if (lat.rank != 4 || lat.shape[2] != lat.shape[3]) {
        fprintf(stderr, "%s: latents must be [n, C, S, S]\n", argv[2]);
        return 1;
    }
    double t_load = now();
    decoder *m;
    sc_load_opts o = {0};
    if (argc > 6 && sc_dtype_parse(argv[6], &o.dtype) != SC_OK) return fail();
    if (pipeline_decoder_load(argv[1], &o, &m) != SC_OK) return fail();
    t_load = now() - t_load;
    const double rss_loaded = rss_mb();
    const int n = (int)lat.shape[0], S = (int)lat.shape[2], F = S * m->upscale;
    const size_t nimg = (size_t)n * m->out_channels * F * F;
    float *img = malloc(nimg * sizeof *img); /* [n, out, F, F] */
    double first = now();
    if (m->family->decode(m, n, S, lat.data, img, threads) != SC_OK) return fail();
    first = now() - first;
    double *ts = calloc((size_t)reps, sizeof *ts);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (m->family->decode(m, n, S, lat.data, img, threads) != SC_OK) return fail();
        ts[r] = now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp);
    if (argc > 5) {
        uint64_t shape[4] = {(uint64_t)n, (uint64_t)m->out_channels, (uint64_t)F, (uint64_t)F};
        if (npy_write_f32(argv[5], img, 4, shape, 1) != SC_OK) return fail();
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("load_s=%.3f first_s=%.3f median_s=%.4f min_s=%.4f max_s=%.4f loaded_rss_mb=%.0f decoded_rss_mb=%.0f "
           "maxrss_mb=%.0f\n", t_load, first, ts[reps / 2], ts[0], ts[reps - 1], rss_loaded, rss_mb(), ru.ru_maxrss / 1024.0);
    free(ts);
    free(img);
    npy_free(&lat);
    m->family->free(m);
    return 0;
}
