/* Aligned allocation for activations and converted weights. Buffers are allocated once per
 * generation shape and reused: this VM charges ~12 us per first-touched page (measured: docs/ARCHITECTURE.md, "Memory"). */
#ifndef SC_CORE_MEM_H
#define SC_CORE_MEM_H

#include <stddef.h>

/* 64-byte aligned, zero-filled; NULL on failure (no message). Free with mem_free. */
void *mem_alloc(size_t bytes);
/* mem_alloc for n * size with an overflow check; NULL (with an SC_ERR_NOMEM message naming
 * `what`) on failure. */
void *mem_alloc_array(size_t n, size_t size, const char *what);
void mem_free(void *p);

#endif
