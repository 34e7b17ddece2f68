#include "metrics/plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "io/png.h"

typedef struct {
    uint8_t r, g, b;
} rgb8;

/* Twelve hues far enough apart to tell curves apart, ordered so that the first few (the usual
 * case) differ the most. */
static const rgb8 palette[PLOT_PALETTE_SIZE] = {
    {0x1f, 0x6f, 0xc5}, /* blue */
    {0xe8, 0x6a, 0x10}, /* orange */
    {0x2a, 0x9d, 0x3c}, /* green */
    {0xd3, 0x2f, 0x2f}, /* red */
    {0x8e, 0x5c, 0xc2}, /* purple */
    {0x8a, 0x5a, 0x3c}, /* brown */
    {0xdb, 0x5c, 0xb0}, /* pink */
    {0x6b, 0x6b, 0x6b}, /* grey */
    {0xa8, 0xa8, 0x12}, /* olive */
    {0x12, 0xb0, 0xc4}, /* cyan */
    {0x1a, 0x2a, 0x80}, /* navy */
    {0xf0, 0xb0, 0x00}, /* amber */
};
static const rgb8 INK = {34, 34, 34}, FRAME = {90, 90, 90},
                  GRID = {232, 232, 232}, LEGEND_EDGE = {200, 200, 200};

#define GLYPH_ADV 6          /* 5 columns + 1 of spacing, times the scale */
#define GLYPH_H 7
#define TITLE_SCALE 3
#define TEXT_SCALE 2         /* tick labels, axis labels, legend */
#define LEGEND_CHARS 24      /* longer names are cut with ".." */
#define LEGEND_ROW 24        /* pixels per legend entry */
#define LEGEND_SAMPLE 32     /* length of the line drawn before a name */
#define LABEL_CHARS 14       /* point labels longer than this are cut with ".." */
#define LINE_HALF_WIDTH 1.1  /* lines about 2.2 px wide, anti-aliased */
#define DASH_PERIOD 14.0
#define DASH_ON 8.0
#define MARKER_RADIUS 3.6
#define OVERDRAW 5           /* pixels a series may reach past the plot area (see plot_render) */
#define POINT_LIMIT 1e150    /* |x|, |y| beyond this are skipped: spans could overflow */

typedef struct {
    uint8_t *px; /* [h][w][3] */
    int w, h;
} canvas;

/* Coverage (0..1) of one series before it is composited, so the overlapping round ends of
 * consecutive segments do not darken the joints. Only the clip rectangle is used. */
typedef struct {
    float *a; /* [h][w] */
    int w, h;
    int x0, y0, x1, y1; /* clip, inclusive */
} layer;

typedef struct {
    double lo, hi, step;
    int n_ticks;
} axis;

static void blend(canvas *c, int x, int y, rgb8 col, float a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    const uint8_t v[3] = {col.r, col.g, col.b};
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)(p[k] + (v[k] - p[k]) * a + 0.5f);
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb8 col) /* inclusive */
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) blend(c, x, y, col, 1.0f);
}

static int text_width(const char *s, int scale)
{
    int n = (int)strlen(s);
    return n ? n * GLYPH_ADV * scale - scale : 0;
}

/* Draws s with its top-left corner at (x, y); `up`: rotated a quarter turn counter-clockwise,
 * reading bottom to top, with (x, y) the bottom-left corner of the rotated text. */
static void draw_text(canvas *c, int x, int y, const char *s, int scale, rgb8 col, int up)
{
    for (int i = 0; s[i]; i++) {
        const uint8_t *g = font5x7_glyph((unsigned char)s[i]);
        int drop = font5x7_drop((unsigned char)s[i]);
        for (int r = 0; r < GLYPH_H; r++)
            for (int k = 0; k < 5; k++) {
                if (!(g[r] & (0x10 >> k))) continue;
                int tx = (i * GLYPH_ADV + k) * scale, ty = (r + drop) * scale;
                for (int sy = 0; sy < scale; sy++)
                    for (int sx = 0; sx < scale; sx++) {
                        if (up) blend(c, x + ty + sy, y - (tx + sx), col, 1.0f);
                        else blend(c, x + tx + sx, y + ty + sy, col, 1.0f);
                    }
            }
    }
}

