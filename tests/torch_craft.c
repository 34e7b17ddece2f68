#include "torch_craft.h"

#include "harness.h"

void tb_put(tbuf *b, const void *data, size_t n)
{
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->n < n) cap *= 2;
        b->p = realloc(b->p, cap);
        CHECK(b->p);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

void tb_u8(tbuf *b, unsigned v)
{
    uint8_t x = (uint8_t)v;
    tb_put(b, &x, 1);
}

void tb_u16(tbuf *b, unsigned v)
{
    tb_u8(b, v & 0xFF);
    tb_u8(b, (v >> 8) & 0xFF);
}

void tb_u32(tbuf *b, uint32_t v)
{
    tb_u16(b, v & 0xFFFF);
    tb_u16(b, v >> 16);
}

void tb_u64(tbuf *b, uint64_t v)
{
    tb_u32(b, (uint32_t)v);
    tb_u32(b, (uint32_t)(v >> 32));
}

void tb_free(tbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void tp_proto(tbuf *b) { tb_put(b, "\x80\x02", 2); }
void tp_op(tbuf *b, unsigned op) { tb_u8(b, op); }

void tp_str(tbuf *b, const char *s)
{
    tb_u8(b, 'X');
    tb_u32(b, (uint32_t)strlen(s));
    tb_put(b, s, strlen(s));
}

void tp_int(tbuf *b, uint64_t v)
{
    if (v < 256) {
        tb_u8(b, 'K');
        tb_u8(b, (unsigned)v);
    } else if (v < 65536) {
        tb_u8(b, 'M');
        tb_u16(b, (unsigned)v);
    } else if (v < 0x80000000u) {
        tb_u8(b, 'J');
        tb_u32(b, (uint32_t)v);
    } else {
        /* LONG1: minimal two's complement, as Python writes it (9 bytes from 2^63 on). */
        int k = 1;
        while (k < 8 && (v >> (8 * k - 1)) != 0) k++;
        if (k == 8 && (v >> 63)) k = 9;
        tb_u8(b, 0x8a);
        tb_u8(b, (unsigned)k);
        for (int i = 0; i < k; i++) tb_u8(b, i < 8 ? (unsigned)(v >> (8 * i)) & 0xFF : 0);
    }
}

void tp_global(tbuf *b, const char *module, const char *name)
{
    tb_u8(b, 'c');
    tb_put(b, module, strlen(module));
    tb_u8(b, '\n');
    tb_put(b, name, strlen(name));
    tb_u8(b, '\n');
}

void tp_call(tbuf *b, const char *module, const char *name, const char *arg)
{
    tp_proto(b);
    tp_global(b, module, name);
    tp_str(b, arg);
    tp_op(b, 0x85); /* TUPLE1 */
    tp_op(b, 'R');
    tp_op(b, '.');
}

static void tp_tuple(tbuf *b, int n, const uint64_t *v)
{
    tp_op(b, '(');
    for (int i = 0; i < n; i++) tp_int(b, v[i]);
    tp_op(b, 't');
}

void tp_tensor(tbuf *b, const char *storage_type, const char *key, uint64_t storage_numel, uint64_t offset,
               int rank, const uint64_t *shape, const uint64_t *stride)
{
    uint64_t contiguous[16];
    uint64_t step = 1;
    for (int i = rank - 1; i >= 0; i--) {
        contiguous[i] = step;
        step *= shape[i];
    }
    tp_global(b, "torch._utils", "_rebuild_tensor_v2");
    tp_op(b, '(');
    tp_op(b, '(');
    tp_str(b, "storage");
    tp_global(b, "torch", storage_type);
    tp_str(b, key);
    tp_str(b, "cpu");
    tp_int(b, storage_numel);
    tp_op(b, 't');
    tp_op(b, 'Q');
    tp_int(b, offset);
    tp_tuple(b, rank, shape);
    tp_tuple(b, rank, stride ? stride : contiguous);
    tp_op(b, 0x89); /* requires_grad False */
    tp_global(b, "collections", "OrderedDict");
    tp_op(b, ')');
    tp_op(b, 'R');
    tp_op(b, 't');
    tp_op(b, 'R');
}

void tp_dict_begin(tbuf *b)
{
    tp_proto(b);
    tp_op(b, '}');
    tp_op(b, '(');
}

void tp_dict_end(tbuf *b)
{
    tp_op(b, 'u');
    tp_op(b, '.');
}

void tz_build(tbuf *b, const tz_entry *e, int n)
{
    uint64_t *local = calloc((size_t)n, sizeof *local);
    for (int i = 0; i < n; i++) {
        const char *lname = e[i].local_name ? e[i].local_name : e[i].name;
        size_t nl = strlen(lname);
        size_t pad = 0;
        if (e[i].align64) {
            size_t data_at = b->n + 30 + nl + 4;
            pad = (64 - data_at % 64) % 64;
        }
        local[i] = b->n;
        tb_u32(b, 0x04034b50);
        tb_u16(b, 45);
        tb_u16(b, e[i].flags | 0x0008); /* sizes in a data descriptor, as torch writes */
        tb_u16(b, e[i].method);
        tb_u32(b, 0);                   /* time, date */
        tb_u32(b, 0);                   /* crc (in the descriptor) */
        tb_u32(b, 0);
        tb_u32(b, 0);
        tb_u16(b, (unsigned)nl);
        tb_u16(b, e[i].align64 ? (unsigned)(4 + pad) : 0);
        tb_put(b, lname, nl);
        if (e[i].align64) {
            tb_put(b, "FB", 2);
            tb_u16(b, (unsigned)pad);
            for (size_t k = 0; k < pad; k++) tb_u8(b, 'Z');
        }
        tb_put(b, e[i].data, e[i].size);
        tb_u32(b, 0x08074b50); /* data descriptor: signature, crc, sizes */
        tb_u32(b, 0);
        tb_u32(b, (uint32_t)e[i].size);
        tb_u32(b, (uint32_t)e[i].size);
    }
    uint64_t cd = b->n;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        int z = e[i].zip64_extra;
        tb_u32(b, 0x02014b50);
        tb_u16(b, 0x031e);
        tb_u16(b, 45);
        tb_u16(b, e[i].flags | 0x0008);
        tb_u16(b, e[i].method);
        tb_u32(b, 0);
        tb_u32(b, 0);
        tb_u32(b, z ? 0xFFFFFFFFu : (uint32_t)e[i].size);
        tb_u32(b, z ? 0xFFFFFFFFu : (uint32_t)e[i].size);
        tb_u16(b, (unsigned)nl);
        tb_u16(b, z ? 28 : 0);
        tb_u16(b, 0); /* comment */
        tb_u16(b, 0); /* disk */
        tb_u16(b, 0);
        tb_u32(b, 0);
        tb_u32(b, z ? 0xFFFFFFFFu : (uint32_t)local[i]);
        tb_put(b, e[i].name, nl);
        if (z) {
            tb_u16(b, 0x0001);
            tb_u16(b, 24);
            tb_u64(b, e[i].size);
            tb_u64(b, e[i].size);
            tb_u64(b, local[i]);
        }
    }
    uint64_t cd_size = b->n - cd, z64 = b->n;
    tb_u32(b, 0x06064b50);
    tb_u64(b, 44);
    tb_u16(b, 0x031e);
    tb_u16(b, 45);
    tb_u32(b, 0);
    tb_u32(b, 0);
    tb_u64(b, (uint64_t)n);
    tb_u64(b, (uint64_t)n);
    tb_u64(b, cd_size);
    tb_u64(b, cd);
    tb_u32(b, 0x07064b50);
    tb_u32(b, 0);
    tb_u64(b, z64);
    tb_u32(b, 1);
    tb_u32(b, 0x06054b50);
    tb_u16(b, 0);
    tb_u16(b, 0);
    tb_u16(b, (unsigned)n);
    tb_u16(b, (unsigned)n);
    tb_u32(b, (uint32_t)cd_size);
    tb_u32(b, (uint32_t)cd);
    tb_u16(b, 0);
    free(local);
}

const char *tz_torch_file(const char *name, const char *prefix, const tbuf *pickle, const char *byteorder,
                          const tz_storage *st, int n_st)
{
    tz_entry e[34];
    char names[34][128];
    int n = 0;
    CHECK(n_st <= 32);
    snprintf(names[n], sizeof names[n], "%s/data.pkl", prefix);
    e[n] = (tz_entry){.name = names[n], .data = pickle->p, .size = pickle->n, .align64 = 1};
    n++;
    if (byteorder) {
        snprintf(names[n], sizeof names[n], "%s/byteorder", prefix);
        e[n] = (tz_entry){.name = names[n], .data = byteorder, .size = strlen(byteorder), .align64 = 1};
        n++;
    }
    for (int i = 0; i < n_st; i++, n++) {
        snprintf(names[n], sizeof names[n], "%s/data/%s", prefix, st[i].key);
        e[n] = (tz_entry){.name = names[n], .data = st[i].data, .size = st[i].size, .align64 = 1};
    }
    tbuf b = {0};
    tz_build(&b, e, n);
    const char *path = test_path(name);
    test_write(path, b.p, b.n);
    tb_free(&b);
    return path;
}
