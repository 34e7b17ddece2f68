/* The CPU float32 backend: the operations table of backend/backend.h over oneDNN (matrix
 * products: matmul.c, convolutions: conv.c) and the OpenMP kernels of kernels.h. */
#include <math.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/dft.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"
#include "core/error.h"
#include "core/mem.h"

struct be_ctx {
    mm_ctx *mm;
    conv_ctx *conv;
};

static void ctx_free(be_ctx *c)
{
    if (!c) return;
    mm_destroy(c->mm);
    conv_destroy(c->conv);
    free(c);
}

static sc_status ctx_create(be_ctx **out)
{
    be_ctx *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory");
    sc_status s = mm_create(&c->mm);
    if (!s) s = conv_create(&c->conv);
    if (s) {
        ctx_free(c);
        return s;
    }
    *out = c;
    return SC_OK;
}

static float *alloc_floats(size_t n, const char *what) { return mem_alloc_array(n, sizeof(float), what); }

/* Prepares L with weights of element type dt (MM_*) for the backend named `what`. */
static sc_status prepare_as(be_linear *L, int64_t m_hint, int dt, const char *what)
{
    mm_packed *p;
    sc_status s = mm_pack(m_hint, L->out, L->in, L->w, dt, &p);
    if (s == SC_ERR_UNSUPPORTED && dt == MM_F32) {
        /* No packed float32 layout on this CPU (or under an instruction-set limit): keep the
         * plain weights, which every product also accepts. */
        return SC_OK;
    }
    if (s == SC_ERR_UNSUPPORTED)
        return err_fail(SC_ERR_UNSUPPORTED, "this CPU has no %s matrix kernels (oneDNN needs AVX-512%s): use --dtype f32",
                        what, dt == MM_BF16 ? " (BF16 for full speed)" : " with VNNI");
    if (s) return s;
    L->prep = p;
    return SC_OK;
}

static sc_status prepare_f32(be_linear *L, int64_t m_hint) { return prepare_as(L, m_hint, MM_F32, "float32"); }
static sc_status prepare_bf16(be_linear *L, int64_t m_hint) { return prepare_as(L, m_hint, MM_BF16, "bf16"); }
static sc_status prepare_int8(be_linear *L, int64_t m_hint)
{
    /* int8 computes attention and its precise layers in bf16: it needs both kernels. */
    if (!backend_cpu_has(SC_DTYPE_INT8))
        return err_fail(SC_ERR_UNSUPPORTED, "this CPU has no int8 matrix kernels (oneDNN needs AVX-512 with VNNI, and "
                                            "bf16 for attention): use --dtype f32 or bf16");
    return prepare_as(L, m_hint, L->precise ? MM_BF16 : MM_S8, "int8");
}

static void linear_drop(be_linear *L)
{
    mm_packed_free(L->prep);
    L->prep = NULL;
}

static size_t linear_bytes(const be_linear *L)
{
    const size_t b = L->b ? (size_t)L->out * sizeof(float) : 0;
    if (L->prep) return mm_packed_bytes(L->prep) + b;
    return (L->w ? (size_t)L->out * L->in * sizeof(float) : 0) + b;
}

static sc_status linear(be_ctx *c, const be_linear *L, int64_t M, const float *x, float *y, int64_t ldy, int post)
{
    if (L->prep) return mm_linear_packed(c->mm, M, L->out, L->in, x, L->in, L->prep, L->b, y, ldy, post);
    return mm_linear(c->mm, M, L->out, L->in, x, L->in, L->w, L->b, y, ldy, post);
}

/* The element type of L's products' input. */
static int rows_dt(const be_linear *L) { return L->prep ? mm_rows_dt(L->prep) : MM_F32; }

static mm_rows rows_of(const be_rows *x) { return (mm_rows){x->dt, x->x, x->ld, x->sx}; }

static be_rows be_rows_of(const mm_rows *r, int64_t rows, int64_t cols)
{
    return (be_rows){r->dt, r->x, r->ld, r->sx, rows, cols};
}

