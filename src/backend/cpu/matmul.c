#include "backend/cpu/matmul.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/vec.h"
#include "core/error.h"
#include "core/mem.h"

#define MM_CACHE 48

typedef struct {
    mm_shape key;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;
} mm_entry;

struct mm_packed {
    dnnl_memory_desc_t md;
    void *data;
    size_t bytes;
    int64_t n, k;
    int dt;
    float *scales;   /* MM_S8: [n] per output channel */
    int32_t *colsum; /* MM_S8: [n] sum_k q[n, k], for the activations' offset of 128 */
};

struct mm_ctx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    mm_entry entries[MM_CACHE];
    int n;
    void *scratch[3];
    size_t scratch_bytes[3];
};

static dnnl_data_type_t dnnl_dt(int dt) { return dt == MM_BF16 ? dnnl_bf16 : dt == MM_S8 ? dnnl_s8 : dnnl_f32; }

void *mm_scratch(mm_ctx *c, int slot, size_t bytes)
{
    if (c->scratch_bytes[slot] >= bytes) return c->scratch[slot];
    free(c->scratch[slot]);
    c->scratch[slot] = NULL;
    c->scratch_bytes[slot] = 0;
    const size_t want = (bytes + 63) / 64 * 64;
    if (posix_memalign(&c->scratch[slot], 64, want ? want : 64)) {
        c->scratch[slot] = NULL;
        err_fail(SC_ERR_NOMEM, "out of memory for %zu bytes of product scratch", bytes);
        return NULL;
    }
    c->scratch_bytes[slot] = want;
    return c->scratch[slot];
}

sc_status mm_create(mm_ctx **out)
{
    mm_ctx *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory creating the matrix backend");
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        free(c);
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: cannot create the CPU engine");
    }
    *out = c;
    return SC_OK;
}

void mm_destroy(mm_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        mm_entry *e = &c->entries[i];
        dnnl_primitive_destroy(e->prim);
        dnnl_memory_destroy(e->src);
        dnnl_memory_destroy(e->wei);
        if (e->bias) dnnl_memory_destroy(e->bias);
        dnnl_memory_destroy(e->dst);
    }
    for (int i = 0; i < 3; i++) free(c->scratch[i]);
    dnnl_stream_destroy(c->stream);
    dnnl_engine_destroy(c->engine);
    free(c);
}

void mm_set_threads(int threads)
{
    if (threads > 0) omp_set_num_threads(threads);
}

