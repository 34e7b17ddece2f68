/* The bf16 and int8 backends against PyTorch (tests/fixtures/precision, written by
 * tools/reference_precision.py): bf16 within twice PyTorch's own bf16-autocast error and equal to
 * the emulation of our scheme; int8 equal to the emulation of the W8A8 scheme up to float32
 * rounding (3x what a float32-rounding perturbation of the weights moves the emulation, measured
 * by the tool); float32 unchanged. Errors are relative L2 norms (||a - b|| / ||ref||), as the tool
 * reports them. On a CPU without bf16/int8 kernels the checks are that --dtype is refused with
 * a message naming the precision. */
#include <math.h>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/mem.h"
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"

static const char *be_name(const backend *be) { return be->name; }

static double rel_l2(const float *a, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = (double)a[i] - ref[i];
        d += e * e;
        r += (double)ref[i] * ref[i];
    }
    return isfinite(d) ? sqrt(d / r) : INFINITY;
}

static json_t *cases(void)
{
    json_t *j;
    CHECK_OK(json_load_object_file(test_fixture("precision/precision.json"), 1u << 20, &j));
    return j;
}

static const char *model_path(const char *rel)
{
    return strncmp(rel, "models/", 7) ? test_fixture(rel) : test_source(rel);
}

/* out [n, ...] of the case's model loaded at dtype on the case's inputs. */
static float *forward(const json_t *c, sc_dtype dtype, size_t *numel)
{
    const json_t *ta = json_object_get(c, "t"), *ya = json_object_get(c, "y");
    const int n = (int)json_array_size(ta);
    int y[8];
    float t[8];
    CHECK(n <= 8);
    for (int i = 0; i < n; i++) {
        t[i] = (float)json_integer_value(json_array_get(ta, (size_t)i));
        y[i] = (int)json_integer_value(json_array_get(ya, (size_t)i));
    }
    npy_array x;
    CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "x"))), &x));
    sc_load_opts o = {.dtype = dtype};
    sc_model *m;
    CHECK_OK(sc_model_load(model_path(json_string_value(json_object_get(c, "model"))), &o, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(!strcmp(info.compute_dtype, dtype == SC_DTYPE_BF16 ? "bf16" : dtype == SC_DTYPE_INT8 ? "int8" : "f32"));
    *numel = sc_latent_bytes(m, n) / sizeof(float) / (size_t)info.in_channels * (size_t)info.out_channels;
    float *out = calloc(*numel, sizeof *out);
    const sc_cond rows = {.n = n, .classes = y};
    CHECK_OK(sc_model_forward(m, &rows, x.data, t, out, 0));
    sc_model_free(m);
    npy_free(&x);
    return out;
}

static void load_ref(const json_t *c, const char *key, npy_array *a, size_t numel)
{
    const json_t *files = json_object_get(c, "files");
    CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(files, key))), a));
    CHECK(a->numel == numel);
}

TEST(precision_f32_still_matches_pytorch)
{
    json_t *j = cases();
    const json_t *arr = json_object_get(j, "cases");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        size_t n;
        float *out = forward(c, SC_DTYPE_F32, &n);
        npy_array f32;
        load_ref(c, "f32", &f32, n);
        const double e = rel_l2(out, f32.data, n);
        CHECK_MSG(e <= 1e-5, "%s: float32 forward off PyTorch's by %.3g", json_string_value(json_object_get(c, "name")), e);
        npy_free(&f32);
        free(out);
    }
    json_decref(j);
}

