/* The PixArt family against diffusers' PixArtTransformer2DModel (tools/reference_pixart.py,
 * tests/fixtures/pixart/): PixArt-alpha, alpha 1024 (micro-conditions) and Sigma (interpolation
 * scale 2), on their own grid and a non-square one, with a prompt row and an empty-prompt row. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"

/* A .npy fixture of small integers as int (npy_read gives floats: exact here). */
static int *read_ints(const char *path, npy_array *a)
{
    CHECK_OK(npy_read(path, a));
    int *v = malloc(a->numel * sizeof *v);
    CHECK(v != NULL);
    for (uint64_t i = 0; i < a->numel; i++) v[i] = (int)a->data[i];
    return v;
}

static void fixture(const char *variant, const char *cid, const char *what, char *path, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "%s/case_%s_%s.npy", variant, cid, what);
    snprintf(path, cap, "%s", test_fixture_sub("pixart", rel));
}

static void check_variant(const char *variant, double tol)
{
    sc_model *m;
    CHECK_OK(sc_model_load(test_fixture_sub("pixart", variant), NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(!strcmp(info.family, "pixart") && info.takes_text && info.n_components == 3);
    CHECK(!strcmp(info.components[0], "attn") && !strcmp(info.components[1], "cross") &&
          !strcmp(info.components[2], "mlp"));
    const char *cases[] = {"base", "grid"};
    for (int ci = 0; ci < 2; ci++) {
        char path[2048];
        npy_array x, t, text, mask_a, out_ref, hw;
        fixture(variant, cases[ci], "x", path, sizeof path);
        CHECK_OK(npy_read(path, &x));
        fixture(variant, cases[ci], "t", path, sizeof path);
        CHECK_OK(npy_read(path, &t));
        fixture(variant, cases[ci], "text", path, sizeof path);
        CHECK_OK(npy_read(path, &text));
        fixture(variant, cases[ci], "mask", path, sizeof path);
        int *mask = read_ints(path, &mask_a);
        fixture(variant, cases[ci], "out", path, sizeof path);
        CHECK_OK(npy_read(path, &out_ref));
        const int n = (int)x.shape[0];
        sc_cond c = {.n = n, .text = text.data, .text_mask = mask, .text_len = (int)text.shape[1],
                     .text_dim = (int)text.shape[2]};
        float h[2], w[2];
        int has_hw = 0;
        fixture(variant, cases[ci], "hw", path, sizeof path);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            has_hw = 1;
            CHECK_OK(npy_read(path, &hw));
            for (int i = 0; i < n; i++) h[i] = hw.data[2 * i], w[i] = hw.data[2 * i + 1];
            c.scalars[0] = (sc_scalar){"height", h};
            c.scalars[1] = (sc_scalar){"width", w};
            c.n_scalars = 2;
        }
        const sc_shape shape = {3, {(int)x.shape[1], (int)x.shape[2], (int)x.shape[3]}};
        float *out = malloc(out_ref.numel * sizeof *out);
        CHECK_OK(sc_model_forward_shape(m, &c, &shape, x.data, t.data, out, 0));
        double err = test_rel_err(out, out_ref.data, out_ref.numel);
        fprintf(stderr, "  %s/%s: %.3g\n", variant, cases[ci], err);
        CHECK_MSG(err <= tol, "%s/%s: relative error %.3g (tolerance %.1g)", variant, cases[ci], err, tol);
        if (has_hw) {
            /* Without the scalars the sizes come from the latent shape times 8: the same numbers. */
            c.n_scalars = 0;
            CHECK_OK(sc_model_forward_shape(m, &c, &shape, x.data, t.data, out, 0));
            err = test_rel_err(out, out_ref.data, out_ref.numel);
            CHECK_MSG(err <= tol, "%s/%s without scalars: relative error %.3g", variant, cases[ci], err);
            npy_free(&hw);
        }
        free(out);
        free(mask);
        npy_free(&x);
        npy_free(&t);
        npy_free(&text);
        npy_free(&mask_a);
        npy_free(&out_ref);
    }
    sc_model_free(m);
}

TEST(pixart_alpha_forward_matches_diffusers) { check_variant("alpha", 1e-4); }
TEST(pixart_alpha_micro_conditions_forward_matches_diffusers) { check_variant("alpha_mc", 1e-4); }
TEST(pixart_sigma_forward_matches_diffusers) { check_variant("sigma", 1e-4); }
