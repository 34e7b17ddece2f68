/* Port of tools/demo/classify.py; every threshold and tie rule is the Python one. */
#include "metrics/demo_classify.h"

#include <math.h>
#include <stdlib.h>

#define FG_THRESHOLD 72
#define MIN_PIXELS 24
#define MAX_COLOUR_DIST2 (64.0 * 64.0)

static const int k_colours[DEMO_CLASSES][3] = {
    {235, 35, 35},   {35, 215, 35},  {40, 60, 245},  {240, 225, 35}, {225, 35, 225},
    {35, 220, 230},  {250, 135, 20}, {240, 240, 240}, {145, 40, 250}, {40, 250, 145},
};

/* Accepted compactness q = n^2 / (2 pi S) per class, inclusive (classify.py's SHAPE_RANGE). */
static const double k_shape[DEMO_CLASSES][2] = {
    {0.92, 1.08}, /* 0 circle   */
    {0.85, 1.06}, /* 1 square   */
    {0.72, 0.95}, /* 2 triangle */
    {0.70, 0.94}, /* 3 cross    */
    {0.50, 0.73}, /* 4 ring     */
    {0.72, 0.96}, /* 5 diamond  */
    {0.90, 1.08}, /* 6 hexagon  */
    {0.75, 0.96}, /* 7 star     */
    {0.45, 0.70}, /* 8 target   */
    {0.58, 0.86}, /* 9 frame    */
};

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int demo_classify(const uint8_t *img)
{
    const int N = DEMO_SIDE;
    int bg[3];
    /* 1. Background: the median (index 62 of 124) of each channel over the border pixels, in the
     *    order rows 0 and 31, then columns 0 and 31 of rows 1..30 (order is irrelevant after the sort). */
    for (int c = 0; c < 3; c++) {
        int v[124], k = 0;
        for (int x = 0; x < N; x++) v[k++] = img[(0 * N + x) * 3 + c], v[k++] = img[((N - 1) * N + x) * 3 + c];
        for (int y = 1; y < N - 1; y++) v[k++] = img[(y * N + 0) * 3 + c], v[k++] = img[(y * N + N - 1) * 3 + c];
        qsort(v, 124, sizeof *v, cmp_int);
        bg[c] = v[62];
    }
    /* 2-3. Distance to the background (max over channels) and the foreground. */
    int d[DEMO_SIDE * DEMO_SIDE], n = 0, dmax = 0;
    for (int p = 0; p < N * N; p++) {
        int m = 0;
        for (int c = 0; c < 3; c++) {
            int a = abs((int)img[p * 3 + c] - bg[c]);
            m = a > m ? a : m;
        }
        d[p] = m;
        if (m > FG_THRESHOLD) {
            n++;
            dmax = m > dmax ? m : dmax;
        }
    }
    if (n < MIN_PIXELS) return -1;
    /* 4. Mean colour of the core: foreground pixels with 4 d >= 3 dmax. */
    double sum[3] = {0, 0, 0};
    int cn = 0;
    for (int p = 0; p < N * N; p++)
        if (d[p] > FG_THRESHOLD && 4 * d[p] >= 3 * dmax) {
            for (int c = 0; c < 3; c++) sum[c] += img[p * 3 + c];
            cn++;
        }
    /* 5. Nearest class colour (lowest id on ties). */
    int best = -1;
    double best_d = INFINITY;
    for (int k = 0; k < DEMO_CLASSES; k++) {
        double dk = 0;
        for (int c = 0; c < 3; c++) {
            double e = sum[c] / cn - k_colours[k][c];
            dk += e * e;
        }
        if (dk < best_d) {
            best = k;
            best_d = dk;
        }
    }
    if (best_d > MAX_COLOUR_DIST2) return -1;
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
    if (S == 0.0) return -1;
    const double q = (double)n * n / (2.0 * 3.14159265358979323846 * S);
    if (q < k_shape[best][0] || q > k_shape[best][1]) return -1;
    return best;
}