static sc_status build_entry(mm_ctx *c, const mm_shape *s, const mm_packed *pk, mm_entry *e)
{
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_dims_t bias_dims, bias_strides, sd = {0}, ss = {0}, wd = {0}, ws = {0}, dd = {0}, ds = {0};
    memset(e, 0, sizeof *e);
    e->key = *s;
    memcpy(sd, s->src_dims, sizeof s->src_dims);
    memcpy(ss, s->src_strides, sizeof s->src_strides);
    memcpy(wd, s->wei_dims, sizeof s->wei_dims);
    memcpy(ws, s->wei_strides, sizeof s->wei_strides);
    memcpy(dd, s->dst_dims, sizeof s->dst_dims);
    memcpy(ds, s->dst_strides, sizeof s->dst_strides);
    /* int8: activations as u8 (q + 128) times s8 weights into exact s32 accumulators, VNNI's own
     * operand types (an s8 x s8 product makes the library add the offset and its compensation on
     * every call); the caller takes 128 sum_k q_w[n, k] off (mm_linear_rows). */
    const dnnl_data_type_t in_dt = dnnl_dt(s->dt), src_dt = s->dt == MM_S8 ? dnnl_u8 : in_dt;
    const dnnl_data_type_t dst_dt = s->dt == MM_S8 ? dnnl_s32 : s->dst_bf16 ? dnnl_bf16 : dnnl_f32;
    if (dnnl_memory_desc_init_by_strides(&src_md, s->nd, sd, src_dt, ss) ||
        (pk ? (wei_md = pk->md, 0) : dnnl_memory_desc_init_by_strides(&wei_md, s->nd, wd, in_dt, ws)) ||
        dnnl_memory_desc_init_by_strides(&dst_md, s->nd, dd, dst_dt, ds))
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: invalid matmul memory descriptor");
    if (s->has_bias) {
        int64_t n = s->dst_dims[s->nd - 1];
        for (int i = 0; i < s->nd; i++) {
            bias_dims[i] = i == s->nd - 1 ? n : 1;
            bias_strides[i] = i == s->nd - 1 ? 1 : n;
        }
        if (dnnl_memory_desc_init_by_strides(&bias_md, s->nd, bias_dims, dnnl_f32, bias_strides))
            return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: invalid bias descriptor");
    }
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &src_md, &wei_md, s->has_bias ? &bias_md : NULL, &dst_md))
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: cannot describe the matmul");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    if (s->post == MM_POST_GELU_TANH || s->post == MM_POST_RELU) {
        dnnl_primitive_attr_create(&attr);
        dnnl_post_ops_create(&ops);
        dnnl_post_ops_append_eltwise(ops, 1.0f, s->post == MM_POST_RELU ? dnnl_eltwise_relu : dnnl_eltwise_gelu_tanh,
                                     0.0f, 0.0f);
        dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &md, attr, c->engine, NULL);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: no matmul implementation");
    st = dnnl_primitive_create(&e->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) return err_fail(SC_ERR_NOMEM, "oneDNN: cannot create the matmul");
    if (dnnl_memory_create(&e->src, &src_md, c->engine, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&e->wei, &wei_md, c->engine, DNNL_MEMORY_NONE) ||
        dnnl_memory_create(&e->dst, &dst_md, c->engine, DNNL_MEMORY_NONE) ||
        (s->has_bias && dnnl_memory_create(&e->bias, &bias_md, c->engine, DNNL_MEMORY_NONE)))
        return err_fail(SC_ERR_NOMEM, "oneDNN: cannot create memory objects");
    return SC_OK;
}

static mm_entry *lookup(mm_ctx *c, const mm_shape *s, const mm_packed *pk, sc_status *st)
{
    for (int i = 0; i < c->n; i++)
        if (memcmp(&c->entries[i].key, s, sizeof *s) == 0) return &c->entries[i];
    if (c->n == MM_CACHE) {
        /* More distinct shapes than any model uses: recycle the oldest slot. */
        mm_entry *e = &c->entries[0];
        dnnl_primitive_destroy(e->prim);
        dnnl_memory_destroy(e->src);
        dnnl_memory_destroy(e->wei);
        if (e->bias) dnnl_memory_destroy(e->bias);
        dnnl_memory_destroy(e->dst);
        memmove(c->entries, c->entries + 1, (MM_CACHE - 1) * sizeof *c->entries);
        c->n--;
    }
    mm_entry *e = &c->entries[c->n];
    *st = build_entry(c, s, pk, e);
    if (*st) return NULL;
    c->n++;
    return e;
}

static sc_status exec(mm_ctx *c, const mm_shape *s, const mm_packed *pk, const void *src, const void *wei,
                      const float *bias, void *dst)
{
    mm_shape key = *s;
    /* Zero unused dims so that equal products compare equal byte for byte. */
    for (int i = s->nd; i < 4; i++)
        key.src_dims[i] = key.src_strides[i] = key.wei_dims[i] = key.wei_strides[i] =
            key.dst_dims[i] = key.dst_strides[i] = 0;
    sc_status st = SC_OK;
    mm_entry *e = lookup(c, &key, pk, &st);
    if (!e) return st;
    dnnl_memory_set_data_handle(e->src, (void *)src);
    dnnl_memory_set_data_handle(e->wei, (void *)wei);
    dnnl_memory_set_data_handle(e->dst, dst);
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}, {DNNL_ARG_BIAS, e->bias}};
    int nargs = 3;
    if (key.has_bias) {
        dnnl_memory_set_data_handle(e->bias, (void *)bias);
        nargs = 4;
    }
    if (dnnl_primitive_execute(e->prim, c->stream, nargs, args) != dnnl_success)
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: matmul execution failed");
    return SC_OK;
}