TEST(precision_bf16_within_twice_pytorch_autocast_and_equal_to_its_emulation)
{
    if (!backend_cpu_has(SC_DTYPE_BF16)) {
        sc_model *m;
        sc_load_opts o = {.dtype = SC_DTYPE_BF16};
        CHECK_ERR(sc_model_load(test_source("models/demo"), &o, &m), SC_ERR_UNSUPPORTED, "bf16");
        printf("    (this CPU has no bf16 kernels: only the refusal was checked)\n");
        return;
    }
    json_t *j = cases();
    const json_t *arr = json_object_get(j, "cases");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t n;
        float *out = forward(c, SC_DTYPE_BF16, &n);
        npy_array f32, autocast, emul;
        load_ref(c, "f32", &f32, n);
        load_ref(c, "bf16_autocast", &autocast, n);
        load_ref(c, "bf16_emul", &emul, n);
        const double pt = rel_l2(autocast.data, f32.data, n), ours = rel_l2(out, f32.data, n);
        const double vs_pt = rel_l2(out, autocast.data, n), vs_emul = rel_l2(out, emul.data, n);
        printf("    %-5s bf16: vs f32 %.2e (PyTorch autocast %.2e), vs autocast %.2e, vs emulation %.2e\n", name, ours,
               pt, vs_pt, vs_emul);
        CHECK_MSG(vs_pt <= 2 * pt, "%s: bf16 is %.3g from PyTorch's bf16, more than twice its own error %.3g", name,
                  vs_pt, pt);
        const double sens = json_real_value(json_object_get(c, "sensitivity_bf16"));
        CHECK_MSG(vs_emul <= 3 * sens && vs_emul < 0.5 * ours,
                  "%s: bf16 is %.3g from the emulation of its scheme (float32 rounding moves it %.3g)", name, vs_emul,
                  sens);
        npy_free(&f32), npy_free(&autocast), npy_free(&emul);
        free(out);
    }
    json_decref(j);
}

TEST(precision_int8_equals_the_emulation_of_its_scheme)
{
    if (!backend_cpu_has(SC_DTYPE_INT8)) {
        sc_model *m;
        sc_load_opts o = {.dtype = SC_DTYPE_INT8};
        CHECK_ERR(sc_model_load(test_source("models/demo"), &o, &m), SC_ERR_UNSUPPORTED, "int8");
        printf("    (this CPU has no int8 kernels: only the refusal was checked)\n");
        return;
    }
    json_t *j = cases();
    const json_t *arr = json_object_get(j, "cases");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t n;
        float *out = forward(c, SC_DTYPE_INT8, &n);
        npy_array f32, emul;
        load_ref(c, "f32", &f32, n);
        load_ref(c, "int8_emul", &emul, n);
        const double vs_emul = rel_l2(out, emul.data, n), ours = rel_l2(out, f32.data, n);
        printf("    %-5s int8: vs f32 %.2e, vs emulation %.2e\n", name, ours, vs_emul);
        const double sens = json_real_value(json_object_get(c, "sensitivity_int8"));
        CHECK_MSG(vs_emul <= 3 * sens && vs_emul < 0.5 * ours,
                  "%s: int8 is %.3g from the emulation of its scheme (float32 rounding moves it %.3g)", name, vs_emul,
                  sens);
        npy_free(&f32), npy_free(&emul);
        free(out);
    }
    json_decref(j);
}

/* One layer, where nothing amplifies: the backend's products against a scalar transcription of
 * the schemes (docs/PRECISION.md), within float32 accumulation error. */
static float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static void quant_row(const float *x, int K, int8_t *q, float *scale)
{
    float amax = 0;
    for (int k = 0; k < K; k++) amax = fabsf(x[k]) > amax ? fabsf(x[k]) : amax;
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    *scale = amax / 127.0f;
    for (int k = 0; k < K; k++) q[k] = (int8_t)rintf(x[k] * inv);
}

