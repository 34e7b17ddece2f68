#include "cache/polyfit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

double polyval(const double *coef, int deg, double x)
{
    double p = coef[0];
    for (int i = 1; i <= deg; i++) p = p * x + coef[i];
    return p;
}

/* Solves min ||A beta - y|| for A [n, m] (row-major, overwritten by R and the reflectors) and
 * y [n] (overwritten by Q^T y). Returns 0 when A's rank is below m. */
static int householder_solve(double *A, double *y, int n, int m, double *beta)
{
    double rmax = 0;
    for (int k = 0; k < m; k++) {
        /* Reflector that zeroes A[k+1.., k]: v = x - alpha e1, alpha = -sign(x0) ||x||. */
        double norm = 0;
        for (int i = k; i < n; i++) norm = hypot(norm, A[(size_t)i * m + k]);
        if (norm == 0) return 0;
        const double x0 = A[(size_t)k * m + k], alpha = x0 > 0 ? -norm : norm;
        const double v0 = x0 - alpha;
        /* H = I - 2 v v^T / (v^T v), with v^T v = 2 norm (norm + |x0|) = -2 alpha v0. */
        const double vtv = -alpha * v0;
        for (int j = k + 1; j <= m; j++) { /* j == m: the right-hand side */
            double dot = v0 * (j < m ? A[(size_t)k * m + j] : y[k]);
            for (int i = k + 1; i < n; i++) dot += A[(size_t)i * m + k] * (j < m ? A[(size_t)i * m + j] : y[i]);
            const double f = dot / vtv;
            if (j < m) {
                A[(size_t)k * m + j] -= f * v0;
                for (int i = k + 1; i < n; i++) A[(size_t)i * m + j] -= f * A[(size_t)i * m + k];
            } else {
                y[k] -= f * v0;
                for (int i = k + 1; i < n; i++) y[i] -= f * A[(size_t)i * m + k];
            }
        }
        A[(size_t)k * m + k] = alpha;
        rmax = fmax(rmax, fabs(alpha));
    }
    for (int k = 0; k < m; k++)
        if (fabs(A[(size_t)k * m + k]) <= 1e-12 * rmax) return 0;
    for (int k = m - 1; k >= 0; k--) {
        double s = y[k];
        for (int j = k + 1; j < m; j++) s -= A[(size_t)k * m + j] * beta[j];
        beta[k] = s / A[(size_t)k * m + k];
    }
    return 1;
}

sc_status polyfit(const double *x, const double *y, int n, int deg, double *coef)
{
    SC_ASSERT(deg >= 0 && deg <= POLYFIT_MAX_DEG);
    const int m = deg + 1;
    if (n < m) return err_fail(SC_ERR_ARG, "a degree-%d fit needs at least %d points (got %d)", deg, m, n);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]))
            return err_fail(SC_ERR_ARG, "point %d of the fit is not finite (x %g, y %g)", i, x[i], y[i]);
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    /* u = a x + b maps [lo, hi] onto [-1, 1]; a single x value gives a constant fit only. */
    const double a = hi > lo ? 2.0 / (hi - lo) : 1.0, b = hi > lo ? -(hi + lo) / (hi - lo) : -lo;
    double *A = malloc(sizeof(double) * (size_t)n * m), *r = malloc(sizeof(double) * (size_t)n);
    if (!A || !r) {
        free(A);
        free(r);
        return err_fail(SC_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) { /* A [n, m] = [u^0 .. u^deg] */
        const double u = a * x[i] + b;
        double p = 1;
        for (int j = 0; j < m; j++, p *= u) A[(size_t)i * m + j] = p;
        r[i] = y[i];
    }
    double beta[POLYFIT_MAX_DEG + 1];
    const int ok = householder_solve(A, r, n, m, beta);
    free(A);
    free(r);
    if (!ok) return err_fail(SC_ERR_ARG, "a degree-%d fit needs at least %d distinct x values", deg, m);
    /* sum_k beta_k (a x + b)^k = sum_j x^j sum_{k>=j} beta_k C(k, j) a^j b^(k-j). */
    double cx[POLYFIT_MAX_DEG + 1] = {0};
    for (int k = 0; k < m; k++) {
        double binom = 1; /* C(k, j) */
        for (int j = 0; j <= k; j++) {
            cx[j] += beta[k] * binom * pow(a, j) * pow(b, k - j);
            binom = binom * (k - j) / (j + 1);
        }
    }
    for (int j = 0; j < m; j++) coef[deg - j] = cx[j];
    return SC_OK;
}