sc_status mm_exec(mm_ctx *c, const mm_shape *s, const void *src, const void *wei,
                  const float *bias, float *dst)
{
    SC_ASSERT(!s->packed);
    SC_ASSERT(s->dt != MM_S8 || (!s->has_bias && s->post == MM_POST_NONE));
    return exec(c, s, NULL, src, wei, bias, dst);
}

sc_status mm_linear(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                    const float *W, const float *b, float *y, int64_t ldy, int post)
{
    mm_shape s;
    memset(&s, 0, sizeof s);
    s.nd = 2;
    s.src_dims[0] = M; s.src_dims[1] = K; s.src_strides[0] = ldx; s.src_strides[1] = 1; /* x [M, K] */
    s.wei_dims[0] = K; s.wei_dims[1] = N; s.wei_strides[0] = 1; s.wei_strides[1] = K;   /* W^T [K, N] */
    s.dst_dims[0] = M; s.dst_dims[1] = N; s.dst_strides[0] = ldy; s.dst_strides[1] = 1; /* y [M, N] */
    s.has_bias = b != NULL;
    s.post = post;
    return mm_exec(c, &s, x, W, b, y);
}

/* One row r [K] quantised symmetric: *scale = max |r| / 127, q = rint(r 127 / max) in [-127, 127],
 * stored as the byte q + offset (0: int8 weights; 128: u8 activations). A row with a NaN or an
 * infinity gives q = 0 and a NaN scale (a NaN output row); a row below 1e-30 is a zero row. */
static void quantize_row(uint8_t *o, float *scale, const float *r, int64_t K, int offset)
{
    float amax = 0.0f;
    int bad = 0;
    /* A compare-and-select rather than fmaxf (whose NaN rule keeps the compiler from
     * vectorising it): NaN rows are caught by `bad` instead. */
    #pragma omp simd reduction(max : amax) reduction(| : bad)
    for (int64_t k = 0; k < K; k++) {
        const float a = fabsf(r[k]);
        amax = a > amax ? a : amax;
        bad |= !(a <= 3.4028234663852886e38f); /* NaN or infinity */
    }
    if (bad) {
        memset(o, offset, (size_t)K);
        *scale = NAN;
        return;
    }
    if (amax < 1e-30f) amax = 0.0f; /* 127 / amax would overflow: a zero row */
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    *scale = amax / 127.0f;
    #pragma omp simd
    for (int64_t k = 0; k < K; k++) {
        const float v = rintf(r[k] * inv);
        o[k] = (uint8_t)((int)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v) + offset);
    }
}

int mm_rows_dt(const mm_packed *W) { return W ? W->dt : MM_F32; }

size_t mm_rows_bytes(int dt, int64_t M, int64_t K)
{
    const size_t n = (size_t)M * (size_t)K;
    if (dt == MM_BF16) return n * sizeof(uint16_t);
    if (dt == MM_S8) return (n + 63) / 64 * 64 + (size_t)M * sizeof(float);
    return n * sizeof(float);
}

void mm_rows_store(int dt, void *buf, int64_t M, int64_t K, int64_t m, const float *zrow)
{
    if (dt == MM_BF16) {
        mm_to_bf16((uint16_t *)buf + m * K, zrow, (size_t)K);
    } else if (dt == MM_S8) {
        const size_t qbytes = ((size_t)M * K + 63) / 64 * 64;
        quantize_row((uint8_t *)buf + m * K, (float *)(void *)((char *)buf + qbytes) + m, zrow, K, 128);
    } else {
        float *r = (float *)buf + m * K;
        if (r != zrow) memcpy(r, zrow, (size_t)K * sizeof(float));
    }
}

mm_rows mm_rows_in(int dt, const void *buf, int64_t M, int64_t K)
{
    mm_rows r = {dt, buf, K, NULL};
    if (dt == MM_S8) r.sx = (const float *)(const void *)((const char *)buf + ((size_t)M * K + 63) / 64 * 64);
    return r;
}

