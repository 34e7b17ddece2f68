/* The oneDNN convolution wrapper against a direct loop in double: kernel sizes 1, 2 and 3, odd
 * channel counts, padding, bias or none, the fused accumulation, both algorithms, several image
 * sizes through one layer (primitive reuse, winograd's size-dependent weight layout), and
 * winograd's strips. */
#include "backend/cpu/conv.h"
#include "harness.h"

static float lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f - 0.5f;
}

/* out [n, ho, wo, co] (NHWC) = conv(x [n, h, w, ci]) with w [co, ci, k, k], bias or NULL. */
static void naive(double *out, const float *x, const float *w, const float *bias, int n, int h, int wd, int ci,
                  int co, int k, int pad)
{
    const int ho = h + 2 * pad - k + 1, wo = wd + 2 * pad - k + 1;
    for (int b = 0; b < n; b++)
        for (int y = 0; y < ho; y++)
            for (int xx = 0; xx < wo; xx++)
                for (int o = 0; o < co; o++) {
                    double acc = bias ? bias[o] : 0;
                    for (int u = 0; u < k; u++)
                        for (int v = 0; v < k; v++) {
                            int iy = y + u - pad, ix = xx + v - pad;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            for (int i = 0; i < ci; i++)
                                acc += (double)x[(((size_t)b * h + iy) * wd + ix) * ci + i] *
                                       w[(((size_t)o * ci + i) * k + u) * k + v];
                        }
                    out[(((size_t)b * ho + y) * wo + xx) * co + o] = acc;
                }
}

/* One layer run at each image side in sides[0..nsides), in both modes, twice each. */
static void check_case(conv_ctx *c, int algorithm, int n, const int *sides, int nsides, int ci, int co, int k,
                       int pad, int with_bias)
{
    uint32_t s = (uint32_t)(ci * 131 + co * 7 + k);
    const size_t nw = (size_t)co * ci * k * k;
    float *w = malloc(nw * sizeof *w), *b = malloc((size_t)co * sizeof *b);
    for (size_t i = 0; i < nw; i++) w[i] = lcg(&s);
    for (int i = 0; i < co; i++) b[i] = lcg(&s);
    conv_layer *L;
    CHECK_OK(conv_layer_create(c, ci, co, k, pad, w, with_bias ? b : NULL, algorithm, 0, &L));
    float *kept = malloc(nw * sizeof *kept);
    memcpy(kept, w, nw * sizeof *w);
    memset(w, 0, nw * sizeof *w); /* the layer holds its own copy */
    for (int si = 0; si < nsides; si++) {
        const int h = sides[si], wd = sides[si] + 1, ho = h + 2 * pad - k + 1, wo = wd + 2 * pad - k + 1;
        const size_t nx = (size_t)n * h * wd * ci, ny = (size_t)n * ho * wo * co;
        float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *prev = malloc(ny * sizeof *prev);
        double *ref = malloc(ny * sizeof *ref);
        for (size_t i = 0; i < nx; i++) x[i] = lcg(&s);
        for (size_t i = 0; i < ny; i++) prev[i] = lcg(&s);
        naive(ref, x, kept, with_bias ? b : NULL, n, h, wd, ci, co, k, pad);
        for (int mode = CONV_OVERWRITE; mode <= CONV_ACCUMULATE; mode++)
            for (int rep = 0; rep < 2; rep++) { /* the second run reuses the cached primitive */
                memcpy(y, prev, ny * sizeof *y);
                CHECK_OK(conv_exec(c, L, n, h, wd, x, y, mode));
                for (size_t i = 0; i < ny; i++) {
                    double want = ref[i] + (mode == CONV_ACCUMULATE ? prev[i] : 0);
                    CHECK_MSG(fabs(y[i] - want) <= 1e-5 * (1 + fabs(want)),
                              "algorithm %d k%d pad%d %d->%d @%dx%d mode %d: y[%zu] = %.7g, want %.7g", algorithm, k,
                              pad, ci, co, h, wd, mode, i, y[i], want);
                }
            }
        free(x); free(y); free(prev); free(ref);
    }
    conv_layer_free(L);
    free(w); free(b); free(kept);
}

TEST(conv_matches_a_direct_loop_for_3x3_2x2_and_1x1_with_accumulation)
{
    conv_ctx *c;
    CHECK_OK(conv_create(&c));
    static const int one[] = {6}, three[] = {7, 30, 7};
    for (int a = CONV_DIRECT; a <= CONV_WINOGRAD; a++) {
        check_case(c, a, 1, three, 3, 5, 19, 3, 1, 1);  /* odd channels: winograd falls back to direct */
        check_case(c, a, 2, three, 3, 32, 16, 3, 1, 0); /* batch 2, no bias, sizes that change winograd's tiles */
        check_case(c, a, 1, one, 1, 16, 48, 3, 1, 1);
        check_case(c, a, 1, one, 1, 3, 12, 2, 1, 1);    /* the folded-upsampling shape: out (h+1) x (w+1) */
        check_case(c, a, 1, one, 1, 17, 9, 1, 0, 1);    /* 1x1 */
    }
    conv_destroy(c);
}

TEST(conv_winograd_strips_give_the_same_result_as_whole_images)
{
    conv_ctx *c;
    CHECK_OK(conv_create(&c));
    conv_set_strip_elems(c, 1); /* 4-row strips */
    static const int sides[] = {30, 13, 2};
    check_case(c, CONV_WINOGRAD, 2, sides, 3, 32, 16, 3, 1, 1); /* 13 rows: strips of 4, 4, 4, 1 */
    conv_set_strip_elems(c, 48 * 31 * 10);                      /* 8-row strips at side 30 */
    check_case(c, CONV_WINOGRAD, 1, sides, 2, 16, 32, 3, 1, 0);
    conv_destroy(c);
}
