/* The line-chart renderer: a valid PNG of the asked size, series drawn in their palette colour,
 * NaN / Inf / empty / constant data handled without dividing by zero, bad specs refused. Pixels
 * of a series are found by its exact colour (line centres have full coverage). */
#include "harness.h"

#include <png.h>

#include "core/mem.h"
#include "metrics/plot.h"

typedef struct {
    int count, min_x, max_x, min_y, max_y;
} found;

static found find_colour(const uint8_t *rgb, int w, int h, int palette_index)
{
    uint8_t c[3];
    plot_colour(palette_index, c);
    found f = {0, w, -1, h, -1};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            if (p[0] != c[0] || p[1] != c[1] || p[2] != c[2]) continue;
            f.count++;
            f.min_x = x < f.min_x ? x : f.min_x;
            f.max_x = x > f.max_x ? x : f.max_x;
            f.min_y = y < f.min_y ? y : f.min_y;
            f.max_y = y > f.max_y ? y : f.max_y;
        }
    return f;
}

/* Renders, checks the size, returns the pixels (mem_free them). */
static uint8_t *render(const plot_spec *p, int want_w, int want_h)
{
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    CHECK_OK(plot_render(p, &rgb, &w, &h));
    CHECK_MSG(w == want_w && h == want_h, "rendered %d x %d, want %d x %d", w, h, want_w, want_h);
    return rgb;
}

static double xs[50], ramp[50], wave[50];

static void fill_data(void)
{
    for (int i = 0; i < 50; i++) {
        xs[i] = i;
        ramp[i] = 0.3 - 0.005 * i;
        wave[i] = 0.1 + 0.05 * sin(i / 4.0);
    }
}

TEST(plot_writes_a_png_of_the_default_size_that_pngcheck_accepts)
{
    fill_data();
    plot_spec p = {.title = "calibration", .x_label = "step", .y_label = "relative L1 error", .n_series = 2};
    p.series[0] = (plot_series){.name = "attn, lag 1", .x = xs, .y = ramp, .n = 50};
    p.series[1] = (plot_series){.name = "mlp, lag 2", .x = xs, .y = wave, .n = 50, .dashed = 1, .markers = 1};
    const char *path = test_path("calib.png");
    CHECK_OK(plot_lines_png(path, &p, 0));
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "pngcheck -q '%s'", path);
    CHECK_MSG(system(cmd) == 0, "pngcheck rejects %s (`scripts/deps.sh test` installs pngcheck)", path);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_file(&img, path));
    CHECK(img.width == PLOT_DEFAULT_W && img.height == PLOT_DEFAULT_H);
    png_image_free(&img);
    CHECK_ERR(plot_lines_png(path, &p, 0), SC_ERR_EXISTS, "already exists");
    CHECK_OK(plot_lines_png(path, &p, 1));
}

TEST(plot_draws_each_series_in_its_palette_colour_and_honours_custom_size)
{
    fill_data();
    plot_spec p = {.n_series = 2, .width = 640, .height = 400};
    p.series[0] = (plot_series){.x = xs, .y = ramp, .n = 50, .palette = 4};
    p.series[1] = (plot_series){.x = xs, .y = wave, .n = 50};
    uint8_t *rgb = render(&p, 640, 400);
    found red = find_colour(rgb, 640, 400, 3), orange = find_colour(rgb, 640, 400, 1);
    CHECK(red.count > 300 && orange.count > 300);
    /* the ramp falls from the top-left to the bottom-right of the plot area */
    CHECK(red.max_x - red.min_x > 400 && red.max_y - red.min_y > 200);
    CHECK(find_colour(rgb, 640, 400, 0).count == 0); /* palette 0 is unused */
    mem_free(rgb);
}

TEST(plot_dashed_line_covers_about_eight_fourteenths_of_the_solid_one)
{
    fill_data();
    plot_spec p = {.n_series = 1};
    p.series[0] = (plot_series){.x = xs, .y = ramp, .n = 50};
    uint8_t *rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    int solid = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 0).count;
    mem_free(rgb);
    p.series[0].dashed = 1;
    rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    int dashed = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 0).count;
    mem_free(rgb);
    CHECK_MSG(dashed > 0.45 * solid && dashed < 0.7 * solid, "dashed %d, solid %d", dashed, solid);
}