/* x [M, K] (row stride ldx) as rows of type dt in the context's scratch slot 0 (float32: x). */
static sc_status rows_from(mm_ctx *c, int dt, const float *x, int64_t M, int64_t K, int64_t ldx, mm_rows *out)
{
    if (dt == MM_F32) {
        *out = (mm_rows){MM_F32, x, ldx, NULL};
        return SC_OK;
    }
    void *buf = mm_scratch(c, 0, mm_rows_bytes(dt, M, K));
    if (!buf) return SC_ERR_NOMEM;
    if (dt == MM_BF16) {
        #pragma omp parallel for schedule(static) if (M * K >= 32768)
        for (int64_t m = 0; m < M; m++) mm_to_bf16((uint16_t *)buf + m * K, x + m * ldx, (size_t)K);
    } else {
        *out = mm_rows_in(dt, buf, M, K);
        float *sx = (float *)out->sx;
        #pragma omp parallel for schedule(static) if (M * K >= 65536)
        for (int64_t m = 0; m < M; m++) quantize_row((uint8_t *)buf + m * K, sx + m, x + m * ldx, K, 128);
        return SC_OK;
    }
    *out = mm_rows_in(dt, buf, M, K);
    return SC_OK;
}

/* The packed product on rows of W's type: y [M, N] float32 (or bf16 when dst_bf16), with bias
 * and post-op for float and bf16 weights; an int8 product leaves the float accumulators. */
static sc_status packed_product(mm_ctx *c, int64_t M, int64_t N, int64_t K, const mm_rows *x, const mm_packed *W,
                                const float *b, void *y, int64_t ldy, int post, int dst_bf16)
{
    SC_ASSERT(W->n == N && W->k == K && x->dt == W->dt);
    mm_shape s;
    memset(&s, 0, sizeof s);
    s.nd = 2;
    s.dt = W->dt;
    s.src_dims[0] = M; s.src_dims[1] = K; s.src_strides[0] = x->ld; s.src_strides[1] = 1; /* x [M, K] */
    s.wei_dims[0] = K; s.wei_dims[1] = N;                                                /* W^T [K, N], packed */
    s.dst_dims[0] = M; s.dst_dims[1] = N; s.dst_strides[0] = ldy; s.dst_strides[1] = 1;  /* y [M, N] */
    s.has_bias = W->dt != MM_S8 && b != NULL;
    s.post = W->dt != MM_S8 ? post : MM_POST_NONE;
    s.dst_bf16 = dst_bf16;
    s.packed = 1; /* equal (N, K, dt) pack to equal layouts, so the primitive is shared */
    return exec(c, &s, W, x->x, W->data, b, y);
}

/* int32 read from memory that also holds floats (an int8 product's accumulators, overwritten
 * in place by the outputs they give). */
typedef int32_t mm_i32_alias __attribute__((may_alias));

/* An int8 product's accumulator row r [N] (int32 in place, of u8 activations q + 128) made the
 * layer's output r [N]: float(acc - 128 colsum[n]) * (a * sw[n]) + b[n] (the int32 difference is
 * the exact s8 x s8 sum), then post. In place: the accumulators just written stay in cache. */
static void dequantize_row(float *r, int64_t N, float a, const float *sw, const int32_t *colsum, const float *b,
                           int post)
{
    const mm_i32_alias *acc = (const mm_i32_alias *)(void *)r;
    if (b) {
        #pragma omp simd
        for (int64_t n = 0; n < N; n++) r[n] = (float)(acc[n] - 128 * colsum[n]) * (a * sw[n]) + b[n];
    } else {
        #pragma omp simd
        for (int64_t n = 0; n < N; n++) r[n] = (float)(acc[n] - 128 * colsum[n]) * (a * sw[n]);
    }
    if (post == MM_POST_RELU) {
        #pragma omp simd
        for (int64_t n = 0; n < N; n++) r[n] = r[n] > 0.0f ? r[n] : 0.0f;
    } else if (post == MM_POST_GELU_TANH) {
        /* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3): the tanh
         * approximation of GELU through the vectorised exp, while the row is in cache. */
        const cpu_vec_ops *vec = cpu_vec();
        float e[256];
        for (int64_t n0 = 0; n0 < N; n0 += 256) {
            const int nb = N - n0 < 256 ? (int)(N - n0) : 256;
            #pragma omp simd
            for (int i = 0; i < nb; i++) {
                const float x = r[n0 + i];
                e[i] = -1.5957691216057308f * (x + 0.044715f * x * x * x);
            }
            vec->exp_sub_sum(e, 0.0f, e, nb);
            #pragma omp simd
            for (int i = 0; i < nb; i++) r[n0 + i] = r[n0 + i] / (1.0f + e[i]);
        }
    }
}

