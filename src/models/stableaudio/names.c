/* The tensor names of diffusers' StableAudioDiTModel and StableAudioProjectionModel, as data: each
 * entry a name (with %d for the block), what it is, where it lands and the shape the configuration
 * requires (docs/FAMILIES.md, "Stable Audio"). sa_fetch_weights walks the two tables. */
#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "core/mem.h"
#include "models/stableaudio/stableaudio.h"

typedef enum {
    DIM_D, DIM_4D, DIM_8D,
    DIM_C, DIM_CO,     /* latent channels in, out */
    DIM_KV,            /* kv_heads * head_dim */
    DIM_X,             /* cross_attention_dim */
    DIM_CD, DIM_2CD,   /* conditioning width, twice it */
    DIM_CT,            /* text_encoder_dim */
    DIM_TIME, DIM_TIME_HALF,
    DIM_NUM1, DIM_NUM_HALF, /* SA_NUMBER_DIM + 1, SA_NUMBER_DIM / 2 */
    DIM_ONE
} sa_dim;

typedef enum {
    KIND_LINEAR,   /* name.weight [out, in] + name.bias [out] */
    KIND_MATRIX,   /* name.weight [out, in], no bias */
    KIND_CONV1,    /* name.weight [out, in, 1], no bias: a 1x1 convolution used as a linear */
    KIND_VECTOR,   /* name [out] (a const float *) */
} sa_kind;

typedef struct {
    const char *name;
    sa_kind kind;
    int per_block;
    size_t at;     /* offset in sa_weights, or in sa_block when per_block */
    sa_dim out, in;
} sa_name;

#define W(f) offsetof(sa_weights, f)
#define B(f) offsetof(sa_block, f)

