/* The Stable Audio forward pass (docs/FAMILIES.md, "Stable Audio") in the steps of models/model.h:
 * the frames through the 1x1 convolution (with its residual) and the input projection, the global
 * token (durations + timestep) in front, the cross-attention tokens (projected text and durations,
 * once per conditioning) (embed); self-attention with rotary embeddings, cross-attention with
 * grouped key/value heads, SwiGLU feed-forward, each after its affine LayerNorm and added ungated
 * (component); the output projection of the frames, the 1x1 convolution with its residual (final).
 * Nothing is modulated: block() has nothing to do. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/mem.h"
#include "models/stableaudio/stableaudio.h"

#define SA_PI 3.14159265358979323846
#define SA_PI_F ((float)SA_PI)

static sa_ws *ws_of(model_ws *ws) { return (sa_ws *)ws; }

static void free_cond(const backend *be, sa_ws *ws)
{
    float *all[] = {ws->enc, ws->chid, ws->ctok, ws->xkv, ws->kvtmp, ws->xscores, ws->seen};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->release(all[i]);
    mem_free(ws->xkv_ready);
    ws->enc = ws->chid = ws->ctok = ws->xkv = ws->kvtmp = ws->xscores = ws->seen = NULL;
    ws->xkv_ready = NULL;
    ws->cond_cap = 0;
    ws->seen_n = 0;
}

void sa_ws_free(const model *m, model_ws *base)
{
    if (!base) return;
    const backend *be = m->be;
    sa_ws *ws = ws_of(base);
    free_cond(be, ws);
    float *all[] = {base->h,   base->sub,      ws->cs,         ws->sn,         ws->z,       ws->qkv,
                    ws->att,   ws->hid2,       ws->hid,        ws->scores,     ws->dense,   ws->frames_in,
                    ws->frames_pre, ws->frames_out, ws->tok_in, ws->tfeat,     ws->thid,    ws->temb,
                    ws->ghid,  ws->glob,       ws->gin,        ws->numfeat};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) be->release(all[i]);
    if (base->ctx) be->ctx_free(base->ctx);
    free(ws);
}

/* cs, sn [T, rot/2]: cos and sin of position t times 10000^(-2i/rot), in float32 as diffusers'
 * get_1d_rotary_pos_embed computes them (its table repeats these twice: [cos | cos]). */
static void rotary_table(float *cs, float *sn, int T, int rot)
{
    const int half = rot / 2;
    for (int i = 0; i < half; i++) {
        const float e = (float)(2 * i) / (float)rot;
        const float f = 1.0f / powf(10000.0f, e);
        for (int t = 0; t < T; t++) {
            const float a = (float)t * f;
            cs[(size_t)t * half + i] = cosf(a);
            sn[(size_t)t * half + i] = sinf(a);
        }
    }
}

sc_status sa_ws_create(const model *m, int rows, const sc_shape *shape, model_ws **out)
{
    const sa_config *c = &sa_of(m)->cfg;
    const backend *be = m->be;
    if (!shape || !shape->rank) shape = &m->latent;
    SC_ASSERT(shape->rank == 2 && shape->dims[0] == c->in_channels && shape->dims[1] >= 1);
    sa_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return err_fail(SC_ERR_NOMEM, "out of memory");
    model_ws *base = &ws->base;
    ws->frames = shape->dims[1];
    const size_t B = (size_t)rows, S = (size_t)ws->frames, T = S + 1, D = (size_t)c->hidden;
    const size_t Cm = (size_t)(c->in_channels > c->out_channels ? c->in_channels : c->out_channels);
    base->capacity = base->rows = rows;
    base->latent = *shape;
    base->tokens = (int)T;
    base->mod_stride = 0;
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&base->h, B * T * D, "residual stream"},
        {&base->sub, B * T * D, "sub-layer output"},
        {&ws->cs, T * (size_t)(c->rot / 2), "rotary table"},
        {&ws->sn, T * (size_t)(c->rot / 2), "rotary table"},
        {&ws->z, B * T * D, "normalised input"},
        {&ws->qkv, B * T * 3 * D, "qkv"},
        {&ws->att, B * T * D, "attention output"},
        {&ws->hid2, B * T * 8 * D, "feed-forward input"},
        {&ws->hid, B * T * 4 * D, "feed-forward hidden"},
        {&ws->scores, be->attention_scratch((int)B, (int)T, c->heads), "attention scores"},
        {&ws->dense, 3 * B * T * D, "attention inputs"},
        {&ws->frames_in, B * S * Cm, "latent frames"},
        {&ws->frames_pre, B * S * Cm, "latent frames"},
        {&ws->frames_out, B * S * Cm, "output frames"},
        {&ws->tok_in, B * S * D, "frame tokens"},
        {&ws->tfeat, B * (size_t)c->time_dim, "timestep features"},
        {&ws->thid, B * D, "timestep hidden"},
        {&ws->temb, B * D, "timestep embedding"},
        {&ws->ghid, B * D, "global hidden"},
        {&ws->glob, B * D, "global token"},
        {&ws->gin, B * 2 * (size_t)c->cross_input_dim, "durations"},
        {&ws->numfeat, B * (SA_NUMBER_DIM + 1), "duration features"},
    };
    sc_status s = SC_OK;
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs && !s; i++)
        if (!(*bufs[i].p = be->alloc(bufs[i].n, bufs[i].what))) s = SC_ERR_NOMEM;
    if (!s) s = be->ctx_create(&base->ctx);
    if (s) {
        sa_ws_free(m, base);
        return s;
    }
    rotary_table(ws->cs, ws->sn, (int)T, c->rot);
    base->mod = NULL;
    *out = base;
    return SC_OK;
}

