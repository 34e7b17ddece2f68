#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

#include "core/ckmath.h"
#include "core/error.h"

void *sc_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    memset(p, 0, rounded);
    return p;
}

void *sc_alloc_array(size_t n, size_t size, const char *what)
{
    uint64_t bytes;
    void *p = NULL;
    if (ck_mul(n, size, &bytes) && bytes <= SIZE_MAX) p = sc_alloc((size_t)bytes);
    if (!p) sc_fail(SC_ERR_NOMEM, "out of memory allocating %s (%zu x %zu bytes)", what, n, size);
    return p;
}

void sc_free(void *p) { free(p); }