/* Copies s into buf, cut to max_chars with a trailing ".." when longer. */
static const char *fit(char *buf, size_t cap, const char *s, int max_chars)
{
    size_t max = max_chars < 3 ? 3 : (size_t)max_chars;
    if (max >= cap) max = cap - 1;
    size_t n = strlen(s), keep = n <= max ? n : max - 2;
    memcpy(buf, s, keep);
    if (n > max) {
        memcpy(buf + keep, "..", 2);
        keep += 2;
    }
    buf[keep] = '\0';
    return buf;
}

static int usable(double v) { return v >= -POINT_LIMIT && v <= POINT_LIMIT; } /* NaN: no */

/* 1, 2 or 5 times a power of ten, closest to raw (> 0). */
static double nice_step(double raw)
{
    double base = pow(10.0, floor(log10(raw)));
    double f = raw / base;
    return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * base;
}

/* Fits about `target` ticks over [lo, hi] (lo > hi: no data). A span that is empty or lost in
 * rounding is widened first, so nothing below divides by zero. */
static void axis_fit(axis *a, double lo, double hi, int target)
{
    if (!(lo <= hi)) {
        lo = 0.0;
        hi = 1.0;
    }
    double mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= 1e-12 * mag || hi - lo < 1e-150) {
        double d = mag > 1e-150 ? 0.1 * mag : 1.0;
        lo -= d;
        hi += d;
    }
    a->step = nice_step((hi - lo) / (target - 1));
    /* The 1e-9 keeps 0.3 / 0.1 = 2.9999999999999996 from adding a tick below the data. */
    a->lo = floor(lo / a->step + 1e-9) * a->step;
    a->hi = ceil(hi / a->step - 1e-9) * a->step;
    a->n_ticks = (int)lround((a->hi - a->lo) / a->step) + 1;
    SC_ASSERT(a->hi > a->lo && a->n_ticks >= 2 && a->n_ticks <= 64);
}

static double tick_value(const axis *a, int i)
{
    double v = a->lo + i * a->step;
    return fabs(v) < 1e-6 * a->step ? 0.0 : v; /* no "-0" or "1e-17" */
}

static void tick_label(char *buf, size_t cap, const axis *a, int i)
{
    double v = tick_value(a, i);
    double mag = fmax(fabs(a->lo), fabs(a->hi));
    int step_exp = (int)floor(log10(a->step) + 1e-9);
    if (mag < 1e6 && step_exp >= -5) {
        snprintf(buf, cap, "%.*f", step_exp < 0 ? -step_exp : 0, v);
    } else { /* as many significant digits as the step needs */
        int digits = (int)floor(log10(mag) + 1e-9) - step_exp + 1;
        snprintf(buf, cap, "%.*g", digits < 1 ? 1 : digits > 15 ? 15 : digits, v);
    }
}

static double map(double v, double lo, double hi, int p0, int p1)
{
    return p0 + (v - lo) / (hi - lo) * (p1 - p0);
}

static void cover(layer *L, int x, int y, float c)
{
    float *p = &L->a[(size_t)y * (size_t)L->w + (size_t)x];
    if (c > *p) *p = c;
}

static void clear_layer(layer *L)
{
    for (int y = L->y0; y <= L->y1; y++)
        memset(&L->a[(size_t)y * (size_t)L->w + (size_t)L->x0], 0, (size_t)(L->x1 - L->x0 + 1) * sizeof(float));
}

static void composite(canvas *c, const layer *L, rgb8 col)
{
    for (int y = L->y0; y <= L->y1; y++)
        for (int x = L->x0; x <= L->x1; x++) {
            float a = L->a[(size_t)y * (size_t)L->w + (size_t)x];
            if (a > 0.0f) blend(c, x, y, col, a);
        }
}

/* Coverage of pixel (x, y) by the segment a-b of half width LINE_HALF_WIDTH: 1 inside, falling to
 * 0 over one pixel at the edge. `dash0` is the length drawn before a, which keeps dashes in
 * phase across segments. */
static void cover_pixel(layer *L, int x, int y, double ax, double ay, double dx, double dy, double len,
                        double dash0, int dashed)
{
    double t = len > 0 ? ((x - ax) * dx + (y - ay) * dy) / (len * len) : 0.0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double d = hypot(x - (ax + t * dx), y - (ay + t * dy));
    double c = LINE_HALF_WIDTH + 0.5 - d;
    if (c <= 0) return;
    if (dashed && fmod(dash0 + t * len, DASH_PERIOD) >= DASH_ON) return;
    cover(L, x, y, c > 1 ? 1.0f : (float)c);
}

