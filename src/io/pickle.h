/* A restricted pickle reader for torch.save's data.pkl (docs/FORMATS.md, "Weight files"; docs/RELIABILITY.md).
 *
 * It is a stack machine that BUILDS VALUES AND NEVER CALLS ANYTHING. In Python, GLOBAL imports
 * any callable and REDUCE calls it (`os.system`), so a checkpoint can run arbitrary code; here a
 * global is only a tag, matched as an exact string against an allow-list:
 *     collections.OrderedDict              REDUCE with () -> an empty ordered dict
 *     torch._utils._rebuild_tensor_v2      REDUCE -> a tensor record (validated, nothing read)
 *     torch._utils._rebuild_parameter      REDUCE -> the tensor it wraps
 *     torch.{Float,Half,BFloat16,Double}Storage   only inside a persistent id
 * Any other global is refused at its offset, with its name. Only the protocol-2 opcodes a state
 * dict uses are accepted; anything else is "opcode 0xNN at offset K". Stack, memo, strings,
 * nesting, object count and memory are capped.
 *
 * The result must be a dict of str -> tensor, possibly under "ema", "model" or "state_dict"
 * (train.py checkpoints: "ema" is taken). Tensors are records: which storage (key, dtype, numel
 * from the persistent id), the element offset into it, and the shape. Strides must be
 * contiguous and the span must fit the declared storage; the caller checks the storage bytes.
 */
#ifndef SC_IO_PICKLE_H
#define SC_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "smoothcache.h"

#define PK_MAX_STACK (1u << 20)
#define PK_MAX_MEMO (1u << 20)
#define PK_MAX_STRING (1u << 20)
#define PK_MAX_OBJECTS (1u << 22)
#define PK_MAX_NESTING 64
#define PK_MAX_MEMORY (512ull << 20)

typedef struct {
    const char *name;          /* key in the state dict */
    const char *storage_key;   /* the persistent id's key: the archive holds data/<key> */
    st_dtype dtype;            /* from the storage type */
    uint64_t storage_numel;    /* elements, as declared in the persistent id */
    uint64_t storage_offset;   /* elements */
    int rank;
    uint64_t shape[ST_MAX_RANK];
    uint64_t numel;
    uint64_t at;               /* offset in the pickle where the tensor was built */
} pk_tensor;

typedef struct pk_state_dict pk_state_dict;

/* Runs the pickle in bytes[0, n) and extracts the state dict. `what` names the pickle in errors
 * (e.g. "model.pt: archive/data.pkl"). */
sc_status pk_load_state_dict(const uint8_t *bytes, uint64_t n, const char *what, pk_state_dict **out);
void pk_free(pk_state_dict *d);

size_t pk_count(const pk_state_dict *d);
const pk_tensor *pk_at(const pk_state_dict *d, size_t i); /* in name order */
/* The key the tensors were found under ("ema", "model", "state_dict"), or "" for the top level. */
const char *pk_selected(const pk_state_dict *d);

#endif
