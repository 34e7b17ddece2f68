#include "io/image.h"

#include <math.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"

/* diffusers (VaeImageProcessor.denormalize + pt_to_numpy + numpy_to_pil) does, all in float32:
 *     p = images / 2 + 0.5            torch: a division by 2, then an addition
 *     p = p.clamp(0, 1)               torch: NaN stays NaN
 *     v = p * 255                     numpy, float32
 *     u = v.round().astype("uint8")   numpy: round half to even
 * The same operations in the same order, each a separate statement so that no compiler may
 * contract them (x / 2 is exact, so there is nothing to fuse anyway). The one difference: numpy
 * turns NaN into whatever the CPU's conversion gives, and C makes that conversion undefined, so
 * NaN maps to 0 here before any conversion. */
static uint8_t to_u8(float x)
{
    float half = x / 2.0f;
    float p = half + 0.5f;
    if (!(p >= 0.0f)) p = 0.0f; /* also NaN */
    if (p > 1.0f) p = 1.0f;
    float v = p * 255.0f;      /* in [0, 255] */
    /* Half to even without relying on the rounding mode: v - floor(v) is exact here. */
    float r = floorf(v);
    float frac = v - r;
    if (frac > 0.5f || (frac == 0.5f && fmodf(r, 2.0f) != 0.0f)) r += 1.0f;
    return (uint8_t)r;
}

void image_from_float(uint8_t *rgb_hwc, const float *chw, int C, int H, int W)
{
    SC_ASSERT(C == 1 || C == 3);
    SC_ASSERT(H >= 0 && W >= 0);
    size_t plane = (size_t)H * (size_t)W;
    for (size_t i = 0; i < plane; i++) {
        for (int c = 0; c < 3; c++) {
            const float *src = chw + (C == 3 ? (size_t)c * plane : 0); /* grey: channel 0 thrice */
            rgb_hwc[3 * i + (size_t)c] = to_u8(src[i]);
        }
    }
}

/* Smallest c with c * c >= n. */
static int ceil_sqrt(int n)
{
    int c = 1;
    while ((int64_t)c * c < n) c++;
    return c;
}

sc_status image_grid(uint8_t **out, int *out_w, int *out_h, const uint8_t *imgs, int n, int H, int W,
                     int cols, int pad)
{
    *out = NULL;
    if (n < 1 || H < 1 || W < 1 || pad < 0)
        return err_fail(SC_ERR_ARG, "image grid of %d images of %d x %d with padding %d: counts and sizes must be >= 1, padding >= 0",
                       n, W, H, pad);
    if (cols <= 0) cols = ceil_sqrt(n);
    if (cols > n) cols = n;
    int rows = n / cols + (n % cols != 0);
    /* width  = cols * W + (cols - 1) * pad, height likewise; both must fit an int. */
    uint64_t gw, gh, t, bytes;
    size_t bytes_sz;
    int ok = ck_mul((uint64_t)cols, (uint64_t)W, &gw) && ck_mul((uint64_t)(cols - 1), (uint64_t)pad, &t) &&
             ck_add(gw, t, &gw) && ck_mul((uint64_t)rows, (uint64_t)H, &gh) &&
             ck_mul((uint64_t)(rows - 1), (uint64_t)pad, &t) && ck_add(gh, t, &gh) && gw <= INT32_MAX &&
             gh <= INT32_MAX && ck_mul3(gw, gh, 3, &bytes) && ck_to_size(bytes, &bytes_sz);
    if (!ok)
        return err_fail(SC_ERR_ARG, "image grid of %d x %d cells of %d x %d pixels is too large", cols, rows,
                       W, H);
    uint8_t *g = mem_alloc(bytes_sz);
    if (!g) return err_fail(SC_ERR_NOMEM, "out of memory for a %llu x %llu image grid", (unsigned long long)gw,
                           (unsigned long long)gh);
    memset(g, IMAGE_GRID_BG, bytes_sz);
    size_t img_row = (size_t)W * 3, grid_row = (size_t)gw * 3, img_size = img_row * (size_t)H;
    for (int k = 0; k < n; k++) {
        size_t x0 = (size_t)(k % cols) * ((size_t)W + (size_t)pad);
        size_t y0 = (size_t)(k / cols) * ((size_t)H + (size_t)pad);
        const uint8_t *src = imgs + (size_t)k * img_size;
        for (int y = 0; y < H; y++)
            memcpy(g + (y0 + (size_t)y) * grid_row + x0 * 3, src + (size_t)y * img_row, img_row);
    }
    *out = g;
    *out_w = (int)gw;
    *out_h = (int)gh;
    return SC_OK;
}