TEST(plot_skips_nan_and_infinite_points_and_survives_empty_and_constant_series)
{
    double bad_x[4] = {NAN, 1, INFINITY, 3}, bad_y[4] = {1, NAN, 2, -INFINITY};
    double cx[10], cy[10];
    for (int i = 0; i < 10; i++) {
        cx[i] = i;
        cy[i] = 3.0; /* all equal: the y axis must not have zero height */
    }
    plot_spec p = {.title = "degenerate", .n_series = 3};
    p.series[0] = (plot_series){.name = "all bad", .x = bad_x, .y = bad_y, .n = 4, .palette = 1};
    p.series[1] = (plot_series){.name = "empty", .n = 0, .palette = 3};
    p.series[2] = (plot_series){.x = cx, .y = cy, .n = 10, .palette = 2};
    uint8_t *rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    /* the two named series only show their legend sample, right of the plot */
    found blue = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 0);
    found flat = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 1);
    CHECK(blue.count > 0 && blue.max_x - blue.min_x < 40);
    /* the constant series: one horizontal line across the plot, in the middle third */
    CHECK(flat.count > 300 && flat.max_x - flat.min_x > 400 && flat.max_y - flat.min_y <= 2);
    CHECK(flat.min_y > PLOT_DEFAULT_H / 3 && flat.max_y < 2 * PLOT_DEFAULT_H / 3);
    mem_free(rgb);
}

TEST(plot_breaks_the_line_at_a_nan_point)
{
    double x[11], y[11];
    for (int i = 0; i < 11; i++) {
        x[i] = i;
        y[i] = i % 2;
    }
    y[5] = NAN;
    plot_spec p = {.n_series = 1};
    p.series[0] = (plot_series){.x = x, .y = y, .n = 11};
    uint8_t *rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    found all = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 0);
    uint8_t c[3];
    plot_colour(0, c);
    int longest_gap = 0, gap = 0;
    for (int x0 = all.min_x; x0 <= all.max_x; x0++) {
        int any = 0;
        for (int y0 = 0; y0 < PLOT_DEFAULT_H && !any; y0++)
            any = memcmp(rgb + ((size_t)y0 * PLOT_DEFAULT_W + x0) * 3, c, 3) == 0;
        gap = any ? 0 : gap + 1;
        longest_gap = gap > longest_gap ? gap : longest_gap;
    }
    /* x = 4..6 is 2/10 of a ~600 px wide plot */
    CHECK_MSG(longest_gap > 80, "longest gap %d px", longest_gap);
    mem_free(rgb);
}

TEST(plot_with_no_series_or_extreme_values_renders_without_dividing_by_zero)
{
    plot_spec p = {.title = "nothing", .x_label = "x", .y_label = "y"};
    mem_free(render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H));
    double x[3] = {0, 1, 2}, tiny[3] = {1e-310, 1e-310, 2e-310}, wide[3] = {-1e150, 0, 1e150},
           huge[3] = {1e200, 5, -1e300}, near[3] = {1e10, 1e10 + 1e-3, 1e10};
    p.n_series = 1;
    p.series[0] = (plot_series){.x = x, .y = tiny, .n = 3};
    mem_free(render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H));
    p.series[0].y = wide;
    mem_free(render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H));
    p.series[0].y = huge; /* beyond 1e150: skipped, one point left */
    p.series[0].x = wide;
    mem_free(render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H));
    p.series[0].x = x;
    p.series[0].y = near;
    mem_free(render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H));
}

