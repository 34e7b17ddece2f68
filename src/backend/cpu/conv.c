/* oneDNN convolutions on NHWC activations.
 *
 * Direct algorithm, layout measurements (oneDNN 2.6.3, fp32, batch 1, 3x3, one free core): NHWC
 * -> brgconv:avx512_core at 210-230 GFLOP/s for 512->512 @32..128, 256->256 @256 and 128->128
 * @256; nChw16c -> jit:avx512_core, 235 @32 but 72-114 from @128 on; `any` for the activations
 * -> 45-113 except 128->128; plain NCHW -> gemm at 90-100. The weight layout the NHWC kernel
 * asks for depends on (cin, cout, k) only, never on n or the image size, so one reorder at layer
 * creation serves every shape.
 *
 * Winograd (jit_wino_4x3, F(4x4, 3x3)): 1.5-2x faster than the direct NHWC kernel on the VAE's
 * 3x3 shapes even with the reorders of src and dst to and from the nChw16c layout it requires
 * (measured in one run on a busy machine: 512->256 @128 300 -> 150 ms, 128->128 @256 with the
 * fused sum 171 -> 100 ms), with the same error as the direct kernel against a float64 reference
 * (2e-6 of the largest output at 256 channels). Its weights are pre-transformed into 6x6 tiles:
 * 4x the memory of the plain ones, and the transform is slow (166 ms for 512x512, so it is done
 * once, at creation). The blocked src/dst buffers and the kernels' scratchpads are shared by all
 * layers of a context. */
#include "backend/cpu/conv.h"

#include <dnnl.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/matmul.h"
#include "core/error.h"
#include "core/mem.h"

#define CONV_CACHE 128

/* The image side at which a layer asks its kernel for the weight layout when it is created.
 * The direct kernel's layout is the same at every size; winograd's is the same from 64 on
 * (measured for 128..512 channels) and differs below, where conv_exec transforms again. */
#define CONV_PROBE_SIDE 128

/* Winograd transforms a whole image into its scratchpad (226 MB for 256->128 at 256x256, 4x
 * that at 512x512), so it runs on horizontal strips of at most this many pixels x (cin + cout)
 * channels: 64 MB of blocked src + dst and ~150 MB of scratchpad at the most. A 256-px VAE
 * decode measured 4.3 s with whole images (839 MB resident), 4.4 s with these strips (733 MB),
 * 4.6 s with 8M (644 MB) and 5.3 s with 4M (592 MB): smaller strips change kernel schedule. */
#define CONV_STRIP_ELEMS ((size_t)16 << 20)

/* One convolution execution: the layer, the whole image (which sets the strides), and the input
 * rows it reads with their vertical zero padding (all h rows and `pad`, or a winograd strip). */
typedef struct {
    int cin, cout, k, pad;
    int n, h, w;
    int rows, pad_top, pad_bottom;
    int has_bias, mode, winograd;
    int bf16;              /* src and weights in bf16 (dst, bias and accumulation float32) */
} conv_key;

typedef struct {
    conv_key key;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst;  /* the convolution's arguments (nChw16c for winograd) */
    dnnl_memory_t scratch;              /* the kernel's scratchpad, in the context's buffer */
    size_t scratch_bytes;
    /* winograd only: the caller's NHWC rows and the reorders between them and src / dst */
    dnnl_memory_t user_src, user_dst;
    dnnl_primitive_t src_in, dst_in, dst_out;
    size_t src_bytes, dst_bytes;
} conv_entry;

struct conv_ctx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    conv_entry entries[CONV_CACHE];
    int n;
    /* Shared by all primitives, grown to the largest use: winograd's nChw16c src and dst, and
     * the kernels' scratchpad (oneDNN would otherwise keep one per cached primitive). */
    float *buf[4];
    size_t buf_bytes[4];
    size_t strip_elems; /* CONV_STRIP_ELEMS unless conv_set_strip_elems said otherwise */
};

struct be_conv {
    int cin, cout, k, pad, winograd;
    int bf16;               /* weights in bf16; inputs rounded to bf16 at each execution */
    dnnl_memory_desc_t wmd; /* the layout of wei */
    float *wei;             /* weights in the kernel's layout */
    float *plain;           /* winograd: the OIHW weights, to transform again (conv_exec) */
    float *bias;            /* [cout], or NULL */
};

sc_status conv_create(conv_ctx **out)
{
    conv_ctx *c = calloc(1, sizeof *c);
    if (!c) return err_fail(SC_ERR_NOMEM, "out of memory creating the convolution backend");
    if (dnnl_engine_create(&c->engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags) != dnnl_success) {
        free(c);
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: cannot create the CPU engine");
    }
    c->strip_elems = CONV_STRIP_ELEMS;
    *out = c;
    return SC_OK;
}

