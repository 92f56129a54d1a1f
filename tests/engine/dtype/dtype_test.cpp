// fp16/bf16 conversion against exhaustive and hand-checked values.
#include "engine/dtype/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace meridian::engine {
namespace {

TEST(DType, Fp16RoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t bits = static_cast<uint16_t>(h);
    float f = Fp16ToFp32(bits);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(Fp16ToFp32(Fp32ToFp16(f))));
      continue;
    }
    EXPECT_EQ(Fp32ToFp16(f), bits) << "h=" << h;
  }
}

TEST(DType, Fp16RoundsToNearestEven) {
  EXPECT_EQ(Fp32ToFp16(1.0f), 0x3c00);
  EXPECT_EQ(Fp32ToFp16(65504.0f), 0x7bff);
  EXPECT_EQ(Fp32ToFp16(65520.0f), 0x7c00);  // halfway to the next: rounds to inf
  EXPECT_EQ(Fp32ToFp16(1.0f + 1.0f / 2048), 0x3c00);  // tie, even mantissa stays
  EXPECT_EQ(Fp32ToFp16(1.0f + 3.0f / 2048), 0x3c02);  // tie, odd mantissa rounds up
  EXPECT_EQ(Fp32ToFp16(5.9604645e-8f), 0x0001);       // smallest subnormal
  EXPECT_EQ(Fp32ToFp16(2.9802322e-8f), 0x0000);       // exactly half of it: ties to even (0)
  EXPECT_EQ(Fp32ToFp16(-2.0f), 0xc000);
}

TEST(DType, Bf16) {
  EXPECT_EQ(Fp32ToBf16(1.0f), 0x3f80);
  EXPECT_FLOAT_EQ(Bf16ToFp32(0x3f80), 1.0f);
  EXPECT_EQ(Fp32ToBf16(1.00390625f), 0x3f80);  // tie to even
  EXPECT_TRUE(std::isnan(Bf16ToFp32(Fp32ToBf16(NAN))));
}

TEST(DType, RowBytes) {
  EXPECT_EQ(*DTypeRowBytes(DType::kQ8_0, 64), 68u);
  EXPECT_FALSE(DTypeRowBytes(DType::kQ8_0, 33).has_value());
  EXPECT_EQ(*DTypeRowBytes(DType::kBF16, 3), 6u);
  EXPECT_EQ(DTypeFromGgmlId(30), DType::kBF16);
  EXPECT_FALSE(DTypeFromGgmlId(2).has_value());
}

}  // namespace
}  // namespace meridian::engine