TEST(precision_one_layer_matches_the_scalar_schemes)
{
    enum { M = 37, K = 300, N = 70 };
    float *w = malloc(sizeof(float) * N * K), *b = malloc(sizeof(float) * N), *x = malloc(sizeof(float) * M * K);
    float *y = malloc(sizeof(float) * M * N), *ref = malloc(sizeof(float) * M * N);
    uint64_t st = 88172645463325252ull;
    for (int i = 0; i < N * K + N + M * K; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        const float v = (float)((double)(st >> 11) / 9007199254740992.0 * 2 - 1);
        if (i < N * K) w[i] = v * 0.1f;
        else if (i < N * K + N) b[i - N * K] = v;
        else x[i - N * K - N] = v * (i % 7 == 0 ? 8.0f : 1.0f); /* some outliers per row */
    }
    const sc_dtype dts[2] = {SC_DTYPE_BF16, SC_DTYPE_INT8};
    for (int d = 0; d < 2; d++) {
        if (!backend_cpu_has(dts[d])) continue;
        const backend *be = backend_cpu(dts[d]);
        be_linear L = {.w = w, .b = b, .out = N, .in = K};
        be_ctx *ctx;
        CHECK_OK(be->ctx_create(&ctx));
        CHECK_OK(be->linear_prepare(&L, M));
        CHECK(L.prep != NULL);
        CHECK_OK(be->linear(ctx, &L, M, x, y, N, BE_POST_NONE)); /* y [M, N] */
        int8_t qx[K], qw[K];
        float sx, sw;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                if (dts[d] == SC_DTYPE_BF16) {
                    for (int k = 0; k < K; k++) acc += (double)bf16_round(x[m * K + k]) * bf16_round(w[n * K + k]);
                    ref[m * N + n] = (float)acc + b[n];
                } else {
                    quant_row(x + m * K, K, qx, &sx);
                    quant_row(w + n * K, K, qw, &sw);
                    int32_t iacc = 0;
                    for (int k = 0; k < K; k++) iacc += qx[k] * qw[k];
                    ref[m * N + n] = (float)iacc * (sx * sw) + b[n];
                }
            }
        /* Errors against the floating-point bound's scale sum_k |x_k w_k| + |b| (the same for
         * both schemes up to their rounding of x and w): int8's integer product is exact and only
         * its scaling rounds (a few float32 ulps); bf16's float32 sums of K products in another
         * order may differ by up to K ulps, typically sqrt(K). */
        double worst = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double scale = fabs(b[n]);
                for (int k = 0; k < K; k++) scale += fabs((double)x[m * K + k] * w[n * K + k]);
                const double e = fabs((double)y[m * N + n] - ref[m * N + n]) / scale;
                worst = e > worst ? e : worst;
            }
        CHECK_MSG(worst <= (dts[d] == SC_DTYPE_INT8 ? 5e-7 : 2e-6), "%s layer: worst error %.3g of the bound's scale",
                  be->name, worst);
        printf("    %s layer: worst error %.2e of sum |x w| + |b|\n", be->name, worst);
        /* With the GELU post-op (int8 applies it in its own dequantisation pass). */
        CHECK_OK(be->linear(ctx, &L, M, x, y, N, BE_POST_GELU_TANH));
        double worst_gelu = 0;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double scale = fabs(b[n]) + 1e-3;
                for (int k = 0; k < K; k++) scale += fabs((double)x[m * K + k] * w[n * K + k]);
                const double v = ref[m * N + n], g = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
                const double e = fabs((double)y[m * N + n] - g) / scale; /* GELU's slope is at most 1.13 */
                worst_gelu = e > worst_gelu ? e : worst_gelu;
            }
        CHECK_MSG(worst_gelu <= 3e-6, "%s layer with GELU: worst error %.3g of the bound's scale", be->name, worst_gelu);
        be->linear_drop(&L);
        be->ctx_free(ctx);
    }
    free(w), free(b), free(x), free(y), free(ref);
}

/* The fused paths (a LayerNorm writing its products' input rows directly; an MLP whose hidden
 * layer goes straight into the second product's input type) give the very numbers of the
 * unfused ops at every precision: the same roundings, only without the float32 round trip. */
static void fused_case(int B, int T, int D);

TEST(precision_fused_rows_and_mlp_equal_the_unfused_ops)
{
    fused_case(2, 19, 64);
    fused_case(1, 3, 2); /* int8 rows (64-byte padded, with scales) wider than the float storage */
}

