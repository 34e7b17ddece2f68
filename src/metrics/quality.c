#include "metrics/quality.h"

#include <math.h>
#include <stdlib.h>

double metric_psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        se += d * d;
    }
    if (se == 0 || n == 0) return INFINITY;
    return 10.0 * log10(255.0 * 255.0 / (se / (double)n));
}

/* Separable Gaussian filter of one channel, "valid" region: in [h][w] -> out [h-r2][w-r2]. */
static void gauss_valid(const double *in, int w, int h, const double *g, int win, double *tmp, double *out)
{
    const int ow = w - win + 1, oh = h - win + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0;
            for (int k = 0; k < win; k++) s += g[k] * in[(size_t)y * w + x + k];
            tmp[(size_t)y * ow + x] = s;
        }
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            double s = 0;
            for (int k = 0; k < win; k++) s += g[k] * tmp[(size_t)(y + k) * ow + x];
            out[(size_t)y * ow + x] = s;
        }
}

double metric_ssim(const uint8_t *a, const uint8_t *b, int w, int h, int ch)
{
    int win = 11;
    while (win > 1 && (win > w || win > h)) win -= 2;
    const double sigma = 1.5, C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    double g[11], gs = 0;
    for (int k = 0; k < win; k++) {
        double d = k - (win - 1) / 2.0;
        g[k] = exp(-d * d / (2 * sigma * sigma));
        gs += g[k];
    }
    for (int k = 0; k < win; k++) g[k] /= gs;
    const size_t n = (size_t)w * h, on = (size_t)(w - win + 1) * (h - win + 1);
    double *buf = malloc(sizeof(double) * (5 * n + n + 5 * on));
    if (!buf) return NAN;
    double *x = buf, *y = x + n, *xx = y + n, *yy = xx + n, *xy = yy + n, *tmp = xy + n;
    double *mx = tmp + n, *my = mx + on, *sxx = my + on, *syy = sxx + on, *sxy = syy + on;
    double total = 0;
    for (int c = 0; c < ch; c++) {
        for (size_t i = 0; i < n; i++) {
            x[i] = a[i * ch + c];
            y[i] = b[i * ch + c];
            xx[i] = x[i] * x[i];
            yy[i] = y[i] * y[i];
            xy[i] = x[i] * y[i];
        }
        gauss_valid(x, w, h, g, win, tmp, mx);
        gauss_valid(y, w, h, g, win, tmp, my);
        gauss_valid(xx, w, h, g, win, tmp, sxx);
        gauss_valid(yy, w, h, g, win, tmp, syy);
        gauss_valid(xy, w, h, g, win, tmp, sxy);
        double sum = 0;
        for (size_t i = 0; i < on; i++) {
            double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i], cxy = sxy[i] - mx[i] * my[i];
            sum += ((2 * mx[i] * my[i] + C1) * (2 * cxy + C2)) /
                   ((mx[i] * mx[i] + my[i] * my[i] + C1) * (vx + vy + C2));
        }
        total += sum / (double)on;
    }
    free(buf);
    return total / ch;
}

double metric_rel_l2(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        d += e * e;
        r += (double)b[i] * b[i];
    }
    if (r == 0) return d == 0 ? 0.0 : INFINITY;
    return sqrt(d / r);
}