TEST(plot_fits_twelve_series_with_long_names_and_refuses_a_canvas_too_small_for_them)
{
    fill_data();
    static double ys[12][50];
    plot_spec p = {.title = "twelve", .n_series = 12};
    for (int s = 0; s < 12; s++) {
        for (int i = 0; i < 50; i++) ys[s][i] = s + sin(i / 5.0);
        p.series[s] = (plot_series){.name = "a very long series name that will be cut", .x = xs, .y = ys[s],
                                    .n = 50, .dashed = s % 2};
    }
    uint8_t *rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    for (int s = 0; s < 12; s++) CHECK_MSG(find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, s).count > 100, "series %d", s);
    mem_free(rgb);
    p.width = 200;
    p.height = 150;
    uint8_t *none = (uint8_t *)1;
    int w, h;
    CHECK_ERR(plot_render(&p, &none, &w, &h), SC_ERR_ARG, "too small");
    CHECK(none == NULL);
}

TEST(plot_rejects_bad_sizes_series_counts_and_missing_points)
{
    uint8_t *rgb;
    int w, h;
    double x[2] = {0, 1};
    plot_spec p = {.width = 199, .height = 300};
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "outside 200..4096");
    p.width = 4097;
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "outside 200..4096");
    p.width = 0;
    p.height = 0;
    p.n_series = PLOT_MAX_SERIES + 1;
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "at most 12");
    p.n_series = 1;
    p.series[0] = (plot_series){.x = x, .y = NULL, .n = 2};
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "no data");
    p.series[0] = (plot_series){.x = x, .y = x, .n = -1};
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "no data");
    p.series[0] = (plot_series){.x = x, .y = x, .n = 2, .palette = PLOT_PALETTE_SIZE + 1};
    CHECK_ERR(plot_render(&p, &rgb, &w, &h), SC_ERR_ARG, "palette entry 13");
    CHECK_ERR(plot_render(NULL, &rgb, &w, &h), SC_ERR_ARG, "no plot");
    CHECK_ERR(plot_lines_png(test_path("x.png"), &p, 0), SC_ERR_ARG, "palette entry 13");
}

/* A scatter (one point, markers) shows a marker in the legend, not a line; labels are written
 * beside their points. */
TEST(plot_scatter_legend_shows_a_marker_and_points_carry_their_labels)
{
    const double x1[1] = {2.0}, y1[1] = {30.0}, x2[2] = {1.0, 3.0}, y2[2] = {40.0, 35.0};
    const char *const lab[2] = {"n=2", "n=3"};
    plot_spec p = {.n_series = 2};
    p.series[0] = (plot_series){.name = "teacache", .x = x1, .y = y1, .n = 1, .markers = 1};
    p.series[1] = (plot_series){.name = "fora", .x = x2, .y = y2, .n = 2, .markers = 1};
    uint8_t *rgb = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    uint8_t c[3];
    plot_colour(0, c);
    /* The legend is right of the plot area: the scatter's ink there is one marker wide. */
    int lo = PLOT_DEFAULT_W, hi = -1;
    for (int y = 0; y < PLOT_DEFAULT_H; y++)
        for (int x = PLOT_DEFAULT_W * 3 / 4; x < PLOT_DEFAULT_W; x++) {
            const uint8_t *q = rgb + ((size_t)y * PLOT_DEFAULT_W + x) * 3;
            if (q[0] == c[0] && q[1] == c[1] && q[2] == c[2]) {
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
        }
    CHECK_MSG(hi >= lo && hi - lo <= 8, "legend ink of the scatter spans x %d..%d", lo, hi);
    /* The line series' legend sample stays a line. */
    found line = find_colour(rgb, PLOT_DEFAULT_W, PLOT_DEFAULT_H, 1);
    CHECK(line.max_x - line.min_x > 100);
    p.series[1].labels = lab;
    uint8_t *labelled = render(&p, PLOT_DEFAULT_W, PLOT_DEFAULT_H);
    size_t differ = 0;
    for (size_t i = 0; i < (size_t)PLOT_DEFAULT_W * PLOT_DEFAULT_H * 3; i++) differ += rgb[i] != labelled[i];
    CHECK_MSG(differ > 40, "labels changed %zu bytes", differ);
    mem_free(rgb);
    mem_free(labelled);
}
