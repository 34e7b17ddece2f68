/* The CPU float32 backend: the operations table of backend/backend.h over oneDNN (matrix
 * products: matmul.c, convolutions: conv.c) and the OpenMP kernels of kernels.h. */
#include <stdlib.h>

#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/dft.h"
#include "backend/cpu/kernels.h"
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

static sc_status linear_prepare(be_linear *L, int64_t m_hint)
{
    mm_packed *p;
    sc_status s = mm_pack(m_hint, L->out, L->in, L->w, &p);
    /* No packed layout on this CPU (or under an instruction-set limit): keep the plain weights,
     * which every product also accepts. */
    if (s == SC_ERR_UNSUPPORTED) return SC_OK;
    if (s) return s;
    L->prep = p;
    return SC_OK;
}

static void linear_drop(be_linear *L)
{
    mm_packed_free(L->prep);
    L->prep = NULL;
}

static sc_status linear(be_ctx *c, const be_linear *L, int64_t M, const float *x, float *y, int64_t ldy, int post)
{
    if (L->prep) return mm_linear_packed(c->mm, M, L->out, L->in, x, L->in, L->prep, L->b, y, ldy, post);
    return mm_linear(c->mm, M, L->out, L->in, x, L->in, L->w, L->b, y, ldy, post);
}

static sc_status attention(be_ctx *c, const float *q, const float *k, const float *v, int64_t ld, float *att,
                           float *dense, float *scores, int B, int T, int H, int hd)
{
    return cpu_attention(c->mm, q, k, v, ld, att, dense, scores, B, T, H, hd);
}

static sc_status attention_biased(be_ctx *c, const float *q, const float *k, const float *v, float *att,
                                  float *scores, int B, int T, int H, int hd, float scale, const float *bias,
                                  const float *key_mask)
{
    return cpu_attention_biased(c->mm, q, k, v, att, scores, B, T, H, hd, scale, bias, key_mask);
}

static sc_status conv_make(be_ctx *c, int cin, int cout, int k, int pad, const float *w, const float *bias,
                           int algorithm, be_conv **out)
{
    return conv_layer_create(c->conv, cin, cout, k, pad, w, bias, algorithm == BE_CONV_WINOGRAD ? CONV_WINOGRAD : CONV_DIRECT,
                             out);
}

static sc_status conv_run(be_ctx *c, be_conv *L, int n, int h, int w, const float *src, float *dst, int mode)
{
    return conv_exec(c->conv, L, n, h, w, src, dst, mode == BE_CONV_ACCUMULATE ? CONV_ACCUMULATE : CONV_OVERWRITE);
}

static const backend k_cpu_f32 = {
    .name = "cpu-f32",
    .about = "float32 on the CPU: oneDNN products and convolutions, OpenMP element-wise kernels",
    .ctx_create = ctx_create,
    .ctx_free = ctx_free,
    .set_threads = mm_set_threads,
    .alloc = alloc_floats,
    .release = mem_free,
    .linear_prepare = linear_prepare,
    .linear_drop = linear_drop,
    .linear = linear,
    .attention_scratch = cpu_attention_scratch,
    .attention = attention,
    .attention_biased = attention_biased,
    .conv_create = conv_make,
    .conv_free = conv_layer_free,
    .conv = conv_run,
    .ln_modulate = cpu_ln_modulate,
    .gated_add = cpu_gated_add,
    .group_norm = cpu_group_norm,
    .rms_norm = cpu_rms_norm,
    .add = cpu_add,
    .sub = cpu_sub,
    .copy = cpu_copy,
    .silu = cpu_silu,
    .mul = cpu_mul,
    .gather_rows = cpu_gather_rows,
    .add_rows = cpu_add_rows,
    .add_pos = cpu_add_pos,
    .timestep_features = cpu_timestep_features,
    .patchify = cpu_patchify,
    .unpatchify = cpu_unpatchify,
    .planes_to_pixels = cpu_planes_to_pixels,
    .pixels_to_planes = cpu_pixels_to_planes,
    .upsample_shuffle = cpu_upsample_shuffle,
    .cfg_combine = cpu_cfg_combine,
    .l1_diff = cpu_l1_diff,
    .l1_diff_residual = cpu_l1_diff_residual,
    .residual_norms = cpu_residual_norms,
    .taylor_update = cpu_taylor_update,
    .taylor_eval = cpu_taylor_eval,
    .lagrange_eval = cpu_lagrange_eval,
    .extrapolate = cpu_extrapolate,
    .dft_work = dft_work_doubles,
    .dft2 = dft2_real,
    .idft2 = idft2_real,
    .dft2_pair = dft2_real_pair,
    .idft2_pair = idft2_real_pair,
    .spectrum_split = dft_spectrum_split,
    .spectrum_blend = dft_spectrum_blend,
};

const backend *backend_cpu_f32(void) { return &k_cpu_f32; }
