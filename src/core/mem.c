#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/ckmath.h"
#include "core/error.h"

void *mem_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    /* Buffers of 8 MB and more (weights, activations, cache histories) are aligned to 2 MB and
     * asked to be backed by huge pages (one fault per 2 MB instead of per 4 KB where the kernel
     * has them), and first touched from every thread: zeroing fresh memory is page-fault bound
     * (about 2 ms per MB from one thread in the development VM). */
    const size_t huge = (size_t)2 << 20;
    const int big = rounded >= 4 * huge;
    if (posix_memalign(&p, big ? huge : 64, rounded) != 0) return NULL;
    if (big) {
#ifdef MADV_HUGEPAGE
        (void)madvise(p, rounded & ~(huge - 1), MADV_HUGEPAGE);
#endif
        const size_t chunks = (rounded + huge - 1) / huge;
        #pragma omp parallel for schedule(static)
        for (size_t i = 0; i < chunks; i++) {
            const size_t off = i * huge, len = rounded - off < huge ? rounded - off : huge;
            memset((char *)p + off, 0, len);
        }
    } else {
        memset(p, 0, rounded);
    }
    return p;
}

void *mem_alloc_array(size_t n, size_t size, const char *what)
{
    uint64_t bytes;
    void *p = NULL;
    if (ck_mul(n, size, &bytes) && bytes <= SIZE_MAX) p = mem_alloc((size_t)bytes);
    if (!p) err_fail(SC_ERR_NOMEM, "out of memory allocating %s (%zu x %zu bytes)", what, n, size);
    return p;
}

void mem_free(void *p) { free(p); }
