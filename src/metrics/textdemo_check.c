/* Port of tools/textdemo/check.py; every threshold and tie rule is the Python one. */
#include "metrics/textdemo_check.h"

#include <math.h>
#include <string.h>

#include "metrics/foreground.h"

#define MAX_COLOUR_DIST2 (64.0 * 64.0)

static const char *const k_colours[] = {"red", "green", "blue", "yellow", "magenta", "cyan"};
static const int k_rgb[6][3] = {{235, 35, 35}, {35, 215, 35}, {40, 60, 245},
                                {240, 225, 35}, {225, 35, 225}, {35, 220, 230}};
static const char *const k_shapes[] = {"circle", "triangle", "frame", "ring"};
static const char *const k_backgrounds[] = {"dark", "light"};

/* 6. The shape from the compactness: ring [0.50, 0.657), frame [0.657, 0.79), triangle
 *    [0.79, 0.93), circle [0.93, 1.08]. */
static int shape_of(double q)
{
    if (q >= 0.50 && q < 0.657) return 3;
    if (q >= 0.657 && q < 0.79) return 2;
    if (q >= 0.79 && q < 0.93) return 1;
    if (q >= 0.93 && q <= 1.08) return 0;
    return -1;
}

void textdemo_read(const uint8_t *img, int *colour, int *shape, int *background)
{
    fg_stats f;
    const int has = fg_measure(img, &f);
    /* 7. Background: dark below a mean of 128. */
    *background = f.bg[0] + f.bg[1] + f.bg[2] < 3 * 128 ? 0 : 1;
    *colour = *shape = -1;
    if (!has) return;
    /* 5. Nearest colour (lowest index on ties), within 64. */
    double best = INFINITY;
    for (int k = 0; k < 6; k++) {
        double dk = 0;
        for (int c = 0; c < 3; c++) {
            const double e = f.mean[c] - k_rgb[k][c];
            dk += e * e;
        }
        if (dk < best) {
            best = dk;
            *colour = k;
        }
    }
    if (best > MAX_COLOUR_DIST2) *colour = -1;
    *shape = f.q < 0 ? -1 : shape_of(f.q);
}

/* The index of the first word of `prompt` found in `names` (whole words, ASCII lower-cased,
 * split on spaces), or -1. */
static int find_word(const char *prompt, size_t len, const char *const *names, int count)
{
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && prompt[j] != ' ') j++;
        for (int k = 0; k < count; k++) {
            const size_t w = strlen(names[k]);
            if (w != j - i) continue;
            size_t c = 0;
            while (c < w && (prompt[i + c] | (prompt[i + c] >= 'A' && prompt[i + c] <= 'Z' ? 0x20 : 0)) == names[k][c]) c++;
            if (c == w) return k;
        }
        i = j + 1;
    }
    return -1;
}

int textdemo_shows(const uint8_t *img, const char *prompt, size_t len)
{
    const int want_c = find_word(prompt, len, k_colours, 6), want_s = find_word(prompt, len, k_shapes, 4);
    const int want_b = find_word(prompt, len, k_backgrounds, 2);
    if (want_c < 0 || want_s < 0) return -1;
    int c, s, b;
    textdemo_read(img, &c, &s, &b);
    return c == want_c && s == want_s && (want_b < 0 || b == want_b);
}
