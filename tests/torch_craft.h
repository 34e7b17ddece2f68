/* Hand-made torch.save files for the reader's tests, so `make test` needs no Python: a byte
 * buffer, pickle opcodes (protocol 2, as torch.save writes them) and a ZIP writer with the
 * knobs the reject cases need (method, flags, ZIP64 extra fields, a different local name). */
#ifndef SC_TEST_TORCH_CRAFT_H
#define SC_TEST_TORCH_CRAFT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *p;
    size_t n, cap;
} tbuf;

void tb_put(tbuf *b, const void *data, size_t n);
void tb_u8(tbuf *b, unsigned v);
void tb_u16(tbuf *b, unsigned v);
void tb_u32(tbuf *b, uint32_t v);
void tb_u64(tbuf *b, uint64_t v);
void tb_free(tbuf *b);

/* ---------------------------------------------------------------- pickle */

void tp_proto(tbuf *b);                                   /* \x80\x02 */
void tp_op(tbuf *b, unsigned op);
void tp_str(tbuf *b, const char *s);                      /* BINUNICODE */
void tp_int(tbuf *b, uint64_t v);                         /* BININT1/2, BININT or LONG1 */
void tp_global(tbuf *b, const char *module, const char *name);
/* REDUCE of torch._utils._rebuild_tensor_v2 over a storage ("FloatStorage"...). stride NULL =
 * contiguous. */
void tp_tensor(tbuf *b, const char *storage_type, const char *key, uint64_t storage_numel, uint64_t offset,
               int rank, const uint64_t *shape, const uint64_t *stride);
/* A whole pickle that, in Python, would call module.name(arg): GLOBAL, the argument, TUPLE1,
 * REDUCE, STOP. */
void tp_call(tbuf *b, const char *module, const char *name, const char *arg);
/* PROTO, EMPTY_DICT, MARK ... SETITEMS, STOP around name/value pairs the caller writes. */
void tp_dict_begin(tbuf *b);
void tp_dict_end(tbuf *b);

/* ---------------------------------------------------------------- zip */

typedef struct {
    const char *name;
    const void *data;
    size_t size;
    unsigned method, flags;   /* 0 for torch's stored entries */
    int zip64_extra;          /* sizes and local offset in a ZIP64 extra field (central) */
    const char *local_name;   /* name in the local header if not `name` */
    int align64;              /* pad the local extra field so data starts on 64 bytes, as torch does */
} tz_entry;

/* Writes a ZIP with ZIP64 end record + locator (as torch does) into b. */
void tz_build(tbuf *b, const tz_entry *e, int n);

/* A torch.save-like file: <prefix>/data.pkl = pickle, <prefix>/byteorder (if non-NULL), and
 * <prefix>/data/<key> for each storage. Returns test_path(name). */
typedef struct {
    const char *key;
    const void *data;
    size_t size;
} tz_storage;
const char *tz_torch_file(const char *name, const char *prefix, const tbuf *pickle, const char *byteorder,
                          const tz_storage *st, int n_st);

#endif
