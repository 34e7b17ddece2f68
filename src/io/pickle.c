#include "io/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"
#include "core/utf8.h"

/* ------------------------------------------------------------------ values */

typedef enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR } vkind;

static const char *const k_kind_names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict",
                                           "global", "storage", "tensor"};

typedef struct {
    st_dtype dtype;
    const char *key;
    uint64_t numel;
} storage;

typedef struct {
    const storage *st;
    uint64_t offset;
    int rank;
    uint64_t shape[ST_MAX_RANK], stride[ST_MAX_RANK];
} tensor;

typedef struct val val;
struct val {
    uint8_t kind;
    uint8_t ordered;  /* V_DICT made by OrderedDict() */
    uint8_t depth;    /* 1 for scalars, 1 + the deepest item for containers */
    uint32_t n, cap;  /* items (tuple, list), pairs (dict) or bytes (str) */
    uint64_t at;      /* offset of the opcode that made it */
    union {
        int64_t i;
        const char *s;   /* V_STR: NUL-terminated */
        val **items;     /* tuple, list: n; dict: 2n (key, value, key, value...) */
        int g;           /* V_GLOBAL: index into k_globals */
        const storage *st;
        const tensor *t;
    } u;
};

/* The allow-list: exact "module\nname" strings. Storage types carry their dtype. */
enum { G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_FIRST_STORAGE };
static const struct { const char *module_name; st_dtype dtype; } k_globals[] = {
    [G_ORDERED_DICT] = {"collections\nOrderedDict", ST_NDTYPES},
    [G_REBUILD_TENSOR_V2] = {"torch._utils\n_rebuild_tensor_v2", ST_NDTYPES},
    [G_REBUILD_PARAMETER] = {"torch._utils\n_rebuild_parameter", ST_NDTYPES},
    {"torch\nFloatStorage", ST_F32},
    {"torch\nHalfStorage", ST_F16},
    {"torch\nBFloat16Storage", ST_BF16},
    {"torch\nDoubleStorage", ST_F64},
};
#define N_GLOBALS ((int)(sizeof k_globals / sizeof *k_globals))

/* ------------------------------------------------------------------ the machine */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct {
    const uint8_t *b;
    uint64_t n, pos, op_at;   /* bytes, cursor, offset of the current opcode */
    const char *what;
    val **stack;
    uint32_t sp, stack_cap;
    uint32_t marks[PK_MAX_NESTING];
    int n_marks;
    val **memo;
    uint32_t memo_cap;
    uint64_t objects, memory;
    chunk *arena;
} vm;

struct pk_state_dict {
    pk_tensor *tensors;
    size_t n;
    char *selected;
    chunk *arena; /* names and keys live here */
};

/* "<what>: <problem> at offset K", K = the current opcode's offset in the pickle. */
static sc_status fail_at(const vm *m, const char *problem)
{
    return err_fail(SC_ERR_FORMAT, "%s: %s at offset %llu", m->what, problem, (unsigned long long)m->op_at);
}

static void *arena_alloc(vm *m, size_t bytes)
{
    bytes = (bytes + 15) & ~(size_t)15;
    if (!m->arena || m->arena->cap - m->arena->used < bytes) {
        size_t cap = bytes > (64u << 10) ? bytes : (64u << 10);
        uint64_t total;
        if (!ck_add(m->memory, cap, &total) || total > PK_MAX_MEMORY) return NULL;
        chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = m->arena;
        c->used = 0;
        c->cap = cap;
        m->arena = c;
        m->memory = total;
    }
    void *p = m->arena->data + m->arena->used;
    m->arena->used += bytes;
    return p;
}