/* Visits only a band around the segment along its major axis, so a long diagonal costs its
 * length, not its bounding box. */
static void stroke(layer *L, double ax, double ay, double bx, double by, double dash0, int dashed)
{
    double dx = bx - ax, dy = by - ay, len = hypot(dx, dy);
    const double reach = LINE_HALF_WIDTH + 1.0, band = 1.5 * reach;
    int steep = fabs(dy) > fabs(dx);
    double a0 = steep ? ay : ax, d_major = steep ? dy : dx, d_minor = steep ? dx : dy;
    double m_lo = fmin(a0, a0 + d_major) - reach, m_hi = fmax(a0, a0 + d_major) + reach;
    int lim_lo = steep ? L->y0 : L->x0, lim_hi = steep ? L->y1 : L->x1;
    int n_lo = steep ? L->x0 : L->y0, n_hi = steep ? L->x1 : L->y1;
    int m0 = (int)fmax(floor(m_lo), lim_lo), m1 = (int)fmin(ceil(m_hi), lim_hi);
    for (int m = m0; m <= m1; m++) {
        double t = d_major != 0 ? (m - a0) / d_major : 0.0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double centre = (steep ? ax : ay) + t * d_minor;
        int n0 = (int)fmax(floor(centre - band), n_lo), n1 = (int)fmin(ceil(centre + band), n_hi);
        for (int n = n0; n <= n1; n++) {
            if (steep) cover_pixel(L, n, m, ax, ay, dx, dy, len, dash0, dashed);
            else cover_pixel(L, m, n, ax, ay, dx, dy, len, dash0, dashed);
        }
    }
}

static void disc(layer *L, double cx, double cy, double r)
{
    int x0 = (int)fmax(floor(cx - r - 1), L->x0), x1 = (int)fmin(ceil(cx + r + 1), L->x1);
    int y0 = (int)fmax(floor(cy - r - 1), L->y0), y1 = (int)fmin(ceil(cy + r + 1), L->y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double c = r + 0.5 - hypot(x - cx, y - cy);
            if (c > 0) cover(L, x, y, c > 1 ? 1.0f : (float)c);
        }
}

void plot_colour(int i, uint8_t rgb[3])
{
    SC_ASSERT(i >= 0 && i < PLOT_PALETTE_SIZE);
    rgb[0] = palette[i].r;
    rgb[1] = palette[i].g;
    rgb[2] = palette[i].b;
}

static rgb8 series_colour(const plot_series *s, int i)
{
    return palette[s->palette > 0 ? s->palette - 1 : i % PLOT_PALETTE_SIZE];
}

static int point_ok(const plot_series *s, int i)
{
    return i >= 0 && i < s->n && usable(s->x[i]) && usable(s->y[i]);
}

/* Plot area in pixels (inclusive) and the axes it shows. */
typedef struct {
    int left, right, top, bottom;
    axis ax, ay;
} frame;

static void draw_series(layer *L, const plot_series *s, const frame *f)
{
    double px = 0, py = 0, drawn = 0;
    for (int i = 0; i < s->n; i++) {
        if (!point_ok(s, i)) continue;
        double x = map(s->x[i], f->ax.lo, f->ax.hi, f->left, f->right);
        double y = map(s->y[i], f->ay.lo, f->ay.hi, f->bottom, f->top);
        if (point_ok(s, i - 1)) {
            stroke(L, px, py, x, y, drawn, s->dashed);
            drawn += hypot(x - px, y - py);
        } else if (!point_ok(s, i + 1) && !s->markers) {
            disc(L, x, y, LINE_HALF_WIDTH + 0.5); /* an isolated point would vanish otherwise */
        }
        if (s->markers) disc(L, x, y, MARKER_RADIUS);
        px = x;
        py = y;
    }
}

/* A series draws lines when two of its consecutive points are drawable; else it is a scatter. */
static int has_lines(const plot_series *s)
{
    for (int i = 1; i < s->n; i++)
        if (point_ok(s, i - 1) && point_ok(s, i)) return 1;
    return 0;
}