static void entry_release(conv_entry *e)
{
    dnnl_primitive_t prims[4] = {e->prim, e->src_in, e->dst_in, e->dst_out};
    dnnl_memory_t mems[7] = {e->src, e->wei, e->bias, e->dst, e->scratch, e->user_src, e->user_dst};
    for (int i = 0; i < 4; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    for (int i = 0; i < 7; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
}

void conv_set_strip_elems(conv_ctx *c, size_t elems) { c->strip_elems = elems ? elems : CONV_STRIP_ELEMS; }

void conv_destroy(conv_ctx *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) entry_release(&c->entries[i]);
    for (int i = 0; i < 4; i++) mem_free(c->buf[i]);
    dnnl_stream_destroy(c->stream);
    dnnl_engine_destroy(c->engine);
    free(c);
}

static int out_rows(const conv_key *k) { return k->rows + k->pad_top + k->pad_bottom - k->k + 1; }
static int out_cols(const conv_key *k) { return k->w + 2 * k->pad - k->k + 1; }

/* The key's src [n, cin, rows, w] and dst [n, cout, out_rows, out_cols] (logical dims) as rows
 * of the caller's whole NHWC tensors (tag 0), or dense in layout `tag`. */
static int activation_mds(const conv_key *k, dnnl_format_tag_t tag, dnnl_memory_desc_t *src, dnnl_memory_desc_t *dst)
{
    const int64_t ho = k->h + 2 * k->pad - k->k + 1, wo = out_cols(k);
    dnnl_dims_t sd = {k->n, k->cin, k->rows, k->w}, dd = {k->n, k->cout, out_rows(k), wo};
    const dnnl_data_type_t st = k->bf16 ? dnnl_bf16 : dnnl_f32;
    if (tag) return dnnl_memory_desc_init_by_tag(src, 4, sd, st, tag) || dnnl_memory_desc_init_by_tag(dst, 4, dd, dnnl_f32, tag);
    dnnl_dims_t ss = {(int64_t)k->h * k->w * k->cin, 1, (int64_t)k->w * k->cin, k->cin};
    dnnl_dims_t ds = {ho * wo * k->cout, 1, wo * k->cout, k->cout};
    return dnnl_memory_desc_init_by_strides(src, 4, sd, st, ss) || dnnl_memory_desc_init_by_strides(dst, 4, dd, dnnl_f32, ds);
}

/* The convolution primitive descriptor for a key: weights in the layout the kernel prefers
 * (`any`), plain bias, an optional fused accumulation into dst. Quiet: the caller reports. */
static dnnl_status_t describe(const conv_ctx *c, const conv_key *k, dnnl_primitive_desc_t *pd)
{
    dnnl_dims_t wd = {k->cout, k->cin, k->k, k->k}; /* weights [cout, cin, k, k] */
    dnnl_dims_t bd = {k->cout};                     /* bias [cout] */
    dnnl_dims_t stride = {1, 1}, pad_l = {k->pad_top, k->pad}, pad_r = {k->pad_bottom, k->pad};
    dnnl_memory_desc_t smd, wmd, bmd, dmd;
    if (activation_mds(k, k->winograd ? dnnl_nChw16c : 0, &smd, &dmd) ||
        dnnl_memory_desc_init_by_tag(&wmd, 4, wd, k->bf16 ? dnnl_bf16 : dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_a))
        return dnnl_invalid_arguments;
    dnnl_convolution_desc_t cd;
    dnnl_status_t st = dnnl_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, k->winograd ? dnnl_convolution_winograd : dnnl_convolution_direct, &smd, &wmd,
        k->has_bias ? &bmd : NULL, &dmd, stride, pad_l, pad_r);
    if (st != dnnl_success) return st;
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t ops = NULL;
    if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) return st;
    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (k->mode == CONV_ACCUMULATE) {
        dnnl_post_ops_create(&ops);
        dnnl_post_ops_append_sum(ops, 1.0f);
        dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    st = dnnl_primitive_desc_create(pd, &cd, attr, c->engine, NULL);
    if (ops) dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    return st;
}

static sc_status no_conv(const conv_key *k)
{
    return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: no %s%s implementation of a %dx%d convolution %d -> %d",
                   k->winograd ? "winograd" : "direct", k->bf16 ? " bf16" : "", k->k, k->k, k->cin, k->cout);
}

