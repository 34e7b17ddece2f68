/* Line charts to RGB / PNG with no dependency but libpng: SmoothCache calibration curves
 * (relative L1 error against step index, one curve per component and lag) and speed / quality
 * frontiers.
 *
 *   double steps[50], err[50];
 *   plot_spec p = {.title = "DiT-XL/2 calibration", .x_label = "step", .y_label = "rel. L1 error",
 *                  .n_series = 1, .series = {{.name = "attn, lag 1", .x = steps, .y = err, .n = 50}}};
 *   sc_status s = plot_lines_png("calib.png", &p, force);
 *
 * Axes are linear with "nice" ticks (1, 2 or 5 times a power of ten) that cover every finite
 * point; the legend sits right of the plot. Points whose x or y is NaN, +-Inf or beyond +-1e150
 * (where the axis arithmetic would overflow) are skipped and break the line there. Text is drawn
 * with a built-in 5x7 font: printable ASCII, any other byte shows as '?'. */
#ifndef SC_METRICS_PLOT_H
#define SC_METRICS_PLOT_H

#include <stdint.h>

#include "smoothcache.h"

#define PLOT_MAX_SERIES 12
#define PLOT_PALETTE_SIZE 12
#define PLOT_DEFAULT_W 900
#define PLOT_DEFAULT_H 560

typedef struct {
    const char *name;     /* legend text; NULL or "": not in the legend */
    const double *x, *y;  /* n points each (may be NULL when n == 0) */
    int n;
    int palette;          /* 0: the colour of the series' position; 1..12: that palette entry, so
                           * series may share a colour (e.g. per component, dashed per lag) */
    int dashed;
    int markers;          /* a dot at each point (frontiers of a few points) */
    const char *const *labels; /* n short texts written beside the points (NULL entries: none), or NULL */
} plot_series;

typedef struct {
    const char *title, *x_label, *y_label; /* NULL: none */
    int n_series;                          /* 0..PLOT_MAX_SERIES */
    plot_series series[PLOT_MAX_SERIES];
    int width, height;                     /* pixels; 0: PLOT_DEFAULT_W x PLOT_DEFAULT_H */
} plot_spec;

/* Renders into *rgb ([*h][*w][3], allocated here; free with mem_free). SC_ERR_ARG for a bad spec
 * (sizes outside 200..4096 x 150..4096, too many series, n < 0, points missing). */
sc_status plot_render(const plot_spec *spec, uint8_t **rgb, int *w, int *h);

/* The colour of palette entry i (0..PLOT_PALETTE_SIZE-1; series k without a palette entry gets
 * entry k % PLOT_PALETTE_SIZE) into rgb[3]. */
void plot_colour(int i, uint8_t rgb[3]);

/* plot_render, then png_write_rgb8 (atomic; refuses to overwrite unless force). */
sc_status plot_lines_png(const char *path, const plot_spec *spec, int force);

/* The 5x7 font (font5x7.c): 7 rows, top first, of 5 bits each (0x10 = leftmost column) for
 * character c in 32..126; any other c gives the glyph of '?'. A line of text is 9 rows: glyphs
 * fill rows 0..6 except those with descenders, drawn font5x7_drop(c) (2) rows lower. */
const uint8_t *font5x7_glyph(int c);
int font5x7_drop(int c);

#endif