static void fused_case(int B, int T, int D)
{
    const int H = 4 * D, M = B * T;
    float *w1 = malloc(sizeof(float) * H * D), *b1 = malloc(sizeof(float) * H), *w2 = malloc(sizeof(float) * D * H);
    float *b2 = malloc(sizeof(float) * D), *h = malloc(sizeof(float) * M * D), *mod = malloc(sizeof(float) * B * 2 * D);
    float *z = malloc(sizeof(float) * M * D), *hid = malloc(sizeof(float) * M * H);
    float *y = malloc(sizeof(float) * M * D), *ref = malloc(sizeof(float) * M * D), *y1 = malloc(sizeof(float) * M * H);
    uint64_t st = 0x9E3779B97F4A7C15ull;
    float *all[6] = {w1, b1, w2, b2, h, mod};
    const int len[6] = {H * D, H, D * H, D, M * D, B * 2 * D};
    for (int a = 0; a < 6; a++)
        for (int i = 0; i < len[a]; i++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            const float v = (float)((double)(st >> 11) / 9007199254740992.0 * 2 - 1);
            all[a][i] = a == 4 ? v * 3.0f + 0.5f : a == 0 || a == 2 ? v * 0.15f : v * 0.5f;
        }
    const sc_dtype dts[3] = {SC_DTYPE_F32, SC_DTYPE_BF16, SC_DTYPE_INT8};
    for (int d = 0; d < 3; d++) {
        if (!backend_cpu_has(dts[d])) continue;
        const backend *be = backend_cpu(dts[d]);
        be_linear fc1 = {.w = w1, .b = b1, .out = H, .in = D}, fc2 = {.w = w2, .b = b2, .out = D, .in = H};
        be_ctx *ctx;
        CHECK_OK(be->ctx_create(&ctx));
        CHECK_OK(be->linear_prepare(&fc1, M));
        CHECK_OK(be->linear_prepare(&fc2, M));
        /* Unfused: z = LN(h) (1 + scale) + shift; y1 = GELU(fc1(z)); ref = fc2(y1). */
        be->ln_modulate(z, h, B, T, D, 1e-6f, mod, mod + D, 2 * D);
        CHECK_OK(be->linear(ctx, &fc1, M, z, y1, H, BE_POST_GELU_TANH));
        CHECK_OK(be->linear(ctx, &fc2, M, y1, ref, D, BE_POST_NONE));
        be_rows r;
        CHECK_OK(be->ln_modulate_rows(ctx, &fc1, z, h, B, T, D, 1e-6f, mod, mod + D, 2 * D, &r));
        CHECK(r.rows == M && r.cols == D);
        CHECK_OK(be->linear_rows(ctx, &fc1, &r, hid, H, BE_POST_GELU_TANH));
        CHECK_MSG(memcmp(hid, y1, sizeof(float) * M * H) == 0, "%s: normalised rows then fc1 differ from ln_modulate, linear",
                  be->name);
        CHECK_OK(be->mlp(ctx, &fc1, &fc2, &r, hid, y, D, BE_POST_GELU_TANH));
        size_t differ = 0;
        for (int i = 0; i < M * D; i++) differ += memcmp(&y[i], &ref[i], sizeof(float)) != 0;
        CHECK_MSG(differ == 0, "%s: the fused MLP differs from linear, linear in %zu of %d outputs", be->name, differ,
                  M * D);
        /* Rows made for another type are refused, not misread. */
        if (dts[d] != SC_DTYPE_F32) {
            be_rows wrong = r;
            wrong.dt = 0;
            CHECK(be->linear_rows(ctx, &fc1, &wrong, hid, H, BE_POST_NONE) == SC_ERR_ARG);
        }
        be->linear_drop(&fc1);
        be->linear_drop(&fc2);
        be->ctx_free(ctx);
    }
    free(w1), free(b1), free(w2), free(b2), free(h), free(mod), free(z), free(hid), free(y), free(ref), free(y1);
}

/* The fused AVX512-BF16 attention against the oneDNN bf16 path on the same inputs: the same
 * scheme, so the same numbers up to the order of float32 sums (shapes with odd head sizes and
 * token counts off the kernel's blocks included). */