/* Copies the weights from layout `from` (memory at src) into a new buffer of layout `to`. */
static sc_status reorder_weights(const conv_ctx *c, const dnnl_memory_desc_t *from, const void *src,
                                 const dnnl_memory_desc_t *to, float **out)
{
    float *dst = mem_alloc(dnnl_memory_desc_get_size(to));
    if (!dst) return err_fail(SC_ERR_NOMEM, "out of memory reordering convolution weights");
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    sc_status s = SC_OK;
    if (dnnl_reorder_primitive_desc_create(&rpd, from, c->engine, to, c->engine, NULL) != dnnl_success) {
        mem_free(dst);
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: cannot reorder convolution weights");
    }
    if (dnnl_primitive_create(&r, rpd) || dnnl_memory_create(&ms, from, c->engine, (void *)src) ||
        dnnl_memory_create(&md, to, c->engine, dst)) {
        s = err_fail(SC_ERR_NOMEM, "oneDNN: cannot create the weight reorder");
    } else {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        if (dnnl_primitive_execute(r, c->stream, 2, args) || dnnl_stream_wait(c->stream))
            s = err_fail(SC_ERR_UNSUPPORTED, "oneDNN: weight reorder failed");
    }
    dnnl_primitive_desc_destroy(rpd);
    if (r) dnnl_primitive_destroy(r);
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (s) mem_free(dst);
    else *out = dst;
    return s;
}

static void oihw_md(const conv_layer *L, dnnl_memory_desc_t *md)
{
    dnnl_dims_t wd = {L->cout, L->cin, L->k, L->k};
    SC_ASSERT(dnnl_memory_desc_init_by_tag(md, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success);
}

sc_status conv_layer_create(conv_ctx *c, int cin, int cout, int k, int pad, const float *w,
                            const float *bias, int algorithm, int bf16, conv_layer **out)
{
    SC_ASSERT(cin > 0 && cout > 0 && k > 0 && pad >= 0);
    *out = NULL;
    conv_layer *L = calloc(1, sizeof *L);
    if (!L) return err_fail(SC_ERR_NOMEM, "out of memory creating a convolution");
    L->cin = cin;
    L->cout = cout;
    L->k = k;
    L->pad = pad;
    L->bf16 = bf16;
    /* bf16 runs direct (oneDNN has no bf16 winograd). */
    conv_key probe = {cin, cout, k, pad, 1, CONV_PROBE_SIDE, CONV_PROBE_SIDE, CONV_PROBE_SIDE, pad, pad,
                      bias != NULL, CONV_OVERWRITE,
                      !bf16 && algorithm == CONV_WINOGRAD && k == 3 && pad == 1 && cin % 16 == 0 && cout % 16 == 0,
                      bf16};
    dnnl_primitive_desc_t pd;
    if (probe.winograd && describe(c, &probe, &pd) != dnnl_success) probe.winograd = 0; /* no kernel: direct */
    if (!probe.winograd && describe(c, &probe, &pd) != dnnl_success) {
        free(L);
        return no_conv(&probe);
    }
    L->winograd = probe.winograd;
    L->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_desc_t plain;
    oihw_md(L, &plain);
    const size_t nw = (size_t)cout * cin * k * k;
    sc_status s = reorder_weights(c, &plain, w, &L->wmd, &L->wei);
    if (!s && L->winograd) {
        if (!(L->plain = mem_alloc_array(nw, sizeof(float), "convolution weights"))) s = SC_ERR_NOMEM;
        else memcpy(L->plain, w, nw * sizeof(float));
    }
    if (!s && bias) {
        if (!(L->bias = mem_alloc_array((size_t)cout, sizeof(float), "a convolution bias"))) s = SC_ERR_NOMEM;
        else memcpy(L->bias, bias, (size_t)cout * sizeof(float));
    }
    if (s) {
        conv_layer_free(L);
        return s;
    }
    *out = L;
    return SC_OK;
}

void conv_layer_free(conv_layer *L)
{
    if (!L) return;
    mem_free(L->wei);
    mem_free(L->plain);
    mem_free(L->bias);
    free(L);
}

static dnnl_status_t make_reorder(const conv_ctx *c, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                  dnnl_primitive_t *out)
{
    dnnl_primitive_desc_t rpd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&rpd, from, c->engine, to, c->engine, NULL);
    if (st != dnnl_success) return st;
    st = dnnl_primitive_create(out, rpd);
    dnnl_primitive_desc_destroy(rpd);
    return st;
}

