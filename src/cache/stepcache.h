/* Helpers shared by the step-level policies that skip whole runs of blocks on a signal
 * (teacache, magcache, fbcache, dbcache) and by their calibration observers.
 *
 * Those policies decide at a block boundary; the engine may still run the segment (first
 * evaluation, the last one unless the policy sets may_skip_last, nothing stored yet), and the
 * boundary hook is not told. A policy whose state depends on what really ran (the reference
 * residual of the last computed evaluation, accumulators reset on a computation) therefore
 * applies the same rule itself with step_engine_computes() and tracks whether its segment has
 * run in this generation. */
#ifndef SC_CACHE_STEPCACHE_H
#define SC_CACHE_STEPCACHE_H

#include <stddef.h>

#include "cache/policy.h"

/* 1 where cache/run.c computes evaluation n of `steps` whatever `ops` answers. */
static inline int step_engine_computes(const cache_policy_ops *ops, int n, int steps)
{
    return n == 0 || (n == steps - 1 && !ops->may_skip_last);
}

/* sum|a - b| and sum|b| over n floats (float partial sums over fixed chunks, double across
 * them, in a fixed order: the same bits for any thread count). */
void step_l1(const float *a, const float *b, size_t n, double *diff, double *ref);

/* The same for a = h - h0 (a residual that is never materialised): sum|(h - h0) - b|, sum|b|. */
void step_l1_residual(const float *h, const float *h0, const float *b, size_t n, double *diff, double *ref);

/* diff / ref, or NaN when ref is 0 or either is not finite. relL1 with a zero reference means
 * "no reference to compare with"; callers compute on NaN (CACHING.md 3.4). */
double step_rel(double diff, double ref);

/* relL1 of images taken together with their guidance rows: rows i and N + i of a [rows, per_row]
 * batch (rows = N or 2N) for sample i (N = images). */
double step_rel_sample(const float *a, const float *b, int rows, int images, int sample, size_t per_row);

#endif