/* Each point's label to the right of it, in the series' colour, darkened for legibility. */
static void draw_labels(canvas *c, const plot_series *s, const frame *f, rgb8 col)
{
    if (!s->labels) return;
    const rgb8 ink = {(uint8_t)(col.r * 3 / 4), (uint8_t)(col.g * 3 / 4), (uint8_t)(col.b * 3 / 4)};
    for (int i = 0; i < s->n; i++) {
        if (!point_ok(s, i) || !s->labels[i] || !*s->labels[i]) continue;
        const double x = map(s->x[i], f->ax.lo, f->ax.hi, f->left, f->right);
        const double y = map(s->y[i], f->ay.lo, f->ay.hi, f->bottom, f->top);
        char buf[LABEL_CHARS + 1];
        const char *t = fit(buf, sizeof buf, s->labels[i], LABEL_CHARS);
        int tx = (int)x + 7;
        const int w = text_width(t, 1);
        if (tx + w > c->w - 2) tx = (int)x - 7 - w; /* keep it inside the picture */
        draw_text(c, tx, (int)y - GLYPH_H - 2, t, 1, ink, 0);
    }
}

static sc_status check_spec(const plot_spec *sp, int W, int H)
{
    if (!(W >= 200 && W <= 4096 && H >= 150 && H <= 4096))
        return err_fail(SC_ERR_ARG, "plot size %d x %d is outside 200..4096 x 150..4096", W, H);
    if (sp->n_series < 0 || sp->n_series > PLOT_MAX_SERIES)
        return err_fail(SC_ERR_ARG, "plot has %d series; at most %d are allowed", sp->n_series, PLOT_MAX_SERIES);
    for (int i = 0; i < sp->n_series; i++) {
        const plot_series *s = &sp->series[i];
        if (s->n < 0 || (s->n > 0 && (!s->x || !s->y)))
            return err_fail(SC_ERR_ARG, "plot series %d has %d points but no data", i, s->n);
        if (s->palette < 0 || s->palette > PLOT_PALETTE_SIZE)
            return err_fail(SC_ERR_ARG, "plot series %d: palette entry %d is not in 0..%d", i, s->palette,
                           PLOT_PALETTE_SIZE);
    }
    return SC_OK;
}

/* Lays out title, labels and legend around the plot area and fits the axes to the data. */
static sc_status layout(const plot_spec *sp, int W, int H, frame *f, int *legend_w, int *n_named)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    *n_named = 0;
    int name_w = 0;
    for (int i = 0; i < sp->n_series; i++) {
        const plot_series *s = &sp->series[i];
        for (int k = 0; k < s->n; k++) {
            if (!point_ok(s, k)) continue;
            xlo = fmin(xlo, s->x[k]);
            xhi = fmax(xhi, s->x[k]);
            ylo = fmin(ylo, s->y[k]);
            yhi = fmax(yhi, s->y[k]);
        }
        if (s->name && *s->name) {
            char buf[LEGEND_CHARS + 1];
            int w = text_width(fit(buf, sizeof buf, s->name, LEGEND_CHARS), TEXT_SCALE);
            name_w = w > name_w ? w : name_w;
            (*n_named)++;
        }
    }
    axis_fit(&f->ax, xlo, xhi, 8);
    axis_fit(&f->ay, ylo, yhi, 7);

    int ytick_w = 0;
    for (int i = 0; i < f->ay.n_ticks; i++) {
        char b[64];
        tick_label(b, sizeof b, &f->ay, i);
        int w = text_width(b, TEXT_SCALE);
        ytick_w = w > ytick_w ? w : ytick_w;
    }
    int text_h = GLYPH_H * TEXT_SCALE;
    *legend_w = *n_named ? 12 + LEGEND_SAMPLE + 10 + name_w + 12 : 0;
    f->top = sp->title && *sp->title ? 16 + GLYPH_H * TITLE_SCALE + 18 : 24;
    f->left = 16 + (sp->y_label && *sp->y_label ? text_h + 14 : 0) + ytick_w + 12;
    f->right = W - 1 - (*n_named ? *legend_w + 20 : 28);
    f->bottom = H - 1 - (12 + text_h + (sp->x_label && *sp->x_label ? 14 + text_h : 0) + 16);
    if (f->right - f->left < 80 || f->bottom - f->top < 60)
        return err_fail(SC_ERR_ARG, "plot of %d x %d pixels is too small for its labels and legend", W, H);
    return SC_OK;
}