static void arena_free(chunk *c)
{
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

static sc_status no_memory(vm *m)
{
    return err_fail(SC_ERR_FORMAT, "%s: the pickle needs more than %llu MiB or %u objects (at offset %llu)", m->what,
                   (unsigned long long)(PK_MAX_MEMORY >> 20), PK_MAX_OBJECTS, (unsigned long long)m->op_at);
}

static val *new_val(vm *m, vkind kind)
{
    if (m->objects >= PK_MAX_OBJECTS) return NULL;
    val *v = arena_alloc(m, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    v->depth = 1;
    v->at = m->op_at;
    m->objects++;
    return v;
}

/* Bytes left after the cursor. */
static uint64_t left(const vm *m) { return m->n - m->pos; }

/* Every cursor move is preceded by need(), so pos + k never passes n. */
static sc_status need(vm *m, uint64_t k)
{
    if (left(m) < k) return fail_at(m, "truncated pickle: operand runs past the end");
    return SC_OK;
}

static uint64_t rd_le(const uint8_t *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Reads a k-byte little-endian operand and moves past it. */
static sc_status operand(vm *m, int k, uint64_t *v)
{
    sc_status s = need(m, (uint64_t)k);
    if (s) return s;
    *v = rd_le(m->b + m->pos, k);
    m->pos += (uint64_t)k;
    return SC_OK;
}

static sc_status push(vm *m, val *v)
{
    if (!v) return no_memory(m);
    if (m->sp == m->stack_cap) {
        if (m->stack_cap >= PK_MAX_STACK)
            return err_fail(SC_ERR_FORMAT, "%s: pickle stack deeper than %u at offset %llu", m->what, PK_MAX_STACK,
                           (unsigned long long)m->op_at);
        uint32_t cap = m->stack_cap ? 2 * m->stack_cap : 256;
        val **ns = realloc(m->stack, cap * sizeof *ns);
        if (!ns) return no_memory(m);
        m->stack = ns;
        m->stack_cap = cap;
    }
    m->stack[m->sp++] = v;
    return SC_OK;
}

/* The first stack slot the current opcode may touch: everything below the last MARK is hidden. */
static uint32_t floor_sp(const vm *m) { return m->n_marks ? m->marks[m->n_marks - 1] : 0; }

static sc_status pop(vm *m, val **v)
{
    if (m->sp == floor_sp(m)) return fail_at(m, "pickle stack underflow");
    *v = m->stack[--m->sp];
    return SC_OK;
}

static sc_status top(vm *m, val **v)
{
    if (m->sp == floor_sp(m)) return fail_at(m, "pickle stack underflow");
    *v = m->stack[m->sp - 1];
    return SC_OK;
}

/* Pops the last MARK; the items above it are stack[*first, sp). */
static sc_status pop_mark(vm *m, uint32_t *first)
{
    if (!m->n_marks) return fail_at(m, "no MARK on the pickle stack");
    *first = m->marks[--m->n_marks];
    return SC_OK;
}

static sc_status add_depth(vm *m, val *container, const val *item)
{
    if (item->depth >= PK_MAX_NESTING)
        return err_fail(SC_ERR_FORMAT, "%s: values nested deeper than %d at offset %llu", m->what, PK_MAX_NESTING,
                       (unsigned long long)m->op_at);
    if (item->depth + 1 > container->depth) container->depth = (uint8_t)(item->depth + 1);
    return SC_OK;
}

/* Appends k items (k = 2 per dict pair) to a list or dict. */
static sc_status append_items(vm *m, val *c, val *const *items, uint32_t k)
{
    uint32_t per = c->kind == V_DICT ? 2 : 1;
    uint64_t want = (uint64_t)c->n * per + k;
    if (want > (uint64_t)c->cap) {
        uint64_t cap = c->cap ? 2 * (uint64_t)c->cap : 8;
        while (cap < want) cap *= 2;
        if (cap > UINT32_MAX) return no_memory(m);
        val **ni = arena_alloc(m, (size_t)cap * sizeof *ni);
        if (!ni) return no_memory(m);
        if (c->n) memcpy(ni, c->u.items, (size_t)c->n * per * sizeof *ni);
        c->u.items = ni;
        c->cap = (uint32_t)cap;
    }
    for (uint32_t i = 0; i < k; i++) {
        sc_status s = add_depth(m, c, items[i]);
        if (s) return s;
        c->u.items[(uint64_t)c->n * per + i] = items[i];
    }
    c->n += k / per;
    return SC_OK;
}

static sc_status make_tuple(vm *m, uint32_t first)
{
    uint32_t k = m->sp - first;
    val *t = new_val(m, V_TUPLE);
    if (!t) return no_memory(m);
    if (k) {
        t->u.items = arena_alloc(m, k * sizeof *t->u.items);
        if (!t->u.items) return no_memory(m);
        for (uint32_t i = 0; i < k; i++) {
            sc_status s = add_depth(m, t, m->stack[first + i]);
            if (s) return s;
            t->u.items[i] = m->stack[first + i];
        }
    }
    t->n = k;
    m->sp = first;
    return push(m, t);
}

static sc_status op_tuple_n(vm *m, uint32_t k)
{
    if (m->sp - floor_sp(m) < k) return fail_at(m, "pickle stack underflow");
    return make_tuple(m, m->sp - k);
}

static sc_status op_int(vm *m, int64_t x)
{
    val *v = new_val(m, V_INT);
    if (v) v->u.i = x;
    return push(m, v);
}

/* LONG1: n <= 8 bytes of little-endian two's complement. */
static sc_status op_long1(vm *m)
{
    sc_status s = need(m, 1);
    if (s) return s;
    int k = m->b[m->pos++];
    if (k > 8) return fail_at(m, "LONG1 wider than 8 bytes");
    if ((s = need(m, (uint64_t)k))) return s;
    uint64_t u = rd_le(m->b + m->pos, k);
    if (k > 0 && k < 8 && (m->b[m->pos + k - 1] & 0x80)) u |= ~0ull << (8 * k);
    m->pos += (uint64_t)k;
    return op_int(m, (int64_t)u);
}

static sc_status op_binunicode(vm *m)
{
    sc_status s = need(m, 4);
    if (s) return s;
    uint64_t len = rd_le(m->b + m->pos, 4);
    m->pos += 4;
    if (len > PK_MAX_STRING)
        return err_fail(SC_ERR_FORMAT, "%s: string of %llu bytes at offset %llu (at most %u)", m->what,
                       (unsigned long long)len, (unsigned long long)m->op_at, PK_MAX_STRING);
    if ((s = need(m, len))) return s;
    const uint8_t *p = m->b + m->pos;
    size_t bad = utf8_check(p, (size_t)len);
    if (bad != len)
        return err_fail(SC_ERR_FORMAT, "%s: string at offset %llu is not valid UTF-8 (byte %llu)", m->what,
                       (unsigned long long)m->op_at, (unsigned long long)(m->pos + bad));
    if (memchr(p, '\0', (size_t)len))
        return err_fail(SC_ERR_FORMAT, "%s: string at offset %llu contains a NUL character", m->what,
                       (unsigned long long)m->op_at);
    val *v = new_val(m, V_STR);
    char *str = v ? arena_alloc(m, (size_t)len + 1) : NULL;
    if (!str) return no_memory(m);
    memcpy(str, p, (size_t)len);
    str[len] = '\0';
    v->u.s = str;
    v->n = (uint32_t)len;
    m->pos += len;
    return push(m, v);
}

/* Printable copy of a global's "module\nname" as "module.name" for messages. */
static void global_label(const uint8_t *p, size_t len, char *out, size_t cap)
{
    size_t k = 0, i;
    for (i = 0; i < len && k + 4 < cap; i++)
        out[k++] = p[i] == '\n' ? '.' : (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') ? (char)p[i] : '?';
    if (i < len) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* A training checkpoint keeps "ema" and "opt" next to the weights: the refusal says what to do. */
static const char *training_hint(const vm *m)
{
    for (uint32_t i = 0; i < m->sp; i++) {
        const val *v = m->stack[i];
        if (v->kind == V_STR && (!strcmp(v->u.s, "ema") || !strcmp(v->u.s, "opt")))
            return "; this looks like a training checkpoint (model/ema/opt/args): export the `ema` state dict "
                   "(torch.save(ckpt[\"ema\"], path)) or convert it to safetensors";
    }
    return "";
}

static sc_status op_global(vm *m)
{
    /* "module\nname\n", each part at most 256 bytes. */
    uint64_t start = m->pos, lines = 0, i;
    for (i = m->pos; i < m->n && i - start < 2 * 257 && lines < 2; i++)
        if (m->b[i] == '\n') lines++;
    if (lines < 2) return fail_at(m, "unterminated or overlong GLOBAL");
    size_t len = (size_t)(i - 1 - start); /* without the final newline */
    m->pos = i;
    for (int g = 0; g < N_GLOBALS; g++) {
        if (strlen(k_globals[g].module_name) == len && !memcmp(k_globals[g].module_name, m->b + start, len)) {
            val *v = new_val(m, V_GLOBAL);
            if (v) v->u.g = g;
            return push(m, v);
        }
    }
    char label[160];
    global_label(m->b + start, len, label, sizeof label);
    return err_fail(SC_ERR_FORMAT,
                   "%s: hostile or unsupported pickle: global '%s' at offset %llu is not allowed (only torch tensors "
                   "and collections.OrderedDict are)%s",
                   m->what, label, (unsigned long long)m->op_at, training_hint(m));
}

static int is_str(const val *v, const char *s) { return v->kind == V_STR && !strcmp(v->u.s, s); }

static int u48(const val *v) { return v->kind == V_INT && v->u.i >= 0 && (uint64_t)v->u.i <= ST_MAX_VALUE; }

/* BINPERSID: ("storage", <storage type>, key, location, numel) -> a storage tag. */
static sc_status op_persid(vm *m)
{
    val *pid = NULL;
    sc_status s = pop(m, &pid);
    if (s) return s;
    const val *const *it = pid->kind == V_TUPLE ? (const val *const *)pid->u.items : NULL;
    if (!it || pid->n != 5 || !is_str(it[0], "storage"))
        return fail_at(m, "persistent id is not a ('storage', type, key, location, numel) tuple");
    if (it[1]->kind != V_GLOBAL || it[1]->u.g < G_FIRST_STORAGE)
        return fail_at(m, "persistent id's storage type is not a storage global");
    if (it[2]->kind != V_STR || it[3]->kind != V_STR)
        return fail_at(m, "persistent id's key and location must be strings");
    if (!u48(it[4])) return fail_at(m, "persistent id's element count is not an integer in [0, 2^48-1]");
    storage *st = arena_alloc(m, sizeof *st);
    val *v = st ? new_val(m, V_STORAGE) : NULL;
    if (!v) return no_memory(m);
    st->dtype = k_globals[it[1]->u.g].dtype;
    st->key = it[2]->u.s;
    st->numel = (uint64_t)it[4]->u.i;
    v->u.st = st;
    return push(m, v);
}

static int empty_ordered_dict(const val *v) { return v->kind == V_DICT && v->ordered && v->n == 0; }

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]).
 * Types are checked here; offsets, strides and spans when the tensor gets its name. */
static sc_status rebuild_tensor(vm *m, const val *args, val **out)
{
    const val *const *a = (const val *const *)args->u.items;
    if (args->n != 6 && args->n != 7)
        return fail_at(m, "_rebuild_tensor_v2 takes 6 or 7 arguments");
    if (a[0]->kind != V_STORAGE) return fail_at(m, "_rebuild_tensor_v2: argument 1 is not a storage");
    if (!u48(a[1])) return fail_at(m, "_rebuild_tensor_v2: storage offset is not an integer in [0, 2^48-1]");
    if (a[2]->kind != V_TUPLE || a[3]->kind != V_TUPLE)
        return fail_at(m, "_rebuild_tensor_v2: size and stride must be tuples");
    if (a[2]->n > ST_MAX_RANK) return fail_at(m, "_rebuild_tensor_v2: rank above 8");
    if (a[3]->n != a[2]->n) return fail_at(m, "_rebuild_tensor_v2: size and stride differ in length");
    if (a[4]->kind != V_BOOL) return fail_at(m, "_rebuild_tensor_v2: requires_grad is not a bool");
    if (!empty_ordered_dict(a[5]))
        return fail_at(m, "_rebuild_tensor_v2: backward hooks must be an empty OrderedDict");
    if (args->n == 7 && a[6]->kind != V_DICT && a[6]->kind != V_NONE)
        return fail_at(m, "_rebuild_tensor_v2: metadata must be a dict");
    tensor *t = arena_alloc(m, sizeof *t);
    val *v = t ? new_val(m, V_TENSOR) : NULL;
    if (!v) return no_memory(m);
    memset(t, 0, sizeof *t);
    t->st = a[0]->u.st;
    t->offset = (uint64_t)a[1]->u.i;
    t->rank = (int)a[2]->n;
    for (int i = 0; i < t->rank; i++) {
        const val *d = a[2]->u.items[i], *st = a[3]->u.items[i];
        if (!u48(d)) return fail_at(m, "_rebuild_tensor_v2: a size is not an integer in [0, 2^48-1]");
        if (!u48(st)) return fail_at(m, "_rebuild_tensor_v2: a stride is not an integer in [0, 2^48-1]");
        t->shape[i] = (uint64_t)d->u.i;
        t->stride[i] = (uint64_t)st->u.i;
    }
    v->u.t = t;
    *out = v;
    return SC_OK;
}

static sc_status op_reduce(vm *m)
{
    val *args = NULL, *fn = NULL, *res = NULL;
    sc_status s = pop(m, &args);
    if (!s) s = pop(m, &fn);
    if (s) return s;
    if (fn->kind != V_GLOBAL) return fail_at(m, "REDUCE of something that is not an allowed global");
    if (args->kind != V_TUPLE) return fail_at(m, "REDUCE arguments are not a tuple");
    switch (fn->u.g) {
    case G_ORDERED_DICT:
        if (args->n != 0) return fail_at(m, "OrderedDict called with arguments");
        res = new_val(m, V_DICT);
        if (res) res->ordered = 1;
        break;
    case G_REBUILD_TENSOR_V2:
        if ((s = rebuild_tensor(m, args, &res))) return s;
        break;
    case G_REBUILD_PARAMETER:
        if (args->n != 3 || args->u.items[0]->kind != V_TENSOR || args->u.items[1]->kind != V_BOOL ||
            !empty_ordered_dict(args->u.items[2]))
            return fail_at(m, "_rebuild_parameter takes (tensor, requires_grad, empty OrderedDict)");
        res = args->u.items[0];
        break;
    default: {
        char label[160];
        global_label((const uint8_t *)k_globals[fn->u.g].module_name, strlen(k_globals[fn->u.g].module_name), label,
                     sizeof label);
        return err_fail(SC_ERR_FORMAT, "%s: global '%s' called at offset %llu (a storage type only tags a persistent id)",
                       m->what, label, (unsigned long long)m->op_at);
    }
    }
    return push(m, res);
}

static sc_status op_setitems(vm *m, int many)
{
    uint32_t first = 0;
    sc_status s = SC_OK;
    if (many) s = pop_mark(m, &first);
    else if (m->sp - floor_sp(m) < 2) s = fail_at(m, "pickle stack underflow");
    else first = m->sp - 2;
    if (s) return s;
    if ((m->sp - first) % 2) return fail_at(m, "SETITEMS with an odd number of items");
    if (first == floor_sp(m)) return fail_at(m, "pickle stack underflow");
    val *d = m->stack[first - 1];
    if (d->kind != V_DICT) return fail_at(m, "SETITEM(S) on something that is not a dict");
    s = append_items(m, d, m->stack + first, m->sp - first);
    m->sp = first;
    return s;
}

static sc_status op_appends(vm *m, int many)
{
    uint32_t first = 0;
    sc_status s = SC_OK;
    if (many) s = pop_mark(m, &first);
    else if (m->sp == floor_sp(m)) s = fail_at(m, "pickle stack underflow");
    else first = m->sp - 1;
    if (s) return s;
    if (first == floor_sp(m)) return fail_at(m, "pickle stack underflow");
    val *l = m->stack[first - 1];
    if (l->kind != V_LIST) return fail_at(m, "APPEND(S) on something that is not a list");
    s = append_items(m, l, m->stack + first, m->sp - first);
    m->sp = first;
    return s;
}

static sc_status op_build(vm *m)
{
    val *state = NULL, *obj = NULL;
    sc_status s = pop(m, &state);
    if (!s) s = top(m, &obj);
    if (s) return s;
    if (obj->kind != V_DICT || !obj->ordered) return fail_at(m, "BUILD on something that is not an OrderedDict");
    return SC_OK; /* an OrderedDict's state (the state dict's _metadata) is ignored */
}

static sc_status op_put(vm *m, uint64_t idx)
{
    val *v = NULL;
    sc_status s = top(m, &v);
    if (s) return s;
    if (idx >= PK_MAX_MEMO)
        return err_fail(SC_ERR_FORMAT, "%s: memo index %llu at offset %llu (at most %u)", m->what,
                       (unsigned long long)idx, (unsigned long long)m->op_at, PK_MAX_MEMO - 1);
    if (idx >= m->memo_cap) {
        uint32_t cap = m->memo_cap ? m->memo_cap : 256;
        while (cap <= idx) cap *= 2;
        val **nm = realloc(m->memo, cap * sizeof *nm);
        if (!nm) return no_memory(m);
        memset(nm + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *nm);
        m->memo = nm;
        m->memo_cap = cap;
    }
    m->memo[idx] = v;
    return SC_OK;
}

static sc_status op_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return err_fail(SC_ERR_FORMAT, "%s: BINGET of memo index %llu at offset %llu, which was never stored", m->what,
                       (unsigned long long)idx, (unsigned long long)m->op_at);
    return push(m, m->memo[idx]);
}

/* Runs opcodes until STOP; *result is the one value left. */
static sc_status run(vm *m, val **result)
{
    sc_status s;
    if (m->n < 2 || m->b[0] != 0x80)
        return err_fail(SC_ERR_FORMAT, "%s: not a protocol-2 pickle (it does not start with PROTO)", m->what);
    if (m->b[1] != 2)
        return err_fail(SC_ERR_FORMAT, "%s: pickle protocol %d; only protocol 2 (torch.save's default) is supported: "
                       "re-save with torch.save(..., pickle_protocol=2) or convert to safetensors", m->what, m->b[1]);
    m->pos = 2;
    while (m->pos < m->n) {
        m->op_at = m->pos;
        uint8_t op = m->b[m->pos++];
        val *v = NULL;
        uint64_t u;
        s = SC_OK;
        switch (op) {
        case '(': /* MARK */
            if (m->n_marks == PK_MAX_NESTING)
                return err_fail(SC_ERR_FORMAT, "%s: MARKs nested deeper than %d at offset %llu", m->what,
                               PK_MAX_NESTING, (unsigned long long)m->op_at);
            m->marks[m->n_marks++] = m->sp;
            break;
        case '.': /* STOP */
            if (m->n_marks || m->sp != 1) return fail_at(m, "STOP with an unbalanced stack");
            if (m->pos != m->n)
                return err_fail(SC_ERR_FORMAT, "%s: %llu bytes after STOP at offset %llu", m->what,
                               (unsigned long long)(m->n - m->pos), (unsigned long long)m->op_at);
            *result = m->stack[0];
            return SC_OK;
        case 'N': s = push(m, new_val(m, V_NONE)); break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            if ((v = new_val(m, V_BOOL))) v->u.i = op == 0x88;
            s = push(m, v);
            break;
        case 'K': /* BININT1 */
            if (!(s = operand(m, 1, &u))) s = op_int(m, (int64_t)u);
            break;
        case 'M': /* BININT2 */
            if (!(s = operand(m, 2, &u))) s = op_int(m, (int64_t)u);
            break;
        case 'J': /* BININT: signed 32-bit */
            if (!(s = operand(m, 4, &u))) s = op_int(m, (int32_t)(uint32_t)u);
            break;
        case 0x8a: s = op_long1(m); break;
        case 'G': /* BINFLOAT: big-endian double; the value is never used */
            if (!(s = operand(m, 8, &u))) s = push(m, new_val(m, V_FLOAT));
            break;
        case 'X': s = op_binunicode(m); break;
        case ')': s = make_tuple(m, m->sp); break;
        case 't': {
            uint32_t first = 0;
            if (!(s = pop_mark(m, &first))) s = make_tuple(m, first);
            break;
        }
        case 0x85: s = op_tuple_n(m, 1); break;
        case 0x86: s = op_tuple_n(m, 2); break;
        case 0x87: s = op_tuple_n(m, 3); break;
        case '}': s = push(m, new_val(m, V_DICT)); break;
        case ']': s = push(m, new_val(m, V_LIST)); break;
        case 's': s = op_setitems(m, 0); break;
        case 'u': s = op_setitems(m, 1); break;
        case 'a': s = op_appends(m, 0); break;
        case 'e': s = op_appends(m, 1); break;
        case 'b': s = op_build(m); break;
        case 'c': s = op_global(m); break;
        case 'R': s = op_reduce(m); break;
        case 'Q': s = op_persid(m); break;
        case 'q': /* BINPUT */
            if (!(s = operand(m, 1, &u))) s = op_put(m, u);
            break;
        case 'r': /* LONG_BINPUT */
            if (!(s = operand(m, 4, &u))) s = op_put(m, u);
            break;
        case 'h': /* BINGET */
            if (!(s = operand(m, 1, &u))) s = op_get(m, u);
            break;
        case 'j': /* LONG_BINGET */
            if (!(s = operand(m, 4, &u))) s = op_get(m, u);
            break;
        case 0x80:
            return fail_at(m, "PROTO after the start of the pickle");
        default:
            return err_fail(SC_ERR_FORMAT, "%s: unsupported pickle opcode 0x%02x at offset %llu (only the protocol-2 "
                           "opcodes of a torch state dict are accepted)", m->what, op, (unsigned long long)m->op_at);
        }
        if (s) return s;
    }
    return err_fail(SC_ERR_FORMAT, "%s: truncated pickle: no STOP opcode", m->what);
}

/* ------------------------------------------------------------------ the state dict */

static const val *dict_get(const val *d, const char *key, int *count)
{
    const val *found = NULL;
    *count = 0;
    for (uint32_t i = 0; i < d->n; i++)
        if (is_str(d->u.items[2 * i], key)) {
            found = d->u.items[2 * i + 1];
            (*count)++;
        }
    return found;
}

/* Index of the first entry that is not str -> tensor, or d->n. */
static uint32_t first_non_tensor(const val *d)
{
    for (uint32_t i = 0; i < d->n; i++)
        if (d->u.items[2 * i]->kind != V_STR || d->u.items[2 * i + 1]->kind != V_TENSOR) return i;
    return d->n;
}

/* The dict of tensors: the top level, or under "ema", "model" or "state_dict" (two levels at most). */
static sc_status select_state_dict(const vm *m, const val *root, const val **out, const char **key)
{
    static const char *const k_keys[] = {"ema", "model", "state_dict"};
    const val *d = root;
    *key = "";
    for (int level = 0;; level++) {
        if (d->kind != V_DICT)
            return err_fail(SC_ERR_FORMAT, "%s: %s%s%s (%s) is not a dict of tensors", m->what,
                           level ? "entry \"" : "the pickle's result", level ? *key : "", level ? "\"" : "",
                           k_kind_names[d->kind]);
        uint32_t bad = first_non_tensor(d);
        if (bad == d->n) break;
        const val *next = NULL;
        for (size_t k = 0; k < sizeof k_keys / sizeof *k_keys && !next && level < 2; k++) {
            int count;
            next = dict_get(d, k_keys[k], &count);
            if (count > 1)
                return err_fail(SC_ERR_FORMAT, "%s: key \"%s\" appears %d times", m->what, k_keys[k], count);
            if (next) *key = k_keys[k];
        }
        if (!next) {
            const val *k = d->u.items[2 * bad], *v = d->u.items[2 * bad + 1];
            if (k->kind != V_STR)
                return err_fail(SC_ERR_FORMAT, "%s: a key of kind %s (offset %llu) in a dict of tensors", m->what,
                               k_kind_names[k->kind], (unsigned long long)k->at);
            return err_fail(SC_ERR_FORMAT, "%s: entry \"%.200s\" (%s) is not a tensor (expected a state dict, possibly "
                           "under \"ema\", \"model\" or \"state_dict\")", m->what, k->u.s, k_kind_names[v->kind]);
        }
        d = next;
    }
    *out = d;
    return SC_OK;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp(((const pk_tensor *)a)->name, ((const pk_tensor *)b)->name);
}

/* Offset, strides and span of one named tensor (docs/FORMATS.md, "Weight files": _rebuild_tensor_v2). */
static sc_status check_tensor(const vm *m, const char *name, const val *v, pk_tensor *out)
{
    const tensor *t = v->u.t;
    out->name = name;
    out->storage_key = t->st->key;
    out->dtype = t->st->dtype;
    out->storage_numel = t->st->numel;
    out->storage_offset = t->offset;
    out->rank = t->rank;
    out->at = v->at;
    memcpy(out->shape, t->shape, sizeof out->shape);
    if (!ck_prod(t->shape, t->rank, &out->numel))
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" (offset %llu): element count overflows", m->what, name,
                       (unsigned long long)v->at);
    if (out->numel == 0) {
        if (t->offset > t->st->numel)
            return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" (offset %llu): storage offset %llu is past its storage of %llu elements",
                           m->what, name, (unsigned long long)v->at, (unsigned long long)t->offset,
                           (unsigned long long)t->st->numel);
        return SC_OK;
    }
    uint64_t last = t->offset, expect = 1, step;
    for (int i = 0; i < t->rank; i++)
        if (!ck_mul(t->shape[i] - 1, t->stride[i], &step) || !ck_add(last, step, &last))
            return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" (offset %llu): strides overflow", m->what, name,
                           (unsigned long long)v->at);
    if (last >= t->st->numel)
        return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\" (offset %llu): reaches element %llu of a storage of %llu elements",
                       m->what, name, (unsigned long long)v->at, (unsigned long long)last, (unsigned long long)t->st->numel);
    for (int i = t->rank - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect)
            return err_fail(SC_ERR_UNSUPPORTED, "%s: tensor \"%s\" (offset %llu) is not contiguous (dimension %d has stride %llu, "
                           "expected %llu): save it with .contiguous() or convert to safetensors", m->what, name,
                           (unsigned long long)v->at, i, (unsigned long long)t->stride[i], (unsigned long long)expect);
        if (!ck_mul(expect, t->shape[i], &expect)) /* cannot fail: a factor of numel */
            return err_fail(SC_ERR_FORMAT, "%s: tensor \"%s\": element count overflows", m->what, name);
    }
    return SC_OK;
}