/* The conditioning buffers for Lc cross tokens per row (kept while Lc does not grow). */
static sc_status cond_buffers(const sa_model *m, sa_ws *ws, int Lc, size_t seen_n)
{
    if (Lc <= ws->cond_cap && seen_n <= ws->seen_n) return SC_OK;
    const backend *be = m->base.be;
    const sa_config *c = &m->cfg;
    free_cond(be, ws);
    const size_t B = (size_t)ws->base.capacity, D = (size_t)c->hidden, T = (size_t)ws->base.tokens;
    uint64_t kv;
    if (!ck_mul3((uint64_t)c->depth * 2, B * (size_t)Lc, D, &kv) || kv > SIZE_MAX / sizeof(float))
        return err_fail(SC_ERR_NOMEM, "%d cross-attention tokens: their keys and values do not fit in memory", Lc);
    struct { float **p; size_t n; const char *what; } bufs[] = {
        {&ws->enc, B * Lc * (size_t)c->cross_input_dim, "cross-attention tokens"},
        {&ws->chid, B * Lc * (size_t)c->cross_dim, "cross-attention tokens"},
        {&ws->ctok, B * Lc * (size_t)c->cross_dim, "cross-attention tokens"},
        {&ws->xkv, (size_t)kv, "cross-attention keys and values"},
        {&ws->kvtmp, B * Lc * (size_t)c->kv_heads * c->head_dim, "cross-attention keys"},
        {&ws->xscores, be->attention_cross_scratch((int)B, (int)T, Lc, c->heads), "cross-attention scores"},
        {&ws->seen, seen_n, "conditioning"},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (!(*bufs[i].p = be->alloc(bufs[i].n, bufs[i].what))) {
            free_cond(be, ws);
            return SC_ERR_NOMEM;
        }
    if (!(ws->xkv_ready = mem_alloc_array((size_t)c->depth, 1, "cross-attention state"))) {
        free_cond(be, ws);
        return SC_ERR_NOMEM;
    }
    ws->cond_cap = Lc;
    return SC_OK;
}

/* feat [B, 257] = [v, sin(2 pi v w), cos(2 pi v w)] of the seconds scaled into [0, 1] (clamped to
 * the projection model's range), as StableAudioNumberConditioner computes them in float32. */
static void number_features(const sa_config *c, const float *w, const float *secs, int stride, int B, float *feat)
{
    const float lo = (float)c->min_value, hi = (float)c->max_value;
    for (int b = 0; b < B; b++) {
        float v = secs[(size_t)b * stride];
        v = v < lo ? lo : v > hi ? hi : v;
        v = (v - lo) / (hi - lo);
        float *f = feat + (size_t)b * (SA_NUMBER_DIM + 1);
        f[0] = v;
        for (int i = 0; i < SA_NUMBER_DIM / 2; i++) {
            const float a = ((v * w[i]) * 2.0f) * SA_PI_F;
            f[1 + i] = sinf(a);
            f[1 + SA_NUMBER_DIM / 2 + i] = cosf(a);
        }
    }
}

/* What a conditioning is, as the floats ws->seen keeps: text [nt], mask [nm] (1 token, 0 padding),
 * extras [ne], then rows and text length. Compared in place at every forward (once per step), so
 * no copy is made unless it changed. */
static int same_conditioning(const float *seen, const model_cond *c, int B, size_t nt, size_t nm, size_t ne)
{
    if (memcmp(seen, c->text, nt * sizeof(float)) || memcmp(seen + nt + nm, c->extra, ne * sizeof(float))) return 0;
    for (size_t i = 0; i < nm; i++)
        if (seen[nt + i] != (c->text_mask ? (float)c->text_mask[i] : 1.0f)) return 0;
    return seen[nt + nm + ne] == (float)B && seen[nt + nm + ne + 1] == (float)c->text_len;
}

static void remember_conditioning(float *seen, const model_cond *c, int B, size_t nt, size_t nm, size_t ne)
{
    memcpy(seen, c->text, nt * sizeof(float));
    for (size_t i = 0; i < nm; i++) seen[nt + i] = c->text_mask ? (float)c->text_mask[i] : 1.0f;
    memcpy(seen + nt + nm, c->extra, ne * sizeof(float));
    seen[nt + nm + ne] = (float)B;
    seen[nt + nm + ne + 1] = (float)c->text_len;
}

/* The cross-attention tokens ctok [B*Lc, X] and the durations' global projection glob [B, D], when
 * the conditioning differs from the last one seen; then every block's keys and values are stale.
 * Row r's tokens: the projected text times its mask, then the start and end embeddings; all zero
 * for an unconditional row of a guided batch without a negative prompt (extra[r][2] = 1), whose
 * durations still feed its global token, as StableAudioPipeline builds them. */
static sc_status conditioning_side(const sa_model *m, sa_ws *ws, const model_cond *cond)
{
    const backend *be = m->base.be;
    const sa_config *c = &m->cfg;
    const sa_weights *w = &m->w;
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, L = cond->text_len, Lc = L + 2, Ct = c->text_dim, Cd = c->cross_input_dim;
    const int X = c->cross_dim, D = c->hidden;
    const size_t nt = (size_t)B * L * Ct, nm = (size_t)B * L, ne = (size_t)B * cond->n_extra;
    const size_t seen_n = nt + nm + ne + 2;
    sc_status s = cond_buffers(m, ws, Lc, seen_n);
    if (s) return s;
    if (ws->seen_n == seen_n && same_conditioning(ws->seen, cond, B, nt, nm, ne)) {
        ws->lc = Lc;
        return SC_OK;
    }
    ws->seen_n = 0;
    /* Text tokens [B*L, Cd] into rows of enc, each row's L text tokens followed by its 2 duration
     * tokens. */
    for (int b = 0; b < B && !s; b++) {
        float *dst = ws->enc + (size_t)b * Lc * Cd;
        const float *src = cond->text + (size_t)b * L * Ct;
        if (c->text_identity) be->copy(dst, src, (size_t)L * Cd);
        else s = be->linear(ctx, &w->text_proj, L, src, dst, Cd, BE_POST_NONE);       /* [L, Cd] */
        for (int j = 0; j < L && !s; j++)
            if (cond->text_mask && !cond->text_mask[(size_t)b * L + j]) memset(dst + (size_t)j * Cd, 0, (size_t)Cd * sizeof(float));
    }
    /* Durations: start and end embeddings [B, Cd] each, into gin [B, 2Cd] = [start | end]. */
    const float *secs = cond->extra;
    const int ns = cond->n_extra;
    const be_linear *lin[2] = {&w->start_lin, &w->end_lin};
    const float *fw[2] = {w->start_w, w->end_w};
    for (int k = 0; k < 2 && !s; k++) {
        number_features(c, fw[k], secs + k, ns, B, ws->numfeat);                        /* [B, 257] */
        s = be->linear(ctx, lin[k], B, ws->numfeat, ws->gin + (size_t)k * Cd, 2 * Cd, BE_POST_NONE); /* [B, Cd] */
    }
    for (int b = 0; b < B && !s; b++) {
        float *dst = ws->enc + (size_t)b * Lc * Cd;
        if (secs[(size_t)b * ns + 2] != 0.0f) {
            memset(dst, 0, (size_t)Lc * Cd * sizeof(float));
            continue;
        }
        be->copy(dst + (size_t)L * Cd, ws->gin + (size_t)b * 2 * Cd, (size_t)2 * Cd);
    }
    /* ctok [B*Lc, X] = c2(silu(c1(enc))); glob [B, D] = g2(silu(g1(gin))). */
    if (!s) s = be->linear(ctx, &w->c1, (int64_t)B * Lc, ws->enc, ws->chid, X, BE_POST_NONE);
    if (!s) {
        be->silu(ws->chid, ws->chid, (size_t)B * Lc * X);
        s = be->linear(ctx, &w->c2, (int64_t)B * Lc, ws->chid, ws->ctok, X, BE_POST_NONE);
    }
    if (!s) s = be->linear(ctx, &w->g1, B, ws->gin, ws->ghid, D, BE_POST_NONE);
    if (!s) {
        be->silu(ws->ghid, ws->ghid, (size_t)B * D);
        s = be->linear(ctx, &w->g2, B, ws->ghid, ws->glob, D, BE_POST_NONE);
    }
    if (s) return s;
    remember_conditioning(ws->seen, cond, B, nt, nm, ne);
    ws->seen_n = seen_n;
    ws->lc = Lc;
    memset(ws->xkv_ready, 0, (size_t)c->depth);
    return SC_OK;
}

/* temb [B, D] = t2(silu(t1([cos(2 pi t w) | sin(2 pi t w)]))), the features as diffusers'
 * StableAudioGaussianFourierProjection computes them: (2 pi t) first, then times w. */
static sc_status timestep(const sa_model *m, sa_ws *ws, const float *t)
{
    const backend *be = m->base.be;
    const sa_config *c = &m->cfg;
    const int B = ws->base.rows, half = c->time_dim / 2, D = c->hidden;
    for (int b = 0; b < B; b++) {
        const float tp = (float)(2.0 * SA_PI) * t[b];
        float *f = ws->tfeat + (size_t)b * c->time_dim;
        for (int i = 0; i < half; i++) {
            const float a = tp * m->w.time_w[i];
            f[i] = cosf(a);
            f[half + i] = sinf(a);
        }
    }
    sc_status s = be->linear(ws->base.ctx, &m->w.t1, B, ws->tfeat, ws->thid, D, BE_POST_NONE); /* [B, D] */
    if (s) return s;
    be->silu(ws->thid, ws->thid, (size_t)B * D);
    return be->linear(ws->base.ctx, &m->w.t2, B, ws->thid, ws->temb, D, BE_POST_NONE);        /* [B, D] */
}

sc_status sa_embed(const model *base, model_ws *wsb, const float *x, const float *t, const model_cond *cond)
{
    const sa_model *m = sa_of(base);
    const backend *be = base->be;
    sa_ws *ws = ws_of(wsb);
    const sa_config *c = &m->cfg;
    const int B = wsb->rows, S = ws->frames, T = S + 1, D = c->hidden, C = c->in_channels;
    SC_ASSERT(cond->rows >= B && cond->text && cond->text_dim == c->text_dim && cond->extra && cond->n_extra == 3);
    be->patchify(ws->frames_in, x, B, C, 1, S, 1);                                    /* [B*S, C] */
    sc_status s = be->linear(wsb->ctx, &m->w.pre, (int64_t)B * S, ws->frames_in, ws->frames_pre, C, BE_POST_NONE);
    if (s) return s;
    be->add(ws->frames_pre, ws->frames_in, (size_t)B * S * C);                        /* conv(x) + x */
    s = be->linear(wsb->ctx, &m->w.proj_in, (int64_t)B * S, ws->frames_pre, ws->tok_in, D, BE_POST_NONE); /* [B*S, D] */
    if (!s) s = timestep(m, ws, t);                                                    /* temb [B, D] */
    if (!s) s = conditioning_side(m, ws, cond);                                        /* ctok, glob */
    if (s) return s;
    for (int b = 0; b < B; b++) {
        float *h0 = wsb->h + (size_t)b * T * D;
        be->copy(h0, ws->glob + (size_t)b * D, (size_t)D);
        be->add(h0, ws->temb + (size_t)b * D, (size_t)D);                             /* global + time */
        be->copy(h0 + D, ws->tok_in + (size_t)b * S * D, (size_t)S * D);              /* then the frames */
    }
    return SC_OK;
}

sc_status sa_block_step(const model *m, model_ws *ws, int l)
{
    (void)m, (void)ws, (void)l;
    return SC_OK;
}

/* z [M, D] = LN(h) (1 + scale) + bias, a block's affine LayerNorm in ln_modulate's terms (scale
 * = weight - 1, shared by every row), made into the input rows of products with L's weights (a
 * bf16 or int8 backend writes them in its product type straight from each normalised row). */
static sc_status norm_rows(const sa_model *m, sa_ws *ws, const float *scale, const float *bias, const be_linear *L,
                           be_rows *out)
{
    return m->base.be->ln_modulate_rows(ws->base.ctx, L, ws->z, ws->base.h, ws->base.rows, ws->base.tokens,
                                        m->cfg.hidden, m->cfg.eps, bias, scale, 0, out);
}

sc_status sa_modulated_input(const model *base, model_ws *wsb, int l, float *out)
{
    const sa_model *m = sa_of(base);
    const sa_block *blk = &m->w.blocks[l];
    base->be->ln_modulate(out, wsb->h, wsb->rows, wsb->tokens, m->cfg.hidden, m->cfg.eps, blk->n1b, blk->n1s, 0);
    return SC_OK;
}

/* out [B*T, D] = proj(Attn(rope(q), rope(k), v)) of norm1(h). */
static sc_status self_attention(const sa_model *m, sa_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const sa_config *c = &m->cfg;
    const sa_block *blk = &m->w.blocks[l];
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, T = ws->base.tokens, D = c->hidden;
    const int64_t M = (int64_t)B * T;
    const int fused = blk->qkv.w || blk->qkv.prep;
    be_rows z; /* norm1(h) [M, D], as the products' input */
    sc_status s = norm_rows(m, ws, blk->n1s, blk->n1b, fused ? &blk->qkv : &blk->q, &z);
    float *q, *k, *v;
    int64_t ld;
    if (fused) {
        if (!s) s = be->linear_rows(ctx, &blk->qkv, &z, ws->qkv, 3 * D, BE_POST_NONE); /* [M, 3D] */
        q = ws->qkv, k = ws->qkv + D, v = ws->qkv + 2 * D, ld = 3 * D;
    } else {
        q = ws->qkv, k = ws->qkv + M * D, v = ws->qkv + 2 * M * D, ld = D;
        if (!s) s = be->linear_rows(ctx, &blk->q, &z, q, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->k, &z, k, D, BE_POST_NONE);
        if (!s) s = be->linear_rows(ctx, &blk->v, &z, v, D, BE_POST_NONE);
    }
    if (s) return s;
    be->rope(q, B, T, ld, c->heads, c->head_dim, c->rot, ws->cs, ws->sn);
    be->rope(k, B, T, ld, c->heads, c->head_dim, c->rot, ws->cs, ws->sn);
    s = be->attention(ctx, q, k, v, ld, ws->att, ws->dense, ws->scores, B, T, c->heads, c->head_dim);
    if (!s) s = be->linear(ctx, &blk->proj, M, ws->att, out, D, BE_POST_NONE);        /* [M, D] */
    return s;
}

/* dst [n, H*hd] = src [n, kvh*hd] with every key/value head repeated for its group of query heads
 * (query head h reads key/value head h / (H / kvh), as torch.repeat_interleave makes them). */
static void expand_heads(const backend *be, float *dst, const float *src, int64_t n, int H, int kvh, int hd)
{
    const int g = H / kvh;
    for (int64_t r = 0; r < n; r++)
        for (int h = 0; h < H; h++)
            be->copy(dst + (r * H + h) * hd, src + (r * kvh + h / g) * hd, (size_t)hd);
}

/* out [B*T, D] = xproj(softmax(xq(norm2(h)) K^T / sqrt(hd)) V) over the Lc cross tokens; K, V of
 * block l computed once per conditioning. */
static sc_status cross_attention(const sa_model *m, sa_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const sa_config *c = &m->cfg;
    const sa_block *blk = &m->w.blocks[l];
    be_ctx *ctx = ws->base.ctx;
    const int B = ws->base.rows, T = ws->base.tokens, D = c->hidden, Lc = ws->lc, KV = c->kv_heads * c->head_dim;
    const int64_t M = (int64_t)B * T, ML = (int64_t)B * Lc;
    const size_t half = (size_t)ws->base.capacity * ws->cond_cap * D;
    float *kx = ws->xkv + (size_t)l * 2 * half, *vx = kx + half;
    sc_status s = SC_OK;
    if (!ws->xkv_ready[l]) {
        s = be->linear(ctx, &blk->xk, ML, ws->ctok, ws->kvtmp, KV, BE_POST_NONE);     /* [B*Lc, kvh hd] */
        if (!s) expand_heads(be, kx, ws->kvtmp, ML, c->heads, c->kv_heads, c->head_dim); /* [B*Lc, D] */
        if (!s) s = be->linear(ctx, &blk->xv, ML, ws->ctok, ws->kvtmp, KV, BE_POST_NONE);
        if (!s) expand_heads(be, vx, ws->kvtmp, ML, c->heads, c->kv_heads, c->head_dim);
        if (s) return s;
        ws->xkv_ready[l] = 1;
    }
    be_rows z; /* norm2(h) [M, D], as xq's input */
    s = norm_rows(m, ws, blk->n2s, blk->n2b, &blk->xq, &z);
    if (!s) s = be->linear_rows(ctx, &blk->xq, &z, ws->qkv, D, BE_POST_NONE);          /* [M, D] */
    if (!s) s = be->attention_cross(ctx, ws->qkv, kx, vx, ws->att, ws->xscores, B, T, Lc, c->heads, c->head_dim, NULL);
    if (!s) s = be->linear(ctx, &blk->xproj, M, ws->att, out, D, BE_POST_NONE);       /* [M, D] */
    return s;
}

/* out [B*T, D] = fc2(a * silu(g)) where [a | g] = fc1(norm3(h)). */
static sc_status feed_forward(const sa_model *m, sa_ws *ws, int l, float *out)
{
    const backend *be = m->base.be;
    const sa_block *blk = &m->w.blocks[l];
    const int D = m->cfg.hidden;
    const int64_t M = (int64_t)ws->base.rows * ws->base.tokens;
    be_rows z; /* norm3(h) [M, D], as fc1's input */
    sc_status s = norm_rows(m, ws, blk->n3s, blk->n3b, &blk->fc1, &z);
    if (!s) s = be->linear_rows(ws->base.ctx, &blk->fc1, &z, ws->hid2, 8 * D, BE_POST_NONE); /* [M, 8D] */
    if (s) return s;
    be->swiglu(ws->hid, ws->hid2, M, 4 * D);                                          /* [M, 4D] */
    return be->linear(ws->base.ctx, &blk->fc2, M, ws->hid, out, D, BE_POST_NONE);     /* [M, D] */
}

sc_status sa_component(const model *m, model_ws *ws, int l, int k, float *out)
{
    SC_ASSERT(k >= 0 && k <= 2);
    const sa_model *p = sa_of(m);
    return k == 0 ? self_attention(p, ws_of(ws), l, out)
           : k == 1 ? cross_attention(p, ws_of(ws), l, out)
                    : feed_forward(p, ws_of(ws), l, out);
}

sc_status sa_final(const model *base, model_ws *wsb, float *out)
{
    const sa_model *m = sa_of(base);
    const backend *be = base->be;
    sa_ws *ws = ws_of(wsb);
    const int B = wsb->rows, S = ws->frames, T = S + 1, D = m->cfg.hidden, Co = m->cfg.out_channels;
    sc_status s = SC_OK;
    /* The frames' tokens (the global token dropped) through proj_out: [S, Co] per row. */
    for (int b = 0; b < B && !s; b++)
        s = be->linear(wsb->ctx, &m->w.proj_out, S, wsb->h + ((size_t)b * T + 1) * D,
                       ws->frames_out + (size_t)b * S * Co, Co, BE_POST_NONE);
    if (!s) s = be->linear(wsb->ctx, &m->w.post, (int64_t)B * S, ws->frames_out, ws->frames_pre, Co, BE_POST_NONE);
    if (s) return s;
    be->add(ws->frames_pre, ws->frames_out, (size_t)B * S * Co);                      /* conv(y) + y */
    be->unpatchify(out, ws->frames_pre, B, Co, 1, S, 1);                              /* [B, Co, S] */
    return SC_OK;
}