TEST(precision_fused_bf16_attention_equals_the_onednn_path)
{
    if (!cpu_attention_bf16_available()) {
        printf("    (the AVX512-BF16 attention is off here: no such CPU, or SMOOTHCACHE_MAX_ISA below avx512)\n");
        return;
    }
    const int shapes[4][3] = {{2, 256, 72}, {1, 77, 33}, {2, 64, 128}, {1, 300, 16}}; /* B, T, hd */
    for (int c = 0; c < 4; c++) {
        const int B = shapes[c][0], T = shapes[c][1], hd = shapes[c][2], H = 3;
        const int64_t D = (int64_t)H * hd, M = (int64_t)B * T;
        float *qkv = malloc(sizeof(float) * M * 3 * D), *dense = malloc(sizeof(float) * M * 3 * D);
        float *a = malloc(sizeof(float) * M * D), *r = malloc(sizeof(float) * M * D);
        float *scores = malloc(sizeof(float) * cpu_attention_cross_scratch(B, T, T, H));
        uint64_t st = 0x2545F4914F6CDD1Dull + (uint64_t)c;
        for (int64_t i = 0; i < M * 3 * D; i++) {
            st ^= st << 13, st ^= st >> 7, st ^= st << 17;
            qkv[i] = (float)((double)(st >> 11) / 9007199254740992.0 * 4 - 2);
        }
        for (int64_t m = 0; m < M; m++)
            for (int part = 0; part < 3; part++)
                memcpy(dense + part * M * D + m * D, qkv + m * 3 * D + part * D, sizeof(float) * D);
        mm_ctx *mm;
        CHECK_OK(mm_create(&mm));
        CHECK_OK(cpu_attention_bf16_fused(mm, qkv, qkv + D, qkv + 2 * D, 3 * D, a, B, T, H, hd));
        CHECK_OK(cpu_attention_general(mm, dense, dense + M * D, dense + 2 * M * D, r, scores, B, T, T, H, hd,
                                       1.0f / sqrtf((float)hd), NULL, NULL, MM_BF16));
        double worst = 0;
        for (int64_t i = 0; i < M * D; i++) {
            const double e = fabs((double)a[i] - r[i]) / (fabs((double)r[i]) + 1e-3);
            worst = e > worst ? e : worst;
        }
        CHECK_MSG(worst < 1e-4, "B %d T %d hd %d: fused attention %.3g from oneDNN's", B, T, hd, worst);
        printf("    B %d, T %d, hd %d: fused bf16 attention within %.1e of the oneDNN path\n", B, T, hd, worst);
        mm_destroy(mm);
        free(qkv), free(dense), free(a), free(r), free(scores);
    }
}

TEST(precision_t5_bf16_within_twice_pytorch_autocast)
{
    json_t *j = cases();
    const json_t *arr = json_object_get(j, "t5");
    CHECK(json_array_size(arr) >= 2);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        npy_array ids, mask, f32, autocast;
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "ids"))), &ids));
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "mask"))), &mask));
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "f32"))), &f32));
        CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "bf16_autocast"))), &autocast));
        const int n = (int)ids.shape[0], L = (int)ids.shape[1];
        int32_t *iv = malloc(ids.numel * sizeof *iv), *mv = malloc(ids.numel * sizeof *mv);
        for (uint64_t k = 0; k < ids.numel; k++) iv[k] = (int32_t)ids.data[k], mv[k] = (int32_t)mask.data[k];
        const sc_dtype dts[3] = {SC_DTYPE_F32, SC_DTYPE_BF16, SC_DTYPE_INT8};
        for (int d = 0; d < 3; d++) {
            if (!backend_cpu_has(dts[d])) continue;
            sc_load_opts o = {.dtype = dts[d]};
            sc_text_encoder *e;
            CHECK_OK(sc_text_encoder_load_opts(test_fixture(json_string_value(json_object_get(c, "model"))), &o, &e));
            sc_text_encoder_info info;
            sc_text_encoder_get_info(e, &info);
            float *out = calloc(f32.numel, sizeof *out);
            CHECK_OK(sc_text_encode(e, n, L, iv, mv, out, 0));
            const double vs_f32 = rel_l2(out, f32.data, f32.numel), pt = rel_l2(autocast.data, f32.data, f32.numel);
            const double vs_pt = rel_l2(out, autocast.data, f32.numel);
            printf("    %s %s: vs f32 %.2e (PyTorch autocast %.2e), vs autocast %.2e\n", name, info.compute_dtype,
                   vs_f32, pt, vs_pt);
            if (dts[d] == SC_DTYPE_F32) CHECK_MSG(vs_f32 <= 1e-5, "%s f32: %.3g from transformers", name, vs_f32);
            if (dts[d] == SC_DTYPE_BF16)
                CHECK_MSG(vs_pt <= 2 * pt, "%s bf16: %.3g from PyTorch's bf16, more than twice its own %.3g", name,
                          vs_pt, pt);
            /* int8 has no PyTorch counterpart: its error is bounded by what bf16 autocast costs
             * times four (W8A8 of T5's activations; docs/PRECISION.md gives the figures). */
            if (dts[d] == SC_DTYPE_INT8)
                CHECK_MSG(vs_f32 <= 4 * pt, "%s int8: %.3g from float32 (bf16 autocast: %.3g)", name, vs_f32, pt);
            free(out);
            sc_text_encoder_free(e);
        }
        free(iv), free(mv);
        npy_free(&ids), npy_free(&mask), npy_free(&f32), npy_free(&autocast);
    }
    json_decref(j);
}

