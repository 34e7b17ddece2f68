/* float -> uint8 exactly as diffusers does it, and grid layout. Expected bytes were computed with
 * torch 2 + numpy 2: `((torch.tensor(x) / 2 + 0.5).clamp(0, 1).numpy() * 255).round().astype("uint8")`
 * (NaN, which numpy maps to whatever the CPU's conversion gives, is 0 by our definition). */
#include "harness.h"

#include "core/mem.h"
#include "io/image.h"

static uint8_t map1(float x)
{
    uint8_t rgb[3];
    image_from_float(rgb, &x, 1, 1, 1);
    CHECK(rgb[0] == rgb[1] && rgb[1] == rgb[2]);
    return rgb[0];
}

static void expect(float x, uint8_t want)
{
    uint8_t got = map1(x);
    CHECK_MSG(got == want, "x = %a (%.9g): got %u, want %u", (double)x, (double)x, got, want);
}

TEST(image_from_float_maps_range_ends_and_clamps_out_of_range_and_infinities)
{
    expect(-1.0f, 0);
    expect(1.0f, 255);
    expect(-2.0f, 0);
    expect(2.0f, 255);
    expect(0x1.000002p+0f, 255); /* just above 1 */
    expect(1e30f, 255);
    expect(-1e30f, 0);
    expect(INFINITY, 255);
    expect(-INFINITY, 0);
    expect(0.5f, 191);   /* 191.25 */
    expect(-0.5f, 64);   /* 63.75 */
    expect(0.25f, 159);  /* 159.375 */
    expect(-0x1.fffffcp-1f, 0); /* -0.9999999: 1.5e-5 */
}

TEST(image_from_float_maps_nan_to_zero)
{
    expect(NAN, 0);
    expect(-NAN, 0);
}

/* p * 255 lands exactly on k + 0.5 only for k >= 64: below p = 0.25 the float32 grid of
 * x / 2 + 0.5 is 2^-25, and no multiple of it times 255 rounds to 0.5, 1.5 or 2.5. The closest x
 * give 0.49999997, 1.4999999 and 2.4999998, which round down. */
TEST(image_from_float_rounds_exact_ties_half_to_even_like_numpy)
{
    expect(0.0f, 128);             /* 127.5 */
    expect(-0.0f, 128);
    expect(0x1p-149f, 128);        /* still 127.5 after x / 2 + 0.5 */
    expect(-0x1.f9f9f8p-2f, 64);   /* 64.5 */
    expect(-0x1.f1f1f0p-2f, 66);   /* 65.5 */
    expect(-0x1.e9e9e8p-2f, 66);   /* 66.5 */
    expect(-0x1.e1e1e0p-2f, 68);   /* 67.5 */
    expect(0x1.0101p-7f, 128);     /* 128.5 */
    expect(0x1.f9f9f8p-1f, 254);   /* 253.5 */
    expect(0x1.fdfdfcp-1f, 254);   /* 254.5 */
    expect(-0x1.fdfdfep-1f, 0);    /* 0.49999997 */
    expect(-0x1.f9f9fap-1f, 1);    /* 1.4999999 */
    expect(-0x1.f5f5f6p-1f, 2);    /* 2.4999998 */
}

TEST(image_from_float_transposes_chw_to_hwc_and_replicates_grey)
{
    /* [3][2][2]: channel c, pixel i has value giving byte 10 * c + i via x = (u / 255) * 2 - 1
     * (checked below rather than assumed: these are not ties). */
    float chw[12];
    uint8_t want[12];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) {
            chw[c * 4 + i] = (float)(10 * c + i + 100) / 255.0f * 2.0f - 1.0f;
            want[i * 3 + c] = map1(chw[c * 4 + i]);
        }
    CHECK(want[0] == 100 && want[1] == 110 && want[2] == 120 && want[3] == 101);
    uint8_t rgb[12];
    image_from_float(rgb, chw, 3, 2, 2);
    CHECK(memcmp(rgb, want, 12) == 0);
    image_from_float(rgb, chw, 1, 2, 2); /* grey: channel 0 only, copied to R, G, B */
    for (int i = 0; i < 4; i++)
        CHECK(rgb[3 * i] == 100 + i && rgb[3 * i + 1] == 100 + i && rgb[3 * i + 2] == 100 + i);
}

