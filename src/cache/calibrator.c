/* Figure storage for calibrators (calibrator.h). */
#include "cache/calibrator.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define NAME_BYTES 64

typedef struct {
    int n_series;
    size_t points;
} figure_head;

sc_status figure_alloc(sc_figure *f, int n_series, size_t points)
{
    memset(f, 0, sizeof *f);
    if (n_series < 1 || n_series > SC_FIGURE_MAX_SERIES) return err_fail(SC_ERR_ARG, "a figure has 1..%d series", SC_FIGURE_MAX_SERIES);
    const size_t bytes = sizeof(figure_head) + (size_t)n_series * (2 * points * sizeof(double) + NAME_BYTES);
    figure_head *h = calloc(1, bytes);
    if (!h) return err_fail(SC_ERR_NOMEM, "out of memory for a figure");
    h->n_series = n_series;
    h->points = points;
    f->storage = h;
    f->n_series = n_series;
    for (int i = 0; i < n_series; i++) {
        double *x, *y;
        char *name;
        figure_series(f, i, &x, &y, &name);
        f->series[i].x = x;
        f->series[i].y = y;
        f->series[i].name = name;
        f->series[i].n = (int)points;
    }
    return SC_OK;
}

void figure_series(sc_figure *f, int i, double **x, double **y, char **name)
{
    figure_head *h = f->storage;
    double *base = (double *)(h + 1);
    *x = base + (size_t)i * 2 * h->points;
    *y = *x + h->points;
    *name = (char *)(base + (size_t)h->n_series * 2 * h->points) + (size_t)i * NAME_BYTES;
}
