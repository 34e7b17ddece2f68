#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(rng_state *r, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&s);
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint64_t rng_next(rng_state *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void rng_normal(rng_state *r, float *out, size_t n)
{
    const double two_pi = 6.283185307179586476925286766559;
    size_t i = 0;
    if (n > 0 && r->has_spare) {
        out[i++] = r->spare;
        r->has_spare = 0;
    }
    while (i < n) {
        double u1 = (double)((rng_next(r) >> 11) + 1) * 0x1.0p-53;
        double u2 = (double)(rng_next(r) >> 11) * 0x1.0p-53;
        double rad = sqrt(-2.0 * log(u1));
        out[i++] = (float)(rad * cos(two_pi * u2));
        float second = (float)(rad * sin(two_pi * u2));
        if (i < n) out[i++] = second;
        else { r->spare = second; r->has_spare = 1; }
    }
}
