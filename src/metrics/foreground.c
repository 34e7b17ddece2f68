/* Steps 1-4 and 6 of tools/demo/classify.py; every threshold and tie rule is the Python one. */
#include "metrics/foreground.h"

#include <stdlib.h>

#define FG_THRESHOLD 72
#define MIN_PIXELS 24

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int fg_measure(const uint8_t *img, fg_stats *s)
{
    const int N = DEMO_SIDE;
    /* 1. Background: the median (index 62 of 124) of each channel over the border pixels, in the
     *    order rows 0 and 31, then columns 0 and 31 of rows 1..30 (order is irrelevant after the sort). */
    for (int c = 0; c < 3; c++) {
        int v[124], k = 0;
        for (int x = 0; x < N; x++) v[k++] = img[(0 * N + x) * 3 + c], v[k++] = img[((N - 1) * N + x) * 3 + c];
        for (int y = 1; y < N - 1; y++) v[k++] = img[(y * N + 0) * 3 + c], v[k++] = img[(y * N + N - 1) * 3 + c];
        qsort(v, 124, sizeof *v, cmp_int);
        s->bg[c] = v[62];
    }
    /* 2-3. Distance to the background (max over channels) and the foreground. */
    int d[DEMO_SIDE * DEMO_SIDE], n = 0, dmax = 0;
    for (int p = 0; p < N * N; p++) {
        int m = 0;
        for (int c = 0; c < 3; c++) {
            int a = abs((int)img[p * 3 + c] - s->bg[c]);
            m = a > m ? a : m;
        }
        d[p] = m;
        if (m > FG_THRESHOLD) {
            n++;
            dmax = m > dmax ? m : dmax;
        }
    }
    s->n = n;
    if (n < MIN_PIXELS) return 0;
    /* 4. Mean colour of the core: foreground pixels with 4 d >= 3 dmax. */
    double sum[3] = {0, 0, 0};
    int cn = 0;
    for (int p = 0; p < N * N; p++)
        if (d[p] > FG_THRESHOLD && 4 * d[p] >= 3 * dmax) {
            for (int c = 0; c < 3; c++) sum[c] += img[p * 3 + c];
            cn++;
        }
    for (int c = 0; c < 3; c++) s->mean[c] = sum[c] / cn;
    /* 6. Compactness of the whole foreground. */
    double cx = 0, cy = 0;
    for (int p = 0; p < N * N; p++)
        if (d[p] > FG_THRESHOLD) cx += p % N, cy += p / N;
    cx /= n;
    cy /= n;
    double S = 0;
    for (int p = 0; p < N * N; p++)
        if (d[p] > FG_THRESHOLD) {
            double dx = p % N - cx, dy = p / N - cy;
            S += dx * dx + dy * dy;
        }
    s->q = S == 0.0 ? -1.0 : (double)n * n / (2.0 * 3.14159265358979323846 * S);
    return 1;
}
