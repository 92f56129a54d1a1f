// Q8_0 quantization: the reference against hand-computed GGML results, every ISA bit-identical to
// it (ties included), the round-trip error bound, and DequantizeRow for every dtype.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"
#include "kernels_test_util.h"

namespace meridian::engine::cpu {
namespace {

using testing::IsaGuard;
using testing::RandomFloats;

TEST(QuantizeReference, MatchesGgmlOnAHandComputedBlock) {
  // amax = 2.54 -> d = 0.02, id = 50; x * id rounds half away from zero.
  std::vector<float> x(32, 0.0f);
  x[0] = 2.54f;   // 127
  x[1] = -2.54f;  // -127
  x[2] = 0.01f;   // 0.5 -> 1 (half away from zero, not to even)
  x[3] = -0.01f;  // -0.5 -> -1
  x[4] = 0.03f;   // 1.5 -> 2
  x[5] = 1.0f;    // 50
  x[6] = 0.004f;  // 0.2 -> 0
  BlockQ8_0 b;
  QuantizeRowQ8_0(x.data(), &b, 32);
  const float d = 2.54f / 127.0f;
  EXPECT_EQ(b.d, Fp32ToFp16(d));
  const float id = 1.0f / d;
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], static_cast<int8_t>(std::roundf(x[j] * id))) << j;
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -127);
  EXPECT_EQ(b.qs[5], 50);
  EXPECT_EQ(b.qs[6], 0);
}

TEST(QuantizeReference, AllZeroBlockHasZeroScale) {
  std::vector<float> x(64, 0.0f);
  x[40] = 3.0f;  // only the second block is non-zero
  BlockQ8_0 b[2];
  QuantizeRowQ8_0(x.data(), b, 64);
  EXPECT_EQ(b[0].d, 0);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b[0].qs[j], 0);
  EXPECT_EQ(b[1].qs[8], 127);
}

// Values whose x * id lands exactly on .5: only round-half-away-from-zero gets them right.
std::vector<float> TieHeavyRow(int64_t k) {
  std::vector<float> x(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    const int64_t j = i % 32;
    // amax 127 (d = 1, id = 1) and halves in between.
    x[static_cast<size_t>(i)] =
        j == 0 ? 127.0f : (static_cast<float>(j) - 16.0f) + ((i / 32) % 2 ? 0.5f : -0.5f);
  }
  return x;
}

class QuantizeIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(QuantizeIsa, MatrixQuantizationIsBitIdenticalToTheReference) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool pool(3);
  for (int64_t k : {32, 96, 2048}) {
    const int64_t rows = 5;
    std::vector<float> x = RandomFloats(static_cast<size_t>(rows * k), 7 + static_cast<uint32_t>(k));
    // Rows of different magnitude, a tie-heavy row and a row of tiny values.
    for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(k + c)] *= 300.0f;
    std::vector<float> ties = TieHeavyRow(k);
    std::copy(ties.begin(), ties.end(), x.begin() + 2 * k);
    for (int64_t c = 0; c < k; ++c) x[static_cast<size_t>(3 * k + c)] *= 1e-30f;
    const int64_t nb = k / 32;
    std::vector<BlockQ8_0> fast(static_cast<size_t>(rows * nb)), ref(static_cast<size_t>(rows * nb));
    WeightTensor src{DType::kF32, rows, k, x.data()};
    QuantizeMatrixQ8_0(src, fast.data(), &pool);
    for (int64_t r = 0; r < rows; ++r) QuantizeRowQ8_0(x.data() + r * k, ref.data() + r * nb, k);
    ASSERT_EQ(std::memcmp(fast.data(), ref.data(), fast.size() * sizeof(BlockQ8_0)), 0) << "k=" << k;
  }
}

