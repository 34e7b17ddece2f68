/* libFuzzer target for the torch.save reader (ZIP + restricted pickle + storage checks):
 * parses the input as an in-memory file and, when it is accepted, reads every tensor the way the
 * model loader does. Inputs that do not start with a ZIP signature also go straight to the
 * pickle reader, so the fuzzer reaches the VM without first building a valid archive.
 * Build with clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc, linking this file with
 * the sources of src/core and src/io (-ljansson -lm). Seeds: tests/fixtures/torch. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torchzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f;
    if (torch_parse(data, size, "fuzz", &f) == SC_OK) {
        for (size_t i = 0; i < st_count(f); i++) {
            const float *v;
            float *owned;
            if (st_to_f32(f, st_at(f, i), &v, &owned) == SC_OK) mem_free(owned);
        }
        st_close(f);
    }
    if (size < 2 || memcmp(data, "PK", 2) != 0) {
        pk_state_dict *d;
        if (pk_load_state_dict(data, size, "fuzz", &d) == SC_OK) pk_free(d);
    }
    return 0;
}
