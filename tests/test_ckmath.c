/* Overflow-checked size arithmetic at the edges (docs/RELIABILITY.md). */
#include "core/ckmath.h"
#include "harness.h"

TEST(ckmath_mul_detects_overflow_at_2_pow_64)
{
    uint64_t r;
    CHECK(ck_mul(1ull << 32, 1ull << 31, &r) && r == 1ull << 63);
    CHECK(!ck_mul(1ull << 32, 1ull << 32, &r));
    CHECK(!ck_mul(2, 9223372036854775807ull + 1, &r));
    CHECK(ck_mul(UINT64_MAX, 1, &r) && r == UINT64_MAX);
    CHECK(ck_mul(UINT64_MAX, 0, &r) && r == 0);
}

TEST(ckmath_add_detects_wraparound)
{
    uint64_t r;
    CHECK(ck_add(UINT64_MAX - 1, 1, &r) && r == UINT64_MAX);
    CHECK(!ck_add(UINT64_MAX, 1, &r));
    CHECK(!ck_add(8, UINT64_MAX - 7, &r));
}

TEST(ckmath_prod_handles_zero_dims_and_overflow)
{
    uint64_t r;
    uint64_t zero[3] = {4294967296ull, 0, 4294967296ull};
    CHECK(ck_prod(zero, 3, &r) && r == 0);
    uint64_t big[2] = {4294967296ull, 4294967296ull};
    CHECK(!ck_prod(big, 2, &r));
    uint64_t edge[2] = {2, 9223372036854775807ull};
    CHECK(ck_prod(edge, 2, &r) && r == 18446744073709551614ull);
    CHECK(ck_prod(NULL, 0, &r) && r == 1); /* a scalar has one element */
}
