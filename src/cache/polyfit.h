/* Least-squares polynomial fit for TeaCache's rescaling polynomial (docs/CACHING.md, "TeaCache").
 *
 *   double c[5];
 *   sc_status s = polyfit(x, y, n, 4, c);   // c[0] x^4 + c[1] x^3 + ... + c[4]
 *   double p = polyval(c, 4, 0.1);
 *
 * The relL1 inputs span a narrow range near 0, where the monomials x^0..x^4 are nearly
 * collinear and the coefficients reach 1e5: normal equations square that conditioning and lose
 * the fit. So x is mapped to u in [-1, 1], the least-squares system in u is solved by
 * Householder QR in double, and the polynomial is then expanded back into powers of x. */
#ifndef SC_CACHE_POLYFIT_H
#define SC_CACHE_POLYFIT_H

#include "smoothcache.h"

#define POLYFIT_MAX_DEG 8

/* min sum_i (P(x_i) - y_i)^2 over polynomials of degree `deg` (0..POLYFIT_MAX_DEG); coef[0..deg],
 * highest degree first (numpy.polyfit's order). SC_ERR_ARG for non-finite points or fewer than
 * deg + 1 distinct x. */
sc_status polyfit(const double *x, const double *y, int n, int deg, double *coef);

/* P(x) by Horner's rule, coef highest degree first. */
double polyval(const double *coef, int deg, double x);

#endif
