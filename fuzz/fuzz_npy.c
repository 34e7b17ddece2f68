/* libFuzzer target: .npy arrays (--latents-in and fixtures). */
#include <stddef.h>
#include <stdint.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    if (npy_parse(data, size, "fuzz", &a) == SC_OK) npy_free(&a);
    return 0;
}