static const sa_name k_dit[] = {
    {"time_proj.weight", KIND_VECTOR, 0, W(time_w), DIM_TIME_HALF, DIM_ONE},
    {"timestep_proj.0", KIND_LINEAR, 0, W(t1), DIM_D, DIM_TIME},
    {"timestep_proj.2", KIND_LINEAR, 0, W(t2), DIM_D, DIM_D},
    {"global_proj.0", KIND_MATRIX, 0, W(g1), DIM_D, DIM_2CD},
    {"global_proj.2", KIND_MATRIX, 0, W(g2), DIM_D, DIM_D},
    {"cross_attention_proj.0", KIND_MATRIX, 0, W(c1), DIM_X, DIM_CD},
    {"cross_attention_proj.2", KIND_MATRIX, 0, W(c2), DIM_X, DIM_X},
    {"preprocess_conv", KIND_CONV1, 0, W(pre), DIM_C, DIM_C},
    {"proj_in", KIND_MATRIX, 0, W(proj_in), DIM_D, DIM_C},
    {"transformer_blocks.%d.norm1.weight", KIND_VECTOR, 1, B(n1w), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.norm1.bias", KIND_VECTOR, 1, B(n1b), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.attn1.to_q", KIND_MATRIX, 1, B(q), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_k", KIND_MATRIX, 1, B(k), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_v", KIND_MATRIX, 1, B(v), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn1.to_out.0", KIND_MATRIX, 1, B(proj), DIM_D, DIM_D},
    {"transformer_blocks.%d.norm2.weight", KIND_VECTOR, 1, B(n2w), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.norm2.bias", KIND_VECTOR, 1, B(n2b), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.attn2.to_q", KIND_MATRIX, 1, B(xq), DIM_D, DIM_D},
    {"transformer_blocks.%d.attn2.to_k", KIND_MATRIX, 1, B(xk), DIM_KV, DIM_X},
    {"transformer_blocks.%d.attn2.to_v", KIND_MATRIX, 1, B(xv), DIM_KV, DIM_X},
    {"transformer_blocks.%d.attn2.to_out.0", KIND_MATRIX, 1, B(xproj), DIM_D, DIM_D},
    {"transformer_blocks.%d.norm3.weight", KIND_VECTOR, 1, B(n3w), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.norm3.bias", KIND_VECTOR, 1, B(n3b), DIM_D, DIM_ONE},
    {"transformer_blocks.%d.ff.net.0.proj", KIND_LINEAR, 1, B(fc1), DIM_8D, DIM_D},
    {"transformer_blocks.%d.ff.net.2", KIND_LINEAR, 1, B(fc2), DIM_D, DIM_4D},
    {"proj_out", KIND_MATRIX, 0, W(proj_out), DIM_CO, DIM_D},
    {"postprocess_conv", KIND_CONV1, 0, W(post), DIM_CO, DIM_CO},
};

static const sa_name k_projection[] = {
    {"text_projection", KIND_LINEAR, 0, W(text_proj), DIM_CD, DIM_CT}, /* only when Ct != Cd */
    {"start_number_conditioner.time_positional_embedding.0.weights", KIND_VECTOR, 0, W(start_w), DIM_NUM_HALF, DIM_ONE},
    {"start_number_conditioner.time_positional_embedding.1", KIND_LINEAR, 0, W(start_lin), DIM_CD, DIM_NUM1},
    {"end_number_conditioner.time_positional_embedding.0.weights", KIND_VECTOR, 0, W(end_w), DIM_NUM_HALF, DIM_ONE},
    {"end_number_conditioner.time_positional_embedding.1", KIND_LINEAR, 0, W(end_lin), DIM_CD, DIM_NUM1},
};

#define COUNT(t) (sizeof t / sizeof *t)

static uint64_t dim(const sa_config *c, sa_dim d)
{
    const uint64_t D = (uint64_t)c->hidden;
    switch (d) {
    case DIM_D: return D;
    case DIM_4D: return 4 * D;
    case DIM_8D: return 8 * D;
    case DIM_C: return (uint64_t)c->in_channels;
    case DIM_CO: return (uint64_t)c->out_channels;
    case DIM_KV: return (uint64_t)c->kv_heads * (uint64_t)c->head_dim;
    case DIM_X: return (uint64_t)c->cross_dim;
    case DIM_CD: return (uint64_t)c->cross_input_dim;
    case DIM_2CD: return 2 * (uint64_t)c->cross_input_dim;
    case DIM_CT: return (uint64_t)c->text_dim;
    case DIM_TIME: return (uint64_t)c->time_dim;
    case DIM_TIME_HALF: return (uint64_t)c->time_dim / 2;
    case DIM_NUM1: return SA_NUMBER_DIM + 1;
    case DIM_NUM_HALF: return SA_NUMBER_DIM / 2;
    case DIM_ONE: return 1;
    }
    return 0;
}

static sc_status fetch(sa_model *m, weights *w, const sa_name *e, int l)
{
    const sa_config *c = &m->cfg;
    char *dst = e->per_block ? (char *)&m->w.blocks[l] : (char *)&m->w;
    const uint64_t out = dim(c, e->out), in = dim(c, e->in);
    char base[256], name[300];
    if (e->per_block) snprintf(base, sizeof base, e->name, l);
    else snprintf(base, sizeof base, "%s", e->name);
    if (e->kind == KIND_VECTOR) {
        const uint64_t d[1] = {out};
        return model_get_tensor(&m->base, w, base, 1, d, (const float **)(dst + e->at));
    }
    be_linear *L = (be_linear *)(dst + e->at);
    const uint64_t lin[2] = {out, in}, conv[3] = {out, in, 1}, bd[1] = {out};
    L->out = (int)out;
    L->in = (int)in;
    snprintf(name, sizeof name, "%s.weight", base);
    sc_status s = e->kind == KIND_CONV1 ? model_get_tensor(&m->base, w, name, 3, conv, &L->w)
                                         : model_get_tensor(&m->base, w, name, 2, lin, &L->w);
    if (s || e->kind != KIND_LINEAR) return s;
    snprintf(name, sizeof name, "%s.bias", base);
    return model_get_tensor(&m->base, w, name, 1, bd, &L->b);
}

static sc_status walk(sa_model *m, weights *w, const sa_name *table, size_t n)
{
    sc_status s = SC_OK;
    /* In file order: model-wide entries where they stand, each run of per-block entries once per
     * block. */
    for (size_t i = 0; i < n && !s;) {
        if (!table[i].per_block) {
            if (!(table[i].at == W(text_proj) && table == k_projection && m->cfg.text_identity))
                s = fetch(m, w, &table[i], 0);
            i++;
            continue;
        }
        size_t end = i;
        while (end < n && table[end].per_block) end++;
        for (int l = 0; l < m->cfg.depth && !s; l++)
            for (size_t j = i; j < end && !s; j++) s = fetch(m, w, &table[j], l);
        i = end;
    }
    return s;
}

sc_status sa_fetch_weights(sa_model *m, weights *dit, weights *proj)
{
    m->w.blocks = mem_alloc_array((size_t)m->cfg.depth, sizeof *m->w.blocks, "blocks");
    if (!m->w.blocks) return SC_ERR_NOMEM;
    sc_status s = model_own(&m->base, m->w.blocks);
    if (!s) s = walk(m, dit, k_dit, COUNT(k_dit));
    if (!s) s = walk(m, proj, k_projection, COUNT(k_projection));
    return s;
}
