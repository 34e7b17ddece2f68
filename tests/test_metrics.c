/* Image and latent metrics against scikit-image's PSNR and SSIM (tools/reference_metrics.py). */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "metrics/demo_classify.h"
#include "metrics/quality.h"

static uint8_t *as_u8(const npy_array *a)
{
    uint8_t *u = malloc(a->numel);
    for (size_t i = 0; i < a->numel; i++) u[i] = (uint8_t)a->data[i];
    return u;
}

TEST(metrics_psnr_and_ssim_match_scikit_image)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/metrics.json", test_fixtures());
    json_t *j;
    CHECK_OK(json_load_object_file(p, 1u << 20, &j));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "cases"), i, c) {
        npy_array a, b;
        snprintf(p, sizeof p, "%s/%s", test_fixtures(), json_string_value(json_object_get(c, "a")));
        CHECK_OK(npy_read(p, &a));
        snprintf(p, sizeof p, "%s/%s", test_fixtures(), json_string_value(json_object_get(c, "b")));
        CHECK_OK(npy_read(p, &b));
        uint8_t *ua = as_u8(&a), *ub = as_u8(&b);
        int h = (int)a.shape[0], w = (int)a.shape[1];
        double psnr = metric_psnr(ua, ub, a.numel), ssim = metric_ssim(ua, ub, w, h, 3);
        double rp = json_real_value(json_object_get(c, "psnr")), rs = json_real_value(json_object_get(c, "ssim"));
        CHECK_MSG(fabs(psnr - rp) < 1e-9 * rp, "case %zu: PSNR %.12g, skimage %.12g", i, psnr, rp);
        CHECK_MSG(fabs(ssim - rs) < 1e-9, "case %zu: SSIM %.12g, skimage %.12g", i, ssim, rs);
        free(ua); free(ub);
        npy_free(&a); npy_free(&b);
    }
    json_decref(j);
}

TEST(metrics_identical_images_give_infinite_psnr_and_unit_ssim)
{
    uint8_t img[16 * 16 * 3];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 7);
    CHECK(isinf(metric_psnr(img, img, sizeof img)));
    CHECK(fabs(metric_ssim(img, img, 16, 16, 3) - 1.0) < 1e-12);
    float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 5};
    CHECK(metric_rel_l2(a, a, 4) == 0.0);
    CHECK(fabs(metric_rel_l2(a, b, 4) - 1.0 / sqrt(1 + 4 + 9 + 25)) < 1e-12);
}

TEST(metrics_demo_classifier_matches_the_python_specification)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/demo_classify.json", test_fixtures());
    json_t *j;
    CHECK_OK(json_load_object_file(p, 1u << 20, &j));
    npy_array imgs;
    snprintf(p, sizeof p, "%s/demo_classify_images.npy", test_fixtures());
    CHECK_OK(npy_read(p, &imgs));
    const json_t *labels = json_object_get(j, "labels");
    CHECK(imgs.rank == 4 && imgs.shape[0] == json_array_size(labels) && imgs.shape[1] == 32);
    uint8_t *u = as_u8(&imgs);
    int rejected = 0, agree = 0;
    for (size_t i = 0; i < imgs.shape[0]; i++) {
        int want = (int)json_integer_value(json_array_get(labels, i)), got = demo_classify(u + i * 32 * 32 * 3);
        CHECK_MSG(got == want, "image %zu: C says %d, Python %d", i, got, want);
        agree++;
        rejected += want < 0;
    }
    CHECK(agree == 220 && rejected > 0 && rejected < 220); /* both outcomes exercised */
    free(u);
    npy_free(&imgs);
    json_decref(j);
}