sc_status mm_linear_rows(mm_ctx *c, int64_t M, int64_t N, int64_t K, const mm_rows *x, const mm_packed *W,
                         const float *b, float *y, int64_t ldy, int post)
{
    sc_status st = packed_product(c, M, N, K, x, W, b, y, ldy, post, 0); /* int8: acc [M, N] int32 in y */
    if (!st && W->dt == MM_S8) {
        #pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) dequantize_row(y + m * ldy, N, x->sx[m], W->scales, W->colsum, b, post);
    }
    return st;
}

sc_status mm_linear_rows_to_rows(mm_ctx *c, int64_t M, int64_t N, int64_t K, const mm_rows *x, const mm_packed *W,
                                 const float *b, int post, int out_dt, float *buf, mm_rows *out)
{
    if (out_dt == MM_BF16 && W->dt != MM_S8) {
        /* h [M, N] bf16 = post(x W^T + b), rounded by the library as it stores */
        sc_status st = packed_product(c, M, N, K, x, W, b, buf, N, post, 1);
        if (!st) *out = mm_rows_in(MM_BF16, buf, M, N);
        return st;
    }
    if (out_dt == MM_S8 && W->dt == MM_S8) {
        void *q = mm_scratch(c, 2, mm_rows_bytes(MM_S8, M, N)); /* h [M, N] as u8, scales [M] */
        if (!q) return SC_ERR_NOMEM;
        sc_status st = packed_product(c, M, N, K, x, W, NULL, buf, N, MM_POST_NONE, 0); /* acc [M, N] in buf */
        if (st) return st;
        /* Each row dequantised and post-op'd in place, quantised from there while in cache. */
        #pragma omp parallel for schedule(static)
        for (int64_t m = 0; m < M; m++) {
            dequantize_row(buf + m * N, N, x->sx[m], W->scales, W->colsum, b, post);
            mm_rows_store(MM_S8, q, M, N, m, buf + m * N);
        }
        *out = mm_rows_in(MM_S8, q, M, N);
        return SC_OK;
    }
    /* Other pairings: the float32 layer, then its rows converted. */
    sc_status st = mm_linear_rows(c, M, N, K, x, W, b, buf, N, post);
    if (st) return st;
    if (out_dt == MM_F32) {
        *out = mm_rows_in(MM_F32, buf, M, N);
        return SC_OK;
    }
    return rows_from(c, out_dt, buf, M, N, N, out);
}

sc_status mm_linear_packed(mm_ctx *c, int64_t M, int64_t N, int64_t K, const float *x, int64_t ldx,
                           const mm_packed *W, const float *b, float *y, int64_t ldy, int post)
{
    mm_rows r;
    sc_status st = rows_from(c, W->dt, x, M, K, ldx, &r);
    return st ? st : mm_linear_rows(c, M, N, K, &r, W, b, y, ldy, post);
}

