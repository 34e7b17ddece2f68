/* Reading back what a calibrator wrote: {"_meta": {...}, "<key>": [numbers, ...]} (TeaCache's
 * "coef", MagCache's "ratios"). Policies load their calibration through this. */
#ifndef SC_CACHE_CALIBFILE_H
#define SC_CACHE_CALIBFILE_H

#include <stddef.h>

#include "smoothcache.h"

/* The array `key` of the file: n_min..n_max entries (else "<path>: "<key>" must be <shape>"),
 * each a finite number with lo <= v < hi (else "<path>: "<key>"[i] is not a finite number", with
 * " >= lo" when lo is finite). *values is malloc'ed (free it); sampler (may be NULL) receives
 * _meta.sampler, or "" when the file does not say; steps (may be NULL) _meta.steps, or 0. */
sc_status calibfile_numbers(const char *path, const char *key, const char *shape, size_t n_min, size_t n_max, double lo,
                            double hi, double **values, size_t *n, char *sampler, size_t sampler_cap, int *steps);

#endif