static sc_status ln_modulate_rows(be_ctx *c, const be_linear *L, float *z, const float *h, int B, int T, int D,
                                  float eps, const float *shift, const float *scale, int mod_stride, be_rows *out)
{
    const int dt = rows_dt(L);
    const int64_t M = (int64_t)B * T;
    void *store = z;
    if (mm_rows_bytes(dt, M, D) > (size_t)M * D * sizeof(float)) {
        /* int8 rows of a very narrow layer (D < 16: their 64-byte padding and scales outgrow z):
         * the context's input scratch, which products on prepared rows leave alone. */
        if (!(store = mm_scratch(c->mm, 0, mm_rows_bytes(dt, M, D)))) return SC_ERR_NOMEM;
    }
    if (dt == MM_F32) {
        cpu_ln_modulate(z, h, B, T, D, eps, shift, scale, mod_stride);
    } else {
        /* Each row normalised into a small float buffer, then rounded or quantised into z's
         * storage: the float32 rows never reach memory. */
        const cpu_vec_ops *vec = cpu_vec();
        int failed = 0;
        #pragma omp parallel reduction(| : failed)
        {
            float *row = mem_alloc_array((size_t)D, sizeof(float), "a normalised row");
            if (!row) failed = 1;
            #pragma omp for schedule(static)
            for (int64_t r = 0; r < M; r++) {
                if (!row) continue;
                const size_t b = (size_t)(r / T) * mod_stride;
                vec->ln_modulate_row(row, h + r * D, D, eps, shift + b, scale + b);
                mm_rows_store(dt, store, M, D, r, row);
            }
            mem_free(row);
        }
        if (failed) return SC_ERR_NOMEM;
    }
    const mm_rows r = mm_rows_in(dt, store, M, D);
    *out = be_rows_of(&r, M, D);
    return SC_OK;
}

static sc_status linear_rows(be_ctx *c, const be_linear *L, const be_rows *x, float *y, int64_t ldy, int post)
{
    if (x->cols != L->in || x->dt != rows_dt(L))
        return err_fail(SC_ERR_ARG, "internal: rows of %lld columns in type %d for a %d -> %d layer of type %d",
                        (long long)x->cols, x->dt, L->in, L->out, rows_dt(L));
    if (!L->prep) return mm_linear(c->mm, x->rows, L->out, L->in, (const float *)x->x, x->ld, L->w, L->b, y, ldy, post);
    const mm_rows r = rows_of(x);
    return mm_linear_rows(c->mm, x->rows, L->out, L->in, &r, L->prep, L->b, y, ldy, post);
}

static sc_status mlp(be_ctx *c, const be_linear *fc1, const be_linear *fc2, const be_rows *x, float *hid, float *y,
                     int64_t ldy, int post)
{
    if (!fc1->prep || fc2->in != fc1->out) {
        sc_status s = linear_rows(c, fc1, x, hid, fc1->out, post);
        if (s) return s;
        return linear(c, fc2, x->rows, hid, y, ldy, BE_POST_NONE);
    }
    if (x->cols != fc1->in || x->dt != rows_dt(fc1))
        return err_fail(SC_ERR_ARG, "internal: MLP rows of %lld columns in type %d for a %d-wide layer of type %d",
                        (long long)x->cols, x->dt, fc1->in, rows_dt(fc1));
    const mm_rows r = rows_of(x);
    mm_rows h;
    sc_status s = mm_linear_rows_to_rows(c->mm, x->rows, fc1->out, fc1->in, &r, fc1->prep, fc1->b, post,
                                         rows_dt(fc2), hid, &h); /* h [rows, fc1.out] in fc2's type */
    if (s) return s;
    if (!fc2->prep) return mm_linear(c->mm, x->rows, fc2->out, fc2->in, (const float *)h.x, h.ld, fc2->w, fc2->b, y, ldy, BE_POST_NONE);
    return mm_linear_rows(c->mm, x->rows, fc2->out, fc2->in, &h, fc2->prep, fc2->b, y, ldy, BE_POST_NONE);
}

static sc_status attention_f32(be_ctx *c, const float *q, const float *k, const float *v, int64_t ld, float *att,
                               float *dense, float *scores, int B, int T, int H, int hd)
{
    return cpu_attention(c->mm, q, k, v, ld, att, dense, scores, B, T, H, hd, MM_F32);
}