sc_status mm_pack(int64_t m_hint, int64_t N, int64_t K, const float *W, int dt, mm_packed **out)
{
    *out = NULL;
    mm_ctx *c = NULL;
    sc_status st = mm_create(&c);
    if (st) return st;
    mm_packed *p = calloc(1, sizeof *p);
    const dnnl_data_type_t t = dnnl_dt(dt);
    dnnl_memory_desc_t src_md, any_md, plain_md, dst_md;
    dnnl_dims_t sd = {m_hint, K}, wd = {K, N}, dd = {m_hint, N}, ws = {1, K};
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t from = NULL, to = NULL;
    void *plain = (void *)W; /* W^T [K, N] with strides (1, K), in f32, or quantised below */
    st = err_fail(SC_ERR_UNSUPPORTED, "oneDNN: cannot pack a %lld x %lld weight in %s", (long long)N, (long long)K,
                  dt == MM_BF16 ? "bf16" : dt == MM_S8 ? "int8" : "float32");
    if (!p || dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dt == MM_S8 ? dnnl_u8 : t, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&any_md, 2, wd, t, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_strides(&plain_md, 2, wd, dt == MM_S8 ? dnnl_s8 : dnnl_f32, ws) ||
        dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dt == MM_S8 ? dnnl_s32 : dnnl_f32, dnnl_ab))
        goto done;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &src_md, &any_md, NULL, &dst_md) ||
        dnnl_primitive_desc_create(&pd, &md, NULL, c->engine, NULL))
        goto done;
    if (dt != MM_F32) {
        /* Only a real low-precision kernel will do: the reference one is 100x slower, and int8
         * without VNNI (AVX2's vpmaddubsw) saturates pairs of products at 16 bits: not exact. */
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) || !impl || !strncmp(impl, "ref", 3) ||
            (dt == MM_S8 && !strstr(impl, "vnni") && !strstr(impl, "amx")))
            goto done;
    }
    p->md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    p->bytes = dnnl_memory_desc_get_size(&p->md);
    p->n = N;
    p->k = K;
    p->dt = dt;
    if (dt == MM_S8) {
        p->scales = mem_alloc_array((size_t)N, sizeof(float), "int8 weight scales");
        p->colsum = mem_alloc_array((size_t)N, sizeof(int32_t), "int8 weight sums");
        plain = mem_alloc_array((size_t)N * (size_t)K, 1, "int8 weights");
        if (!p->scales || !p->colsum || !plain) {
            st = SC_ERR_NOMEM;
            goto done;
        }
        mm_quantize_rows(plain, p->scales, W, N, K, K); /* q [N, K] int8, scales [N] */
        for (int64_t n = 0; n < N; n++) {
            int32_t sum = 0; /* |sum| <= 127 K */
            for (int64_t k = 0; k < K; k++) sum += ((const int8_t *)plain)[n * K + k];
            p->colsum[n] = sum;
        }
    }
    if (posix_memalign(&p->data, 64, p->bytes ? p->bytes : 64)) {
        st = err_fail(SC_ERR_NOMEM, "out of memory packing weights");
        p->data = NULL;
        goto done;
    }
    if (dnnl_memory_create(&from, &plain_md, c->engine, plain) ||
        dnnl_memory_create(&to, &p->md, c->engine, p->data) ||
        dnnl_reorder_primitive_desc_create(&rpd, &plain_md, c->engine, &p->md, c->engine, NULL) ||
        dnnl_primitive_create(&reorder, rpd))
        goto done;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    if (dnnl_primitive_execute(reorder, c->stream, 2, args) || dnnl_stream_wait(c->stream)) goto done;
    *out = p;
    p = NULL;
    st = SC_OK;
done:
    if (plain != (void *)W) mem_free(plain);
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (from) dnnl_memory_destroy(from);
    if (to) dnnl_memory_destroy(to);
    mm_packed_free(p);
    mm_destroy(c);
    return st;
}

void mm_packed_free(mm_packed *p)
{
    if (!p) return;
    free(p->data);
    mem_free(p->scales);
    mem_free(p->colsum);
    free(p);
}

size_t mm_packed_bytes(const mm_packed *p)
{
    return p->bytes + (p->scales ? (size_t)p->n * (sizeof(float) + sizeof(int32_t)) : 0);
}

int mm_packed_dt(const mm_packed *p) { return p->dt; }

void mm_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    #pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        /* Round to nearest, ties to even, on the bits; a NaN keeps a quiet NaN's pattern. */
        const uint32_t r = u + 0x7fffu + ((u >> 16) & 1u);
        dst[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r >> 16);
    }
}

void mm_quantize_rows(int8_t *q, float *scale, const float *x, int64_t M, int64_t K, int64_t ldx)
{
    #pragma omp parallel for schedule(static) if (M * K >= 65536)
    for (int64_t m = 0; m < M; m++) quantize_row((uint8_t *)q + m * K, scale + m, x + m * ldx, K, 0);
}