TEST_P(QuantizeIsa, QuantizesF16AndBf16Sources) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  const int64_t rows = 3, k = 160;
  std::vector<float> x = RandomFloats(static_cast<size_t>(rows * k), 11);
  for (DType dt : {DType::kF16, DType::kBF16}) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = dt == DType::kF16 ? Fp32ToFp16(x[i]) : Fp32ToBf16(x[i]);
    std::vector<float> widened(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      widened[i] = dt == DType::kF16 ? Fp16ToFp32(h[i]) : Bf16ToFp32(h[i]);
    std::vector<BlockQ8_0> fast(static_cast<size_t>(rows * k / 32)), ref(fast.size());
    QuantizeMatrixQ8_0(WeightTensor{dt, rows, k, h.data()}, fast.data(), nullptr);
    QuantizeRowQ8_0(widened.data(), ref.data(), rows * k);
    EXPECT_EQ(std::memcmp(fast.data(), ref.data(), fast.size() * sizeof(BlockQ8_0)), 0) << DTypeName(dt);
  }
}

TEST_P(QuantizeIsa, RoundTripErrorIsAtMostHalfAStep) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  const int64_t k = 4096;
  std::vector<float> x = RandomFloats(static_cast<size_t>(k), 3, 5.0f);
  std::vector<BlockQ8_0> q(static_cast<size_t>(k / 32));
  QuantizeMatrixQ8_0(WeightTensor{DType::kF32, 1, k, x.data()}, q.data(), nullptr);
  std::vector<float> back(static_cast<size_t>(k));
  DequantizeRow(DType::kQ8_0, q.data(), back.data(), k);
  for (int64_t i = 0; i < k; ++i) {
    const BlockQ8_0& b = q[static_cast<size_t>(i / 32)];
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[static_cast<size_t>(i / 32 * 32 + j)]));
    // Half a quantization step (amax / 127 / 2), plus the fp16 rounding of the scale applied to
    // the largest code (127 * d * 2^-11), plus float rounding of x * (1 / d) (a few ulp of 127).
    const float d = Fp16ToFp32(b.d);
    const float bound = 0.5f * amax / 127.0f + 127.0f * d * std::ldexp(1.0f, -11) + amax * 1e-6f;
    ASSERT_LE(std::fabs(back[static_cast<size_t>(i)] - x[static_cast<size_t>(i)]), bound) << "element " << i;
  }
}

TEST_P(QuantizeIsa, DequantizeRowMatchesScalarConversions) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  for (int64_t k : {32, 33, 100, 2048}) {
    std::vector<float> x = RandomFloats(static_cast<size_t>(k), 5 + static_cast<uint32_t>(k), 3.0f);
    std::vector<float> out(static_cast<size_t>(k));
    DequantizeRow(DType::kF32, x.data(), out.data(), k);
    EXPECT_EQ(out, x);
    std::vector<uint16_t> h(static_cast<size_t>(k)), b(static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) {
      h[static_cast<size_t>(i)] = Fp32ToFp16(x[static_cast<size_t>(i)]);
      b[static_cast<size_t>(i)] = Fp32ToBf16(x[static_cast<size_t>(i)]);
    }
    DequantizeRow(DType::kF16, h.data(), out.data(), k);
    for (int64_t i = 0; i < k; ++i)
      ASSERT_EQ(out[static_cast<size_t>(i)], Fp16ToFp32(h[static_cast<size_t>(i)]));
    DequantizeRow(DType::kBF16, b.data(), out.data(), k);
    for (int64_t i = 0; i < k; ++i)
      ASSERT_EQ(out[static_cast<size_t>(i)], Bf16ToFp32(b[static_cast<size_t>(i)]));
    if (k % 32 != 0) continue;
    std::vector<BlockQ8_0> q(static_cast<size_t>(k / 32));
    QuantizeRowQ8_0(x.data(), q.data(), k);
    q[0].qs[3] = -128;  // legal in a file even though GGML never writes it
    DequantizeRow(DType::kQ8_0, q.data(), out.data(), k);
    for (int64_t i = 0; i < k; ++i) {
      const BlockQ8_0& blk = q[static_cast<size_t>(i / 32)];
      ASSERT_EQ(out[static_cast<size_t>(i)], Fp16ToFp32(blk.d) * blk.qs[i % 32]) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, QuantizeIsa, ::testing::ValuesIn(testing::kAllIsas), testing::IsaParamName);

}  // namespace
}  // namespace meridian::engine::cpu