static sc_status attention_bf16(be_ctx *c, const float *q, const float *k, const float *v, int64_t ld, float *att,
                                float *dense, float *scores, int B, int T, int H, int hd)
{
    return cpu_attention(c->mm, q, k, v, ld, att, dense, scores, B, T, H, hd, MM_BF16);
}

static sc_status attention_biased_f32(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                      float *scores, int B, int T, int H, int hd, float scale, const float *bias,
                                      const float *key_mask)
{
    return cpu_attention_general(c->mm, q, k, v, att, scores, B, T, T, H, hd, scale, bias, key_mask, MM_F32);
}

static sc_status attention_biased_bf16(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                       float *scores, int B, int T, int H, int hd, float scale, const float *bias,
                                       const float *key_mask)
{
    return cpu_attention_general(c->mm, q, k, v, att, scores, B, T, T, H, hd, scale, bias, key_mask, MM_BF16);
}

static sc_status attention_cross_f32(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                     float *scores, int B, int Tq, int Tk, int H, int hd, const float *key_bias)
{
    return cpu_attention_general(c->mm, q, k, v, att, scores, B, Tq, Tk, H, hd, 1.0f / sqrtf((float)hd), NULL,
                                 key_bias, MM_F32);
}

static sc_status attention_cross_bf16(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                      float *scores, int B, int Tq, int Tk, int H, int hd, const float *key_bias)
{
    return cpu_attention_general(c->mm, q, k, v, att, scores, B, Tq, Tk, H, hd, 1.0f / sqrtf((float)hd), NULL,
                                 key_bias, MM_BF16);
}

static sc_status conv_make(be_ctx *c, int cin, int cout, int k, int pad, const float *w, const float *bias,
                           int algorithm, be_conv **out)
{
    return conv_layer_create(c->conv, cin, cout, k, pad, w, bias, algorithm == BE_CONV_WINOGRAD ? CONV_WINOGRAD : CONV_DIRECT,
                             0, out);
}

/* bf16 convolutions (int8 too: the decoder's convolutions have no int8 scheme). */
static sc_status conv_make_bf16(be_ctx *c, int cin, int cout, int k, int pad, const float *w, const float *bias,
                                int algorithm, be_conv **out)
{
    (void)algorithm;
    if (!backend_cpu_has(SC_DTYPE_BF16))
        return err_fail(SC_ERR_UNSUPPORTED, "this CPU has no bf16 convolution kernels (oneDNN needs AVX-512): use "
                                            "--dtype f32");
    return conv_layer_create(c->conv, cin, cout, k, pad, w, bias, CONV_DIRECT, 1, out);
}

static sc_status conv_run(be_ctx *c, be_conv *L, int n, int h, int w, const float *src, float *dst, int mode)
{
    return conv_exec(c->conv, L, n, h, w, src, dst, mode == BE_CONV_ACCUMULATE ? CONV_ACCUMULATE : CONV_OVERWRITE);
}

/* The operations every CPU table shares: the precision of products is the only difference. */
#define CPU_SHARED_OPS \
    .ctx_create = ctx_create, \
    .ctx_free = ctx_free, \
    .set_threads = mm_set_threads, \
    .alloc = alloc_floats, \
    .release = mem_free, \
    .linear_drop = linear_drop, \
    .linear_bytes = linear_bytes, \
    .linear = linear, \
    .ln_modulate_rows = ln_modulate_rows, \
    .linear_rows = linear_rows, \
    .mlp = mlp, \
    .attention_scratch = cpu_attention_scratch, \
    .attention_cross_scratch = cpu_attention_cross_scratch, \
    .ln_modulate = cpu_ln_modulate, \
    .gated_add = cpu_gated_add, \
    .group_norm = cpu_group_norm, \
    .rms_norm = cpu_rms_norm, \
    .add = cpu_add, \
    .sub = cpu_sub, \
    .copy = cpu_copy, \
    .to_bf16 = cpu_to_bf16, \
    .from_bf16 = cpu_from_bf16, \
    .silu = cpu_silu, \
    .mul = cpu_mul, \
    .swiglu = cpu_swiglu, \
    .rope = cpu_rope, \
    .snake = cpu_snake, \
    .im2col1d = cpu_im2col1d, \
    .col2im1d_add = cpu_col2im1d_add, \
    .gather_rows = cpu_gather_rows, \
    .add_rows = cpu_add_rows, \
    .add_pos = cpu_add_pos, \
    .timestep_features = cpu_timestep_features, \
    .patchify = cpu_patchify, \
    .unpatchify = cpu_unpatchify, \
    .planes_to_pixels = cpu_planes_to_pixels, \
    .pixels_to_planes = cpu_pixels_to_planes, \
    .upsample_shuffle = cpu_upsample_shuffle, \
    .cfg_combine = cpu_cfg_combine, \
    .l1_diff = cpu_l1_diff, \
    .l1_diff_residual = cpu_l1_diff_residual, \
    .residual_norms = cpu_residual_norms, \
    .taylor_update = cpu_taylor_update, \
    .taylor_eval = cpu_taylor_eval, \
    .lagrange_eval = cpu_lagrange_eval, \
    .extrapolate = cpu_extrapolate, \
    .dft_work = dft_work_doubles, \
    .dft2 = dft2_real, \
    .idft2 = idft2_real, \
    .dft2_pair = dft2_real_pair, \
    .idft2_pair = idft2_real_pair, \
    .spectrum_split = dft_spectrum_split, \
    .spectrum_blend = dft_spectrum_blend

