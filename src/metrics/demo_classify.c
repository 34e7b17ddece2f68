/* Port of tools/demo/classify.py; every threshold and tie rule is the Python one. */
#include "metrics/demo_classify.h"

#include <math.h>
#include <stdlib.h>

#include "metrics/foreground.h"

#define MAX_COLOUR_DIST2 (64.0 * 64.0)

static const int k_colours[DEMO_CLASSES][3] = {
    {235, 35, 35},   {35, 215, 35},  {40, 60, 245},  {240, 225, 35}, {225, 35, 225},
    {35, 220, 230},  {250, 135, 20}, {240, 240, 240}, {145, 40, 250}, {40, 250, 145},
};

/* Accepted compactness q = n^2 / (2 pi S) per class, inclusive (classify.py's SHAPE_RANGE). */
static const double k_shape[DEMO_CLASSES][2] = {
    {0.92, 1.08}, /* 0 circle   */
    {0.85, 1.06}, /* 1 square   */
    {0.72, 0.95}, /* 2 triangle */
    {0.70, 0.94}, /* 3 cross    */
    {0.50, 0.73}, /* 4 ring     */
    {0.72, 0.96}, /* 5 diamond  */
    {0.90, 1.08}, /* 6 hexagon  */
    {0.75, 0.96}, /* 7 star     */
    {0.45, 0.70}, /* 8 target   */
    {0.58, 0.86}, /* 9 frame    */
};

int demo_classify(const uint8_t *img)
{
    fg_stats f;
    if (!fg_measure(img, &f)) return -1;
    /* 5. Nearest class colour (lowest id on ties). */
    int best = -1;
    double best_d = INFINITY;
    for (int k = 0; k < DEMO_CLASSES; k++) {
        double dk = 0;
        for (int c = 0; c < 3; c++) {
            double e = f.mean[c] - k_colours[k][c];
            dk += e * e;
        }
        if (dk < best_d) {
            best = k;
            best_d = dk;
        }
    }
    if (best_d > MAX_COLOUR_DIST2) return -1;
    /* 6. The class's compactness range. */
    if (f.q < 0 || f.q < k_shape[best][0] || f.q > k_shape[best][1]) return -1;
    return best;
}