static void draw_axes(canvas *c, const plot_spec *sp, const frame *f)
{
    int text_h = GLYPH_H * TEXT_SCALE;
    char b[64];
    for (int i = 0; i < f->ay.n_ticks; i++) {
        int y = (int)lround(map(tick_value(&f->ay, i), f->ay.lo, f->ay.hi, f->bottom, f->top));
        if (y > f->top && y < f->bottom) fill_rect(c, f->left + 1, y, f->right - 1, y, GRID);
        fill_rect(c, f->left - 5, y, f->left - 1, y, FRAME);
        tick_label(b, sizeof b, &f->ay, i);
        draw_text(c, f->left - 10 - text_width(b, TEXT_SCALE), y - text_h / 2, b, TEXT_SCALE, INK, 0);
    }
    /* Label every k-th x tick when the labels would touch. */
    int widest = 0;
    for (int i = 0; i < f->ax.n_ticks; i++) {
        tick_label(b, sizeof b, &f->ax, i);
        int w = text_width(b, TEXT_SCALE);
        widest = w > widest ? w : widest;
    }
    double spacing = (double)(f->right - f->left) / (f->ax.n_ticks - 1);
    int every = 1;
    while (every * spacing < widest + 16) every++;
    for (int i = 0; i < f->ax.n_ticks; i++) {
        int x = (int)lround(map(tick_value(&f->ax, i), f->ax.lo, f->ax.hi, f->left, f->right));
        if (x > f->left && x < f->right) fill_rect(c, x, f->top + 1, x, f->bottom - 1, GRID);
        fill_rect(c, x, f->bottom + 1, x, f->bottom + 5, FRAME);
        if (i % every) continue;
        tick_label(b, sizeof b, &f->ax, i);
        draw_text(c, x - text_width(b, TEXT_SCALE) / 2, f->bottom + 12, b, TEXT_SCALE, INK, 0);
    }
    char t[256];
    int plot_w = f->right - f->left + 1, plot_h = f->bottom - f->top + 1;
    if (sp->x_label && *sp->x_label) {
        fit(t, sizeof t, sp->x_label, plot_w / (GLYPH_ADV * TEXT_SCALE));
        draw_text(c, f->left + (plot_w - text_width(t, TEXT_SCALE)) / 2, f->bottom + 12 + text_h + 14, t,
                  TEXT_SCALE, INK, 0);
    }
    if (sp->y_label && *sp->y_label) {
        fit(t, sizeof t, sp->y_label, plot_h / (GLYPH_ADV * TEXT_SCALE));
        draw_text(c, 16, f->top + (plot_h + text_width(t, TEXT_SCALE)) / 2, t, TEXT_SCALE, INK, 1);
    }
    if (sp->title && *sp->title) {
        fit(t, sizeof t, sp->title, (c->w - 32) / (GLYPH_ADV * TITLE_SCALE));
        int w = text_width(t, TITLE_SCALE);
        int x = f->left + (plot_w - w) / 2;
        if (x + w > c->w - 16) x = c->w - 16 - w;
        draw_text(c, x < 16 ? 16 : x, 16, t, TITLE_SCALE, INK, 0);
    }
}

static void draw_frame(canvas *c, const frame *f)
{
    fill_rect(c, f->left, f->top, f->right, f->top, FRAME);
    fill_rect(c, f->left, f->bottom, f->right, f->bottom, FRAME);
    fill_rect(c, f->left, f->top, f->left, f->bottom, FRAME);
    fill_rect(c, f->right, f->top, f->right, f->bottom, FRAME);
}

