/* IEEE half and bfloat16 to float32, exact, and float32 to bfloat16 rounded to nearest even, by
 * bit manipulation (portable to compilers without _Float16). */
#ifndef SC_CORE_HALF_H
#define SC_CORE_HALF_H

#include <stdint.h>
#include <string.h>

static inline float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, f;
    if (exp == 0) {
        if (man == 0) {
            f = sign;
        } else { /* subnormal: renormalise */
            exp = 113;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            f = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        f = sign | 0x7f800000u | man << 13; /* Inf / NaN */
    } else {
        f = sign | (exp + 112) << 23 | man << 13;
    }
    float out;
    memcpy(&out, &f, 4);
    return out;
}

static inline float bf16_to_float(uint16_t b)
{
    uint32_t f = (uint32_t)b << 16;
    float out;
    memcpy(&out, &f, 4);
    return out;
}

/* float32 -> bfloat16, round to nearest, ties to even (as PyTorch's .to(torch.bfloat16)); a NaN
 * stays a (quiet) NaN. */
static inline uint16_t float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
