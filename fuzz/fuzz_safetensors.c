/* libFuzzer target: the safetensors header and tensor table (st_parse), then every tensor read
 * as float32 the way the model loader does. Seeds: the files tests/test_safetensors.c writes. */
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f;
    if (st_parse(data, size, "fuzz", &f) != SC_OK) return 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const float *v;
        float *owned;
        if (st_to_f32(f, st_at(f, i), &v, &owned) == SC_OK) mem_free(owned);
    }
    st_close(f);
    return 0;
}
