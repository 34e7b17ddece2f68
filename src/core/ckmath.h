/* Overflow-checked size arithmetic. Every +, x and round-up on a value that came from a file
 * goes through these (docs/RELIABILITY.md; the GGUF CVE chain was one unchecked step after another).
 * Each returns 1 on success and 0 on overflow, leaving *r unspecified on overflow. */
#ifndef SC_CORE_CKMATH_H
#define SC_CORE_CKMATH_H

#include <stddef.h>
#include <stdint.h>

static inline int ck_add(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline int ck_mul(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* Product of n dims, each already known to be >= 0; 0 on overflow. A zero dim gives 0 (valid). */
static inline int ck_prod(const uint64_t *dims, int n, uint64_t *r)
{
    uint64_t p = 1;
    for (int i = 0; i < n; i++)
        if (!ck_mul(p, dims[i], &p)) return 0;
    *r = p;
    return 1;
}

/* a * b * c, as used for element counts of small fixed-rank shapes. */
static inline int ck_mul3(uint64_t a, uint64_t b, uint64_t c, uint64_t *r)
{
    return ck_mul(a, b, r) && ck_mul(*r, c, r);
}

/* Fits a checked 64-bit size into size_t (identity on 64-bit hosts, checked elsewhere). */
static inline int ck_to_size(uint64_t v, size_t *r)
{
    if (v > (uint64_t)SIZE_MAX) return 0;
    *r = (size_t)v;
    return 1;
}

#endif
