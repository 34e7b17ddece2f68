/* Aligned allocation for activations and converted weights. Buffers are allocated once per
 * generation shape and reused: this VM charges ~12 us per first-touched page (PERF.md 11). */
#ifndef SC_CORE_MEM_H
#define SC_CORE_MEM_H

#include <stddef.h>

/* 64-byte aligned, zero-filled; NULL on failure (no message). Free with sc_free. */
void *sc_alloc(size_t bytes);
/* sc_alloc for n * size with an overflow check; NULL (with an SC_ERR_NOMEM message naming
 * `what`) on failure. */
void *sc_alloc_array(size_t n, size_t size, const char *what);
void sc_free(void *p);

#endif