static sc_status build_entry(conv_ctx *c, const conv_key *k, conv_entry *e)
{
    memset(e, 0, sizeof *e);
    e->key = *k;
    dnnl_primitive_desc_t pd;
    if (describe(c, k, &pd) != dnnl_success) return no_conv(k);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *spmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = dnnl_memory_desc_get_size(spmd);
    dnnl_status_t st = dnnl_primitive_create(&e->prim, pd);
    if (!st) st = dnnl_memory_create(&e->scratch, spmd, c->engine, DNNL_MEMORY_NONE);
    if (!st) st = dnnl_memory_create(&e->src, smd, c->engine, DNNL_MEMORY_NONE);
    if (!st) st = dnnl_memory_create(&e->wei, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), c->engine,
                                     DNNL_MEMORY_NONE);
    if (!st) st = dnnl_memory_create(&e->dst, dmd, c->engine, DNNL_MEMORY_NONE);
    if (!st && k->has_bias)
        st = dnnl_memory_create(&e->bias, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1), c->engine,
                                DNNL_MEMORY_NONE);
    if (!st && k->winograd) {
        dnnl_memory_desc_t user_smd, user_dmd;
        e->src_bytes = dnnl_memory_desc_get_size(smd);
        e->dst_bytes = dnnl_memory_desc_get_size(dmd);
        st = activation_mds(k, 0, &user_smd, &user_dmd) ? dnnl_invalid_arguments : dnnl_success;
        if (!st) st = dnnl_memory_create(&e->user_src, &user_smd, c->engine, DNNL_MEMORY_NONE);
        if (!st) st = dnnl_memory_create(&e->user_dst, &user_dmd, c->engine, DNNL_MEMORY_NONE);
        if (!st) st = make_reorder(c, &user_smd, smd, &e->src_in);
        if (!st) st = make_reorder(c, dmd, &user_dmd, &e->dst_out);
        if (!st && k->mode == CONV_ACCUMULATE) st = make_reorder(c, &user_dmd, dmd, &e->dst_in);
    }
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        entry_release(e);
        return err_fail(SC_ERR_NOMEM, "oneDNN: cannot create a convolution");
    }
    return SC_OK;
}

static conv_entry *lookup(conv_ctx *c, const conv_key *k, sc_status *st)
{
    for (int i = 0; i < c->n; i++)
        if (memcmp(&c->entries[i].key, k, sizeof *k) == 0) return &c->entries[i];
    if (c->n == CONV_CACHE) {
        /* More distinct shapes than a model uses: recycle the oldest slot. */
        entry_release(&c->entries[0]);
        memmove(c->entries, c->entries + 1, (CONV_CACHE - 1) * sizeof *c->entries);
        c->n--;
    }
    conv_entry *e = &c->entries[c->n];
    *st = build_entry(c, k, e);
    if (*st) return NULL;
    c->n++;
    return e;
}

enum { BUF_SRC, BUF_DST, BUF_SCRATCH, BUF_BF16 };

/* The context's shared buffer i, grown to at least `bytes`. */
static float *shared(conv_ctx *c, int i, size_t bytes)
{
    /* A primitive may need no scratchpad at all (0 bytes): still hand out a valid buffer. */
    if (bytes == 0) bytes = 64;
    if (c->buf_bytes[i] < bytes) {
        mem_free(c->buf[i]);
        c->buf[i] = mem_alloc(bytes);
        c->buf_bytes[i] = c->buf[i] ? bytes : 0;
        if (!c->buf[i]) err_fail(SC_ERR_NOMEM, "out of memory for convolution buffers (%zu bytes)", bytes);
    }
    return c->buf[i];
}

static sc_status run(const conv_ctx *c, dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args)
{
    if (dnnl_primitive_execute(p, c->stream, nargs, args) != dnnl_success)
        return err_fail(SC_ERR_UNSUPPORTED, "oneDNN: convolution execution failed");
    return SC_OK;
}