/* n images of [H][W][3], image k filled with pixel (y, x) = {k, y, x} + 1. */
static uint8_t *cells(int n, int H, int W)
{
    uint8_t *p = malloc((size_t)n * H * W * 3);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *q = p + (((size_t)k * H + y) * W + x) * 3;
                q[0] = (uint8_t)(k + 1);
                q[1] = (uint8_t)(y + 1);
                q[2] = (uint8_t)(x + 1);
            }
    return p;
}

TEST(image_grid_tiles_left_to_right_top_to_bottom_with_grey_padding)
{
    int n = 5, H = 2, W = 3, pad = 1;
    uint8_t *imgs = cells(n, H, W), *g = NULL;
    int gw, gh;
    CHECK_OK(image_grid(&g, &gw, &gh, imgs, n, H, W, 0, pad)); /* ceil(sqrt(5)) = 3 columns */
    CHECK(gw == 3 * W + 2 * pad && gh == 2 * H + pad);
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            const uint8_t *q = g + ((size_t)y * gw + x) * 3;
            int col = x / (W + pad), cx = x % (W + pad), row = y / (H + pad), cy = y % (H + pad);
            int k = row * 3 + col;
            if (cx == W || cy == H || k >= n) {
                CHECK_MSG(q[0] == IMAGE_GRID_BG && q[1] == IMAGE_GRID_BG && q[2] == IMAGE_GRID_BG,
                          "(%d, %d) should be background", x, y);
            } else {
                CHECK_MSG(q[0] == k + 1 && q[1] == cy + 1 && q[2] == cx + 1, "(%d, %d) should be image %d", x, y, k);
            }
        }
    mem_free(g);
    free(imgs);
}

TEST(image_grid_caps_columns_at_n_and_allows_zero_padding)
{
    uint8_t *imgs = cells(3, 2, 2), *g = NULL;
    int gw, gh;
    CHECK_OK(image_grid(&g, &gw, &gh, imgs, 3, 2, 2, 10, 0));
    CHECK(gw == 6 && gh == 2);
    CHECK(g[0] == 1 && g[(2 * 1 + 0) * 3] == 2 && g[(5) * 3] == 3 && g[(6 + 5) * 3 + 2] == 2);
    mem_free(g);
    CHECK_OK(image_grid(&g, &gw, &gh, imgs, 3, 2, 2, 1, 0)); /* one column: stacked */
    CHECK(gw == 2 && gh == 6 && g[(5 * 2) * 3] == 3);
    mem_free(g);
    free(imgs);
}

TEST(image_grid_rejects_empty_sizes_negative_padding_and_overflow)
{
    uint8_t px[3] = {0}, *g = (uint8_t *)1;
    int gw, gh;
    CHECK_ERR(image_grid(&g, &gw, &gh, px, 0, 1, 1, 0, 0), SC_ERR_ARG, "must be >= 1");
    CHECK(g == NULL);
    CHECK_ERR(image_grid(&g, &gw, &gh, px, 1, 0, 1, 0, 0), SC_ERR_ARG, "must be >= 1");
    CHECK_ERR(image_grid(&g, &gw, &gh, px, 1, 1, 1, 0, -1), SC_ERR_ARG, "padding >= 0");
    /* 2 columns of 2^30 pixels: 2^31 wide, past an int, before anything is touched */
    CHECK_ERR(image_grid(&g, &gw, &gh, px, 2, 1, 1 << 30, 2, 0), SC_ERR_ARG, "too large");
    CHECK_ERR(image_grid(&g, &gw, &gh, px, 4, 1, 1 << 29, 2, 1 << 30), SC_ERR_ARG, "too large");
    CHECK(g == NULL);
}