static void draw_legend(canvas *c, layer *L, const plot_spec *sp, const frame *f, int legend_w, int n_named)
{
    int x0 = f->right + 20, y0 = f->top;
    int fits = (c->h - 8 - y0 - 12) / LEGEND_ROW; /* rows that fit a short image */
    if (n_named > fits) n_named = fits < 0 ? 0 : fits;
    int h = n_named * LEGEND_ROW + 12;
    fill_rect(c, x0, y0, x0 + legend_w - 1, y0, LEGEND_EDGE);
    fill_rect(c, x0, y0 + h - 1, x0 + legend_w - 1, y0 + h - 1, LEGEND_EDGE);
    fill_rect(c, x0, y0, x0, y0 + h - 1, LEGEND_EDGE);
    fill_rect(c, x0 + legend_w - 1, y0, x0 + legend_w - 1, y0 + h - 1, LEGEND_EDGE);
    int row = 0;
    for (int i = 0; i < sp->n_series && row < n_named; i++) {
        const plot_series *s = &sp->series[i];
        if (!s->name || !*s->name) continue;
        int cy = y0 + 6 + row * LEGEND_ROW + LEGEND_ROW / 2;
        layer sample = *L;
        sample.x0 = x0 + 1;
        sample.x1 = x0 + legend_w - 2;
        sample.y0 = cy - LEGEND_ROW / 2;
        sample.y1 = cy + LEGEND_ROW / 2 - 1;
        clear_layer(&sample);
        /* A scatter (no two joined points) shows its marker only, as it is drawn. */
        if (has_lines(s) || !s->markers) stroke(&sample, x0 + 12, cy, x0 + 12 + LEGEND_SAMPLE, cy, 0, s->dashed);
        if (s->markers) disc(&sample, x0 + 12 + LEGEND_SAMPLE / 2, cy, MARKER_RADIUS);
        composite(c, &sample, series_colour(s, i));
        char buf[LEGEND_CHARS + 1];
        draw_text(c, x0 + 12 + LEGEND_SAMPLE + 10, cy - GLYPH_H * TEXT_SCALE / 2,
                  fit(buf, sizeof buf, s->name, LEGEND_CHARS), TEXT_SCALE, INK, 0);
        row++;
    }
}

sc_status plot_render(const plot_spec *sp, uint8_t **rgb, int *w, int *h)
{
    *rgb = NULL;
    if (!sp) return err_fail(SC_ERR_ARG, "no plot given");
    int W = sp->width ? sp->width : PLOT_DEFAULT_W, H = sp->height ? sp->height : PLOT_DEFAULT_H;
    sc_status s = check_spec(sp, W, H);
    if (s) return s;
    frame f;
    int legend_w, n_named;
    if ((s = layout(sp, W, H, &f, &legend_w, &n_named))) return s;

    canvas c = {mem_alloc_array((size_t)W * (size_t)H, 3, "plot image"), W, H};
    /* Nice ticks often put data exactly on an axis end (error 0, step 0, a constant): series may
     * draw over the frame so such a line or marker is not cut in half. The axes cover every
     * point, so nothing reaches further than a line's width or a marker's radius. */
    layer L = {mem_alloc_array((size_t)W * (size_t)H, sizeof(float), "plot layer"), W, H,
               f.left - OVERDRAW, f.top - OVERDRAW, f.right + OVERDRAW, f.bottom + OVERDRAW};
    if (!c.px || !L.a) {
        mem_free(c.px);
        mem_free(L.a);
        return SC_ERR_NOMEM;
    }
    memset(c.px, 255, (size_t)W * (size_t)H * 3); /* white background */
    draw_axes(&c, sp, &f);
    draw_frame(&c, &f);
    for (int i = 0; i < sp->n_series; i++) {
        clear_layer(&L);
        draw_series(&L, &sp->series[i], &f);
        composite(&c, &L, series_colour(&sp->series[i], i));
    }
    for (int i = 0; i < sp->n_series; i++) draw_labels(&c, &sp->series[i], &f, series_colour(&sp->series[i], i));
    if (n_named) draw_legend(&c, &L, sp, &f, legend_w, n_named);
    mem_free(L.a);
    *rgb = c.px;
    *w = W;
    *h = H;
    return SC_OK;
}

sc_status plot_lines_png(const char *path, const plot_spec *spec, int force)
{
    uint8_t *rgb;
    int w, h;
    sc_status s = plot_render(spec, &rgb, &w, &h);
    if (s) return s;
    png_text_kv meta[2] = {{"Software", "smoothcache"}, {"Title", spec->title}};
    s = png_write_rgb8(path, w, h, rgb, meta, spec->title && *spec->title ? 2 : 1, force);
    mem_free(rgb);
    return s;
}
