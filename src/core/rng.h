/* The engine's random generator: xoshiro256** seeded by splitmix64, Box-Muller normals.
 * Exact specification in docs/NUMERICS.md (the Python reference tool replays it bit for bit). */
#ifndef SC_CORE_RNG_H
#define SC_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    float spare;     /* second value of the last Box-Muller pair */
    int has_spare;
} rng_state;

#define RNG_NOISE_STREAM 0xD1B54A32D192ED03ull /* xored into a sample's seed: its sampler noise */
#define RNG_CLASS_STREAM 0x243F6A8885A308D3ull /* xored into the seed: the classes `sample` draws */

void rng_seed(rng_state *r, uint64_t seed);
uint64_t rng_next(rng_state *r);
/* Fills out[0..n) with standard normal float32 values. */
void rng_normal(rng_state *r, float *out, size_t n);

#endif
