#include "tiny_dit.h"

#include "harness.h"

tiny_dit tiny_dit_default(void)
{
    tiny_dit t = {.depth = 2, .hidden = 32, .in_ch = 4, .out_ch = 8, .patch = 2, .input_size = 8,
                  .classes = 5, .with_pos = 1, .dtype = "F32"};
    return t;
}

typedef struct {
    char name[96];
    int rank;
    long shape[4];
    long numel;
} entry;

static void add(entry *e, int *n, const tiny_dit *t, const char *name, int rank, long a, long b, long c, long d)
{
    if (t->drop && !strcmp(t->drop, name)) return;
    entry *x = &e[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->rank = rank;
    long s[4] = {a, b, c, d};
    x->numel = 1;
    for (int i = 0; i < rank; i++) {
        x->shape[i] = s[i] + (i == 0 && t->misshape && !strcmp(t->misshape, name));
        x->numel *= x->shape[i];
    }
}

static void add_linear(entry *e, int *n, const tiny_dit *t, const char *prefix, long out, long in)
{
    char nm[96];
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    add(e, n, t, nm, 2, out, in, 0, 0);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    add(e, n, t, nm, 1, out, 0, 0, 0);
}

void tiny_dit_write(const char *path, const tiny_dit *t)
{
    entry e[256];
    int n = 0;
    const long D = t->hidden, G = t->input_size / t->patch;
    add(e, &n, t, "x_embedder.proj.weight", 4, D, t->in_ch, t->patch, t->patch);
    add(e, &n, t, "x_embedder.proj.bias", 1, D, 0, 0, 0);
    if (t->with_pos) add(e, &n, t, "pos_embed", 3, 1, G * G, D, 0);
    add_linear(e, &n, t, "t_embedder.mlp.0", D, 256);
    add_linear(e, &n, t, "t_embedder.mlp.2", D, D);
    add(e, &n, t, "y_embedder.embedding_table.weight", 2, t->classes + 1, D, 0, 0);
    for (int l = 0; l < t->depth; l++) {
        char p[64];
        snprintf(p, sizeof p, "blocks.%d.adaLN_modulation.1", l); add_linear(e, &n, t, p, 6 * D, D);
        snprintf(p, sizeof p, "blocks.%d.attn.qkv", l); add_linear(e, &n, t, p, 3 * D, D);
        snprintf(p, sizeof p, "blocks.%d.attn.proj", l); add_linear(e, &n, t, p, D, D);
        snprintf(p, sizeof p, "blocks.%d.mlp.fc1", l); add_linear(e, &n, t, p, 4 * D, D);
        snprintf(p, sizeof p, "blocks.%d.mlp.fc2", l); add_linear(e, &n, t, p, D, 4 * D);
    }
    add_linear(e, &n, t, "final_layer.adaLN_modulation.1", 2 * D, D);
    add_linear(e, &n, t, "final_layer.linear", (long)t->patch * t->patch * t->out_ch, D);
    if (t->extra) add(e, &n, t, t->extra, 1, 4, 0, 0, 0);

    size_t cap = 64 + (size_t)n * 160, hl = 0, off = 0;
    char *h = malloc(cap);
    hl += (size_t)snprintf(h + hl, cap - hl, "{");
    for (int i = 0; i < n; i++) {
        hl += (size_t)snprintf(h + hl, cap - hl, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", e[i].name, t->dtype);
        for (int k = 0; k < e[i].rank; k++) hl += (size_t)snprintf(h + hl, cap - hl, "%s%ld", k ? "," : "", e[i].shape[k]);
        hl += (size_t)snprintf(h + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + 4 * (size_t)e[i].numel);
        off += 4 * (size_t)e[i].numel;
    }
    hl += (size_t)snprintf(h + hl, cap - hl, "}");
    size_t total = 8 + hl + off;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, h, hl);
    /* Small deterministic values: a linear congruential sequence in [-0.05, 0.05]. */
    float *w = (float *)(buf + 8 + hl);
    uint32_t s = 12345;
    for (size_t i = 0; i < off / 4; i++) {
        s = s * 1664525u + 1013904223u;
        float v = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
        memcpy((unsigned char *)w + 4 * i, &v, 4);
    }
    if (t->poison) {
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            if (!strcmp(e[i].name, t->poison)) {
                float nan = NAN;
                for (long k = 0; k < e[i].numel; k++) memcpy(buf + 8 + hl + at + 4 * (size_t)k, &nan, 4);
            }
            at += 4 * (size_t)e[i].numel;
        }
    }
    test_write(path, buf, total);
    free(buf);
    free(h);
}
