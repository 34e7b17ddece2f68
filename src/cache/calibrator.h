/* Calibration: what a policy measures on uncached generations before it can run (SmoothCache's
 * error curves, TeaCache's rescaling polynomial, MagCache's magnitude ratios). A calibrator is
 * registered with its policy (cache_policy_ops.calibrator); one entry point (the API's
 * sc_calibration_*, the CLI's `calibrate --for NAME`) serves every one of them.
 *
 * The engine runs each observed generation with `observer` as its policy (it computes
 * everything and watches, through the same hooks a policy has); save() writes the result for the
 * policy to read back, figure() describes it for a chart. */
#ifndef SC_CACHE_CALIBRATOR_H
#define SC_CACHE_CALIBRATOR_H

#include <jansson.h>

#include "cache/policy.h"
#include "smoothcache.h"

typedef struct cache_calibrator {
    const char *what;          /* one line: what it measures */
    const char *options;       /* its options ("k=K,averaging=mean|pooled"), or "no options" */
    int default_samples;       /* samples when the user names none */
    sc_status (*create)(cache_spec *spec, void **state);
    /* The hooks that observe a generation (state is the calibrator's). */
    const cache_policy_ops *observer;
    /* Generations (samples) observed so far. */
    int (*samples)(const void *state);
    /* Writes the result as JSON with "_meta" = meta (copied; may be NULL) extended with what the
     * calibrator knows (sampler, steps, samples, blocks, what the numbers are). */
    sc_status (*save)(const void *state, const char *path, const json_t *meta, int force);
    /* The result as a chart (storage allocated into out->storage). */
    sc_status (*figure)(const void *state, sc_figure *out);
    /* Splitting the samples over processes (calibrate under mpirun): export() writes what this
     * state accumulated as doubles (NULL out: returns the count only; 0 before any generation),
     * absorb() adds another process's export into this state, which has observed at least one
     * generation of the same shape (sums are added, point lists appended), so that the combined
     * state equals one process that observed every sample. */
    size_t (*export_state)(const void *state, double *out);
    sc_status (*absorb)(void *state, const double *in, size_t n);
    /* A warning about the result worth showing (NULL if none); valid while the state lives. */
    const char *(*warning)(void *state);
    void (*destroy)(void *state);
} cache_calibrator;

/* Figure storage: one block for n series of up to `points` points each (x and y), with their
 * names; the arrays are handed out by figure_series(). Freed by sc_figure_free (api). */
sc_status figure_alloc(sc_figure *f, int n_series, size_t points);
/* Series i: its x and y arrays (`points` each) and a name buffer of 64 bytes. */
void figure_series(sc_figure *f, int i, double **x, double **y, char **name);

#endif