TEST(precision_convert_writes_bf16_that_loads_as_bf16)
{
    const char *out = test_path("demo-bf16.safetensors");
    size_t n = 0;
    CHECK_ERR(sc_convert_checkpoint_dtype(test_source("models/demo/diffusion_pytorch_model.safetensors"), out, 1,
                                          SC_DTYPE_INT8, &n),
              SC_ERR_ARG, "int8");
    CHECK_OK(sc_convert_checkpoint_dtype(test_source("models/demo/diffusion_pytorch_model.safetensors"), out, 1,
                                         SC_DTYPE_BF16, &n));
    CHECK(n == 120);
    /* the demo's file is F16: bf16 keeps its size, and the CLI says so */
    CHECK_CLI(0, "120 of its tensors were F16: as bf16 they take the same room", "convert %s %s --dtype bf16 --force",
              test_source("models/demo/diffusion_pytorch_model.safetensors"), test_path("demo-bf16-cli.safetensors"));
    st_file *src, *dst;
    CHECK_OK(st_open(test_source("models/demo/diffusion_pytorch_model.safetensors"), &src));
    CHECK_OK(st_open(out, &dst));
    CHECK(st_count(dst) == st_count(src));
    for (size_t i = 0; i < st_count(src); i++) {
        const st_tensor *a = st_at(src, i), *b = st_find(dst, a->name);
        CHECK(b && b->dtype == ST_BF16 && b->numel == a->numel && b->end - b->begin == 2 * a->numel);
        const float *va, *vb;
        float *oa, *ob;
        CHECK_OK(st_to_f32(src, a, &va, &oa));
        CHECK_OK(st_to_f32(dst, b, &vb, &ob));
        for (uint64_t k = 0; k < a->numel; k++) CHECK(bf16_round(va[k]) == vb[k]);
        mem_free(oa), mem_free(ob);
    }
    st_close(src), st_close(dst);
    /* A folder with the bf16 file loads in float32 by default (docs/PRECISION.md), bf16 when asked. */
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s", test_path("config.json"));
    size_t len;
    char *text = test_read(test_source("models/demo/config.json"), &len);
    test_write(cfg, text, len);
    free(text);
    rename(out, test_path("diffusion_pytorch_model.safetensors"));
    sc_model *m;
    CHECK_OK(sc_model_load(test_tmpdir(), NULL, &m));
    sc_model_info info;
    sc_model_get_info(m, &info);
    CHECK(!strcmp(info.dtype, "BF16"));
    CHECK(!strcmp(info.compute_dtype, "f32"));
    sc_model_free(m);
    if (backend_cpu_has(SC_DTYPE_BF16)) {
        const sc_load_opts o = {.dtype = SC_DTYPE_BF16};
        CHECK_OK(sc_model_load(test_tmpdir(), &o, &m));
        sc_model_get_info(m, &info);
        CHECK(!strcmp(info.compute_dtype, "bf16"));
        sc_model_free(m);
    }
}

