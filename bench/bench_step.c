/* Times one classifier-free-guidance step of the C engine: a forward of batch 2 ([cond; uncond])
 * on a model, after warm-up, repeated; prints the median and the spread. Used by
 * bench/bench_step.py, which times PyTorch on the same weights in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "pipeline/pipeline.h"
#include "smoothcache.h"

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_step MODEL [threads=2] [repeats=5] [heads=0] [dtype=auto]\n");
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2, reps = argc > 3 ? atoi(argv[3]) : 5;
    sc_load_opts o = {.num_heads = argc > 4 ? atoi(argv[4]) : 0};
    if (argc > 5 && sc_dtype_parse(argv[5], &o.dtype) != SC_OK) {
        fprintf(stderr, "%s\n", sc_last_error());
        return 2;
    }
    double t_load = now();
    sc_model *m;
    if (sc_model_load(argv[1], &o, &m) != SC_OK) {
        fprintf(stderr, "%s\n", sc_last_error());
        return 1;
    }
    t_load = now() - t_load;
    const model *net = m->net;
    net->be->set_threads(threads);
    const int B = 2;
    const size_t lat = model_shape_count(&net->latent), spatial = lat / (size_t)net->latent.dims[0];
    size_t nx = (size_t)B * lat, no = (size_t)B * net->out_channels * spatial;
    float *x = malloc(nx * sizeof *x), *out = malloc(no * sizeof *out);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    float t[2] = {500, 500};
    sc_model_info info;
    sc_model_get_info(m, &info);
    const int y[2] = {1, info.num_classes};
    const sc_cond rows = {.n = B, .classes = y};
    model_cond c;
    model_ws *ws;
    if (net->family->conditioning(net, &rows, 0, 1, &c) != SC_OK || net->family->ws_create(net, B, NULL, &ws) != SC_OK) {
        fprintf(stderr, "%s\n", sc_last_error());
        return 1;
    }
    double first = now();
    pipeline_forward(net, ws, x, t, &c, out, NULL);
    first = now() - first;
    double *ts = calloc((size_t)reps, sizeof *ts);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (pipeline_forward(net, ws, x, t, &c, out, NULL) != SC_OK) {
            fprintf(stderr, "%s\n", sc_last_error());
            return 1;
        }
        ts[r] = now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof *ts, cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double checksum = 0;
    for (size_t i = 0; i < no; i++) checksum += out[i];
    printf("load_s=%.3f first_step_s=%.3f median_s=%.4f min_s=%.4f max_s=%.4f maxrss_mb=%.0f checksum=%.6g\n", t_load,
           first, ts[reps / 2], ts[0], ts[reps - 1], ru.ru_maxrss / 1024.0, checksum);
    net->family->ws_free(net, ws);
    model_cond_free(&c);
    sc_model_free(m);
    free(x);
    free(out);
    free(ts);
    return 0;
}
