/* Half and bfloat16 conversion, including subnormals, infinities and NaN. */
#include "core/half.h"
#include "harness.h"

TEST(half_to_float_is_exact_on_special_and_subnormal_values)
{
    CHECK(half_to_float(0x3c00) == 1.0f);
    CHECK(half_to_float(0xc000) == -2.0f);
    CHECK(half_to_float(0x7bff) == 65504.0f);
    CHECK(half_to_float(0x0001) == 0x1p-24f);   /* smallest subnormal */
    CHECK(half_to_float(0x03ff) == 0x3ffp-24f); /* largest subnormal */
    CHECK(half_to_float(0x0400) == 0x1p-14f);   /* smallest normal */
    CHECK(isinf(half_to_float(0x7c00)) && half_to_float(0xfc00) < 0);
    CHECK(isnan(half_to_float(0x7e00)));
    CHECK(signbit(half_to_float(0x8000)) && half_to_float(0x8000) == 0.0f);
    CHECK(bf16_to_float(0x3f80) == 1.0f && bf16_to_float(0x4040) == 3.0f);
}