/* Runs the key on src / dst, which point at the first input / output row it reads / writes. */
static sc_status exec_key(conv_ctx *c, conv_layer *L, const conv_key *key, const float *src, float *dst)
{
    sc_status s = SC_OK;
    conv_entry *e = lookup(c, key, &s);
    if (!e) return s;
    const dnnl_memory_desc_t *want;
    dnnl_memory_get_memory_desc(e->wei, &want);
    if (!dnnl_memory_desc_equal(want, &L->wmd)) {
        /* Winograd's tiling below 64 pixels (CONV_PROBE_SIDE): transform the weights again,
         * once per change of layout. */
        dnnl_memory_desc_t plain;
        oihw_md(L, &plain);
        float *moved;
        if ((s = L->plain ? reorder_weights(c, &plain, L->plain, want, &moved)
                          : reorder_weights(c, &L->wmd, L->wei, want, &moved)))
            return s;
        mem_free(L->wei);
        L->wei = moved;
        L->wmd = *want;
    }
    float *scratch = shared(c, BUF_SCRATCH, e->scratch_bytes);
    if (!scratch) return SC_ERR_NOMEM;
    dnnl_memory_set_data_handle(e->scratch, scratch);
    dnnl_memory_set_data_handle(e->wei, L->wei);
    if (L->bias) dnnl_memory_set_data_handle(e->bias, L->bias);
    const int nargs = L->bias ? 5 : 4;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst},
                               {DNNL_ARG_SCRATCHPAD, e->scratch}, {DNNL_ARG_BIAS, e->bias}};
    if (!key->winograd) {
        dnnl_memory_set_data_handle(e->src, (void *)src);
        dnnl_memory_set_data_handle(e->dst, dst);
        return run(c, e->prim, nargs, args);
    }
    /* winograd: NHWC rows (and dst to accumulate into) -> nChw16c, convolve, dst rows back */
    float *bs = shared(c, BUF_SRC, e->src_bytes), *bd = shared(c, BUF_DST, e->dst_bytes);
    if (!bs || !bd) return SC_ERR_NOMEM;
    dnnl_memory_set_data_handle(e->user_src, (void *)src);
    dnnl_memory_set_data_handle(e->user_dst, dst);
    dnnl_memory_set_data_handle(e->src, bs);
    dnnl_memory_set_data_handle(e->dst, bd);
    dnnl_exec_arg_t src_in[2] = {{DNNL_ARG_FROM, e->user_src}, {DNNL_ARG_TO, e->src}};
    dnnl_exec_arg_t dst_in[2] = {{DNNL_ARG_FROM, e->user_dst}, {DNNL_ARG_TO, e->dst}};
    dnnl_exec_arg_t dst_out[2] = {{DNNL_ARG_FROM, e->dst}, {DNNL_ARG_TO, e->user_dst}};
    if ((s = run(c, e->src_in, 2, src_in))) return s;
    if (key->mode == CONV_ACCUMULATE && (s = run(c, e->dst_in, 2, dst_in))) return s;
    if ((s = run(c, e->prim, nargs, args))) return s;
    return run(c, e->dst_out, 2, dst_out);
}

sc_status conv_exec(conv_ctx *c, conv_layer *L, int n, int h, int w, const float *src, float *dst,
                    int mode)
{
    conv_key key = {L->cin, L->cout, L->k, L->pad, n, h, w, h, L->pad, L->pad, L->bias != NULL, mode, L->winograd,
                    L->bf16};
    if (L->bf16) {
        /* src [n, h, w, cin] rounded to bf16 into the context's buffer (a bf16 view of it). */
        const size_t count = (size_t)n * h * w * L->cin;
        uint16_t *b = (uint16_t *)(void *)shared(c, BUF_BF16, count * sizeof(uint16_t));
        if (!b) return SC_ERR_NOMEM;
        #pragma omp parallel for schedule(static) if (count >= 65536)
        for (size_t i = 0; i < count; i += 4096) mm_to_bf16(b + i, src + i, count - i < 4096 ? count - i : 4096);
        return exec_key(c, L, &key, (const float *)(const void *)b, dst);
    }
    if (!L->winograd) return exec_key(c, L, &key, src, dst);
    /* Strips of output rows [y0, y1): input rows [y0 - pad, y1 - pad + k - 1), the part outside
     * the image being the strip's zero padding. Equal strips, a multiple of 4 (the tile) high. */
    const int ho = h + 2 * L->pad - L->k + 1, wo = out_cols(&key);
    const size_t per_row = (size_t)w * (size_t)(L->cin + L->cout);
    const size_t fit = c->strip_elems / per_row / 4 * 4;
    const int max_rows = fit < 4 ? 4 : fit > (size_t)ho ? ho : (int)fit;
    const int strips = (ho + max_rows - 1) / max_rows, rows = ((ho + strips - 1) / strips + 3) / 4 * 4;
    for (int y0 = 0; y0 < ho; y0 += rows) {
        const int y1 = y0 + rows < ho ? y0 + rows : ho;
        const int top = y0 - L->pad, bottom = y1 - L->pad + L->k - 1; /* input rows, unclipped */
        const int in0 = top > 0 ? top : 0, in1 = bottom < h ? bottom : h;
        key.rows = in1 - in0;
        key.pad_top = in0 - top;
        key.pad_bottom = bottom - in1;
        sc_status s = exec_key(c, L, &key, src + (size_t)in0 * w * L->cin, dst + (size_t)y0 * wo * L->cout);
        if (s) return s;
    }
    return SC_OK;
}