static sc_status extract(vm *m, const val *root, pk_state_dict *sd)
{
    const val *d = NULL;
    const char *key;
    sc_status s = select_state_dict(m, root, &d, &key);
    if (s) return s;
    sd->selected = strdup(key);
    sd->tensors = calloc(d->n ? d->n : 1, sizeof *sd->tensors);
    if (!sd->selected || !sd->tensors) return err_fail(SC_ERR_NOMEM, "%s: out of memory", m->what);
    for (uint32_t i = 0; i < d->n; i++) {
        if ((s = check_tensor(m, d->u.items[2 * i]->u.s, d->u.items[2 * i + 1], &sd->tensors[i]))) return s;
        sd->n++;
    }
    qsort(sd->tensors, sd->n, sizeof *sd->tensors, cmp_tensor_name);
    for (size_t i = 1; i < sd->n; i++)
        if (!strcmp(sd->tensors[i - 1].name, sd->tensors[i].name))
            return err_fail(SC_ERR_FORMAT, "%s: tensor name \"%s\" appears twice", m->what, sd->tensors[i].name);
    return SC_OK;
}

sc_status pk_load_state_dict(const uint8_t *bytes, uint64_t n, const char *what, pk_state_dict **out)
{
    *out = NULL;
    vm m = {.b = bytes, .n = n, .what = what};
    pk_state_dict *sd = calloc(1, sizeof *sd);
    if (!sd) return err_fail(SC_ERR_NOMEM, "%s: out of memory", what);
    val *root = NULL;
    sc_status s = run(&m, &root);
    if (!s) s = extract(&m, root, sd);
    free(m.stack);
    free(m.memo);
    sd->arena = m.arena;
    if (s) {
        pk_free(sd);
        return s;
    }
    *out = sd;
    return SC_OK;
}

void pk_free(pk_state_dict *d)
{
    if (!d) return;
    free(d->tensors);
    free(d->selected);
    arena_free(d->arena);
    free(d);
}

size_t pk_count(const pk_state_dict *d) { return d->n; }
const pk_tensor *pk_at(const pk_state_dict *d, size_t i) { return i < d->n ? &d->tensors[i] : NULL; }
const char *pk_selected(const pk_state_dict *d) { return d->selected; }
