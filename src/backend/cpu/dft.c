#include "backend/cpu/dft.h"

#include <math.h>
#include <string.h>

/* One 1-D DFT of n complex values with stride `step` (in complex elements); tw holds
 * e^{sign 2 pi i m / n} for m = 0..n-1, tmp 2n doubles. */
static void dft1(double *v, int n, int step, const double *tw, double *tmp)
{
    for (int k = 0; k < n; k++) {
        double re = 0, im = 0;
        int m = 0; /* j k mod n, kept incrementally */
        for (int j = 0; j < n; j++) {
            const double c = tw[2 * m], s = tw[2 * m + 1];
            const double xr = v[2 * (size_t)j * step], xi = v[2 * (size_t)j * step + 1];
            re += xr * c - xi * s;
            im += xr * s + xi * c;
            m += k;
            if (m >= n) m -= n;
        }
        tmp[2 * k] = re;
        tmp[2 * k + 1] = im;
    }
    for (int k = 0; k < n; k++) {
        v[2 * (size_t)k * step] = tmp[2 * k];
        v[2 * (size_t)k * step + 1] = tmp[2 * k + 1];
    }
}

/* The same transform for n a power of two: iterative radix-2 Cooley-Tukey on a contiguous copy
 * in tmp (bit-reversed load, log2 n butterfly passes), O(n log n) instead of O(n^2). */
static void fft1(double *v, int n, int step, const double *tw, double *tmp)
{
    for (int j = 0, r = 0; j < n; j++) {
        tmp[2 * r] = v[2 * (size_t)j * step];
        tmp[2 * r + 1] = v[2 * (size_t)j * step + 1];
        int bit = n >> 1; /* r = bit-reverse(j + 1), incrementally */
        while (bit && (r & bit)) {
            r ^= bit;
            bit >>= 1;
        }
        r |= bit;
    }
    for (int len = 2; len <= n; len <<= 1) {
        const int half = len >> 1, tstep = n / len; /* e^{sign 2 pi i m / len} = tw[m * tstep] */
        for (int b = 0; b < n; b += len)
            for (int m = 0; m < half; m++) {
                const double c = tw[2 * m * tstep], s = tw[2 * m * tstep + 1];
                double *a = tmp + 2 * (b + m), *o = tmp + 2 * (b + m + half);
                const double xr = o[0] * c - o[1] * s, xi = o[0] * s + o[1] * c;
                o[0] = a[0] - xr;
                o[1] = a[1] - xi;
                a[0] += xr;
                a[1] += xi;
            }
    }
    for (int k = 0; k < n; k++) {
        v[2 * (size_t)k * step] = tmp[2 * k];
        v[2 * (size_t)k * step + 1] = tmp[2 * k + 1];
    }
}

static void transform1(double *v, int n, int step, const double *tw, double *tmp)
{
    if ((n & (n - 1)) == 0)
        fft1(v, n, step, tw, tmp);
    else
        dft1(v, n, step, tw, tmp);
}

static void twiddles(double *tw, int n, int sign)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (int m = 0; m < n; m++) {
        tw[2 * m] = cos(two_pi * m / n);
        tw[2 * m + 1] = sign * sin(two_pi * m / n);
    }
}

size_t dft_work_doubles(int H, int W) { return 2 * (size_t)H * W + 6 * (size_t)(H > W ? H : W); }

/* work: [2 max] tmp, [2 max] row twiddles, [2 max] column twiddles. */
static void dft2(double *v, int H, int W, int sign, double *work)
{
    const int mx = H > W ? H : W;
    double *tmp = work, *tw_w = work + 2 * (size_t)mx, *tw_h = work + 4 * (size_t)mx;
    twiddles(tw_w, W, sign);
    twiddles(tw_h, H, sign);
    for (int y = 0; y < H; y++) transform1(v + 2 * (size_t)y * W, W, 1, tw_w, tmp);
    for (int x = 0; x < W; x++) transform1(v + 2 * (size_t)x, H, W, tw_h, tmp);
}

void dft2_real(const float *in, int H, int W, double *out, double *work)
{
    for (size_t i = 0; i < (size_t)H * W; i++) {
        out[2 * i] = in[i];
        out[2 * i + 1] = 0;
    }
    dft2(out, H, W, -1, work);
}

void idft2_real(const double *in, int H, int W, float *out, double *work)
{
    const size_t n = (size_t)H * W;
    double *v = work, *tmp = work + 2 * n;
    memcpy(v, in, sizeof(double) * 2 * n);
    dft2(v, H, W, +1, tmp);
    for (size_t i = 0; i < n; i++) out[i] = (float)(v[2 * i] / (double)n);
}

void dft2_real_pair(const float *a, const float *b, int H, int W, double *A, double *B, double *work)
{
    const size_t n = (size_t)H * W;
    double *z = work, *tmp = work + 2 * n;
    for (size_t i = 0; i < n; i++) {
        z[2 * i] = a[i];
        z[2 * i + 1] = b[i];
    }
    dft2(z, H, W, -1, tmp);
    for (int u = 0; u < H; u++)
        for (int v = 0; v < W; v++) {
            const size_t k = (size_t)u * W + v, m = (size_t)((H - u) % H) * W + (size_t)((W - v) % W); /* -k */
            const double zr = z[2 * k], zi = z[2 * k + 1], mr = z[2 * m], mi = -z[2 * m + 1]; /* conj Z(-k) */
            A[2 * k] = 0.5 * (zr + mr);
            A[2 * k + 1] = 0.5 * (zi + mi);
            B[2 * k] = 0.5 * (zi - mi); /* (Z - conj Z(-k)) / 2i */
            B[2 * k + 1] = -0.5 * (zr - mr);
        }
}

void idft2_real_pair(const double *A, const double *B, int H, int W, float *a, float *b, double *work)
{
    const size_t n = (size_t)H * W;
    double *v = work, *tmp = work + 2 * n;
    for (size_t i = 0; i < n; i++) { /* A + i B */
        v[2 * i] = A[2 * i] - B[2 * i + 1];
        v[2 * i + 1] = A[2 * i + 1] + B[2 * i];
    }
    dft2(v, H, W, +1, tmp);
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(v[2 * i] / (double)n);
        b[i] = (float)(v[2 * i + 1] / (double)n);
    }
}

void dft_spectrum_split(double *low, double *high, const double *a, const double *b, const unsigned char *mask,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const double dre = a[2 * i] - b[2 * i], dim = a[2 * i + 1] - b[2 * i + 1];
        const int lo = mask[i];
        low[2 * i] = lo ? dre : 0, low[2 * i + 1] = lo ? dim : 0;
        high[2 * i] = lo ? 0 : dre, high[2 * i + 1] = lo ? 0 : dim;
    }
}

void dft_spectrum_blend(double *x, double *low, double *high, double wl, double wh, size_t n)
{
    for (size_t i = 0; i < 2 * n; i++) {
        low[i] *= wl; /* the stored parts themselves are scaled: the factors compound */
        high[i] *= wh;
        x[i] += low[i] + high[i];
    }
}