TEST(precision_vae_bf16_within_twice_pytorch_autocast)
{
    json_t *j = cases();
    const json_t *arr = json_object_get(j, "vae");
    CHECK(json_array_size(arr) >= 1);
    const json_t *c = json_array_get(arr, 0);
    npy_array lat, f32, autocast;
    CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "latents"))), &lat));
    CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "f32"))), &f32));
    CHECK_OK(npy_read(test_fixture(json_string_value(json_object_get(c, "bf16_autocast"))), &autocast));
    const sc_dtype dts[3] = {SC_DTYPE_AUTO, SC_DTYPE_BF16, SC_DTYPE_INT8};
    for (int d = 0; d < 3; d++) {
        const sc_load_opts o = {.dtype = dts[d]};
        decoder *dec;
        if (d && !backend_cpu_has(SC_DTYPE_BF16)) {
            CHECK_ERR(pipeline_decoder_load(test_fixture(json_string_value(json_object_get(c, "model"))), &o, &dec),
                      SC_ERR_UNSUPPORTED, "bf16");
            continue;
        }
        CHECK_OK(pipeline_decoder_load(test_fixture(json_string_value(json_object_get(c, "model"))), &o, &dec));
        /* The file holds BF16 weights, yet AUTO decodes in float32 (docs/PRECISION.md). */
        CHECK(dec->be->dtype == (d ? SC_DTYPE_BF16 : SC_DTYPE_F32));
        float *out = calloc(f32.numel, sizeof *out);
        CHECK_OK(dec->family->decode(dec, (int)lat.shape[0], (int)lat.shape[2], lat.data, out, 0));
        const double vs_f32 = rel_l2(out, f32.data, f32.numel), pt = rel_l2(autocast.data, f32.data, f32.numel);
        const double vs_pt = rel_l2(out, autocast.data, f32.numel);
        printf("    vae %s: vs f32 %.2e (PyTorch autocast %.2e), vs autocast %.2e\n", be_name(dec->be), vs_f32, pt, vs_pt);
        if (d == 0) CHECK(vs_f32 <= 1e-5);
        else CHECK_MSG(vs_pt <= 2 * pt && vs_f32 > 1e-5, "vae bf16: %.3g from PyTorch's bf16 (its own error %.3g)", vs_pt, pt);
        free(out);
        dec->family->free(dec);
    }
    npy_free(&lat), npy_free(&f32), npy_free(&autocast);
    json_decref(j);
}

/* Defaults (docs/PRECISION.md): a 16-bit text encoder computes in bf16, a float32 one in float32;
 * a DiT in float32 whatever its file holds. */
TEST(precision_defaults_follow_the_model_kind)
{
    sc_text_encoder *e;
    sc_text_encoder_info ti;
    CHECK_OK(sc_text_encoder_load(test_fixture("t5/v1_1_bf16"), &e));
    sc_text_encoder_get_info(e, &ti);
    CHECK(!strcmp(ti.dtype, "BF16") && !strcmp(ti.compute_dtype, backend_cpu_has(SC_DTYPE_BF16) ? "bf16" : "f32"));
    sc_text_encoder_free(e);
    CHECK_OK(sc_text_encoder_load(test_fixture("t5/v1_1"), &e));
    sc_text_encoder_get_info(e, &ti);
    CHECK(!strcmp(ti.compute_dtype, "f32"));
    sc_text_encoder_free(e);
    sc_model *m;
    sc_model_info mi;
    CHECK_OK(sc_model_load(test_source("models/demo"), NULL, &m)); /* F16 */
    sc_model_get_info(m, &mi);
    CHECK(!strcmp(mi.dtype, "F16") && !strcmp(mi.compute_dtype, "f32"));
    sc_model_free(m);
}

/* A dtype outside the enum is refused by every loader, naming the option. */
TEST(precision_unknown_dtype_values_are_refused)
{
    const sc_load_opts o = {.dtype = (sc_dtype)7};
    sc_model *m;
    sc_text_encoder *e;
    sc_vae *v;
    CHECK_ERR(sc_model_load(test_source("models/demo"), &o, &m), SC_ERR_ARG, "sc_load_opts.dtype 7 is not a precision");
    CHECK_ERR(sc_text_encoder_load_opts(test_fixture("t5/v1_1"), &o, &e), SC_ERR_ARG, "sc_load_opts.dtype 7");
    CHECK_ERR(sc_vae_load_opts(test_fixture("vae_a_diffusers"), &o, &v), SC_ERR_ARG, "sc_load_opts.dtype 7");
    size_t n;
    CHECK_ERR(sc_convert_checkpoint_dtype(test_source("models/demo/diffusion_pytorch_model.safetensors"),
                                          test_path("x.safetensors"), 1, (sc_dtype)7, &n),
              SC_ERR_ARG, "dtype 7 is not a precision");
    sc_dtype d;
    CHECK_ERR(sc_dtype_parse("fp16", &d), SC_ERR_ARG, "unknown precision \"fp16\"");
    CHECK_OK(sc_dtype_parse("bfloat16", &d));
    CHECK(d == SC_DTYPE_BF16 && !strcmp(sc_dtype_name(d), "bf16") && !sc_dtype_name((sc_dtype)9));
}