static const backend k_cpu_f32 = {
    .name = "cpu-f32",
    .about = "float32 on the CPU: oneDNN products and convolutions, OpenMP element-wise kernels",
    .dtype = SC_DTYPE_F32,
    .linear_prepare = prepare_f32,
    .attention = attention_f32,
    .attention_biased = attention_biased_f32,
    .attention_cross = attention_cross_f32,
    .conv_create = conv_make,
    .conv_free = conv_layer_free,
    .conv = conv_run,
    CPU_SHARED_OPS,
};

static const backend k_cpu_bf16 = {
    .name = "cpu-bf16",
    .about = "bf16 products on the CPU (oneDNN, float32 accumulation); activations, norms and softmax float32",
    .dtype = SC_DTYPE_BF16,
    .linear_prepare = prepare_bf16,
    .attention = attention_bf16,
    .attention_biased = attention_biased_bf16,
    .attention_cross = attention_cross_bf16,
    .conv_create = conv_make_bf16,
    .conv_free = conv_layer_free,
    .conv = conv_run,
    CPU_SHARED_OPS,
};

static const backend k_cpu_int8 = {
    .name = "cpu-int8",
    .about = "int8 linear layers on the CPU (W8A8: per-channel weights, per-token activations), bf16 attention",
    .dtype = SC_DTYPE_INT8,
    .linear_prepare = prepare_int8,
    .attention = attention_bf16,
    .attention_biased = attention_biased_bf16,
    .attention_cross = attention_cross_bf16,
    .conv_create = conv_make_bf16,
    .conv_free = conv_layer_free,
    .conv = conv_run,
    CPU_SHARED_OPS,
};

const backend *backend_cpu_f32(void) { return &k_cpu_f32; }
const backend *backend_cpu_bf16(void) { return &k_cpu_bf16; }
const backend *backend_cpu_int8(void) { return &k_cpu_int8; }

const backend *backend_cpu(sc_dtype dtype)
{
    return dtype == SC_DTYPE_BF16 ? &k_cpu_bf16 : dtype == SC_DTYPE_INT8 ? &k_cpu_int8 : &k_cpu_f32;
}

int backend_cpu_has(sc_dtype dtype)
{
    if (dtype != SC_DTYPE_BF16 && dtype != SC_DTYPE_INT8) return 1;
    static int known[4] = {0}; /* 0 unknown, 1 yes, 2 no; a race only repeats the probe */
    if (!known[dtype]) {
        static const float w[32 * 32];
        mm_packed *p = NULL;
        const sc_status s = mm_pack(32, 32, 32, w, dtype == SC_DTYPE_BF16 ? MM_BF16 : MM_S8, &p);
        mm_packed_free(p);
        /* int8 runs attention and its precise layers in bf16. */
        known[dtype] = s == SC_OK && (dtype == SC_DTYPE_BF16 || backend_cpu_has(SC_DTYPE_BF16)) ? 1 : 2;
    }
    return known[dtype] == 1;
}
