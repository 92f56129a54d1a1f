// MatMul against MatMulReference for every ISA, dtype and awkward shape; Q8_0 against the plain
// float product of the dequantized operands; thread-count independence; packed Q8_0 weights.
//
// Tolerance: recursive float summation of n terms errs by at most (n - 1) * u * sum|terms|
// (Higham, u = 2^-24). Each output sums at most k products (fewer for Q8_0: one term per block,
// each exact in int32 then scaled once), and the reference sums in double, so
// |y - ref| <= k * 2^-24 * sum_i |w_i * x_i|. Wrong indexing, a dropped block or a bad scale
// errs by a sizeable fraction of sum|w * x|, far above that bound.
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

constexpr float kSentinel = 12345.0f;

// A weight matrix in `dtype` made from random floats; rows get different magnitudes.
struct Weights {
  std::vector<uint8_t> bytes;
  WeightTensor w;
  std::vector<float> dequantized;  // the exact values the kernels see, row-major [rows, k]
};

Weights MakeWeights(DType dtype, int64_t rows, int64_t k, uint32_t seed) {
  std::vector<float> f = RandomFloats(static_cast<size_t>(rows * k), seed);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; ++c) f[static_cast<size_t>(r * k + c)] *= 0.25f + static_cast<float>(r % 5);
  Weights out;
  out.w = WeightTensor{dtype, rows, k, nullptr};
  out.bytes.resize(out.w.n_bytes());
  const uint64_t row_bytes = out.w.row_bytes();
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = f.data() + r * k;
    uint8_t* dst = out.bytes.data() + r * row_bytes;
    for (int64_t c = 0; c < k; ++c) {
      if (dtype == DType::kF32) std::memcpy(dst + 4 * c, &src[c], 4);
      if (dtype == DType::kF16 || dtype == DType::kBF16) {
        const uint16_t h = dtype == DType::kF16 ? Fp32ToFp16(src[c]) : Fp32ToBf16(src[c]);
        std::memcpy(dst + 2 * c, &h, 2);
      }
    }
    if (dtype == DType::kQ8_0) {
      auto* blocks = reinterpret_cast<BlockQ8_0*>(dst);
      QuantizeRowQ8_0(src, blocks, k);
      blocks[0].qs[r % 32] = -128;  // legal in a file: exercises the sign-trick corner
    }
  }
  out.w.data = out.bytes.data();
  out.dequantized.resize(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRow(dtype, out.bytes.data() + r * row_bytes, out.dequantized.data() + r * k, k);
  }
  return out;
}

// x as the kernels see it: the Q8_0 round trip of each row for Q8_0 weights, else x itself.
std::vector<float> EffectiveActivations(DType dtype, const std::vector<float>& x, int64_t m, int64_t k) {
  if (dtype != DType::kQ8_0) return x;
  std::vector<float> out(x.size());
  std::vector<BlockQ8_0> q(static_cast<size_t>(k / 32));
  for (int64_t i = 0; i < m; ++i) {
    QuantizeRowQ8_0(x.data() + i * k, q.data(), k);
    DequantizeRow(DType::kQ8_0, q.data(), out.data() + i * k, k);
  }
  return out;
}

// sum_c |w[r, c] * x[i, c]| for every (i, r): the magnitude the tolerance scales with.
std::vector<double> AbsDots(const Weights& w, const std::vector<float>& x, int64_t m) {
  const int64_t k = w.w.cols, rows = w.w.rows;
  std::vector<double> out(static_cast<size_t>(m * rows));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (int64_t c = 0; c < k; ++c)
        s += std::fabs(static_cast<double>(w.dequantized[static_cast<size_t>(r * k + c)]) *
                       x[static_cast<size_t>(i * k + c)]);
      out[static_cast<size_t>(i * rows + r)] = s;
    }
  return out;
}

struct Shape {
  int64_t rows;
  int64_t k;
};

// Shapes with rows not a multiple of any tile or thread count, and k from one block to 4096.
const Shape kShapes[] = {{1, 32}, {7, 96}, {13, 288}, {37, 1024}, {5, 4096}};
// m covering every narrow tile size and the wide slabs of both ISAs (8 and 16 rows) with tails.
const int64_t kMs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17, 21, 24, 33};
const DType kDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0};

class MatMulIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(MatMulIsa, MatchesReferenceForAllDtypesAndShapes) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool one(1), three(3);
  uint32_t seed = 100;
  for (DType dtype : kDTypes) {
    for (const Shape& s : kShapes) {
      const Weights w = MakeWeights(dtype, s.rows, s.k, ++seed);
      for (int64_t m : kMs) {
        // Large k with a subset of m (narrow, wide and mixed slabs), to stay quick under sanitizers.
        if (s.k >= 1024 && m > 17) continue;
        if (s.k >= 4096 && m != 1 && m != 7 && m != 8 && m != 17) continue;
        const std::vector<float> x = RandomFloats(static_cast<size_t>(m * s.k), ++seed, 2.0f);
        const int64_t ldy = s.rows + 3;
        std::vector<float> ref(static_cast<size_t>(m * ldy), kSentinel);
        MatMulReference(w.w, x.data(), m, ref.data(), ldy);
        const std::vector<double> mag = AbsDots(w, EffectiveActivations(dtype, x, m, s.k), m);
        for (ThreadPool* pool : {&one, &three}) {
          std::vector<float> y(static_cast<size_t>(m * ldy), kSentinel);
          MatMul(w.w, x.data(), m, y.data(), ldy, *pool);
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t r = 0; r < ldy; ++r) {
              const float got = y[static_cast<size_t>(i * ldy + r)];
              const float want = ref[static_cast<size_t>(i * ldy + r)];
              if (r >= s.rows) {
                ASSERT_EQ(got, kSentinel) << "wrote past the row end, column " << r;
                continue;
              }
              const double tol =
                  static_cast<double>(s.k) * std::ldexp(1.0, -24) * mag[static_cast<size_t>(i * s.rows + r)];
              ASSERT_NEAR(got, want, tol)
                  << DTypeName(dtype) << " rows=" << s.rows << " k=" << s.k << " m=" << m
                  << " threads=" << pool->size() << " at (" << i << ", " << r << ")";
            }
          }
        }
      }
    }
  }
}

TEST_P(MatMulIsa, Q8MatchesFloatProductOfDequantizedOperands) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool pool(2);
  const int64_t rows = 29, k = 1024;
  const Weights w = MakeWeights(DType::kQ8_0, rows, k, 7);
  for (int64_t m : {1, 4, 8, 11, 16, 19}) {
    const std::vector<float> x = RandomFloats(static_cast<size_t>(m * k), 9 + static_cast<uint32_t>(m), 4.0f);
    const std::vector<float> xq = EffectiveActivations(DType::kQ8_0, x, m, k);
    std::vector<float> y(static_cast<size_t>(m * rows));
    MatMul(w.w, x.data(), m, y.data(), rows, pool);
    const std::vector<double> mag = AbsDots(w, xq, m);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0.0;
        for (int64_t c = 0; c < k; ++c)
          want += static_cast<double>(w.dequantized[static_cast<size_t>(r * k + c)]) *
                  xq[static_cast<size_t>(i * k + c)];
        // Besides the summation bound: the dequantized operands each carry one rounding of d * q
        // (2^-24 relative), and the kernel rounds d_w * d_x once: 3 * 2^-24 * sum|terms|.
        const double tol =
            (static_cast<double>(k) + 3.0) * std::ldexp(1.0, -24) * mag[static_cast<size_t>(i * rows + r)];
        ASSERT_NEAR(y[static_cast<size_t>(i * rows + r)], want, tol)
            << "m=" << m << " (" << i << ", " << r << ")";
      }
    }
  }
}

TEST_P(MatMulIsa, ResultsDoNotDependOnTheThreadCount) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  const int64_t rows = 101, k = 256;
  ThreadPool one(1), two(2), five(5);
  for (DType dtype : kDTypes) {
    const Weights w = MakeWeights(dtype, rows, k, 21);
    for (int64_t m : {1, 8, 20}) {
      const std::vector<float> x = RandomFloats(static_cast<size_t>(m * k), 22);
      std::vector<float> a(static_cast<size_t>(m * rows)), b(a.size()), c(a.size());
      MatMul(w.w, x.data(), m, a.data(), rows, one);
      MatMul(w.w, x.data(), m, b.data(), rows, two);
      MatMul(w.w, x.data(), m, c.data(), rows, five);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << DTypeName(dtype) << " m=" << m;
      EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * 4), 0) << DTypeName(dtype) << " m=" << m;
      if (dtype != DType::kQ8_0) continue;
      const PackedQ8Weights packed = PackQ8_0(w.w);
      MatMul(packed, x.data(), m, a.data(), rows, one);
      MatMul(packed, x.data(), m, b.data(), rows, two);
      MatMul(packed, x.data(), m, c.data(), rows, five);
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "packed m=" << m;
      EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size() * 4), 0) << "packed m=" << m;
    }
  }
}

TEST_P(MatMulIsa, LargeActivationsStayExact) {
  // Activations of every Q8_0 code (|q| = 127 everywhere) against weights of -128 and 127: the
  // int16 pair sums of the sign trick reach 2 * 128 * 127 and must not saturate.
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool pool(2);
  const int64_t rows = 6, k = 256;
  std::vector<BlockQ8_0> wq(static_cast<size_t>(rows * k / 32));
  for (size_t b = 0; b < wq.size(); ++b) {
    wq[b].d = Fp32ToFp16(1.0f);
    for (int j = 0; j < 32; ++j)
      wq[b].qs[j] = static_cast<int8_t>((b + static_cast<size_t>(j)) % 2 ? -128 : 127);
  }
  const WeightTensor w{DType::kQ8_0, rows, k, wq.data()};
  for (int64_t m : {1, 3, 8, 16}) {
    std::vector<float> x(static_cast<size_t>(m * k));
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i / 3) % 2 ? 127.0f : -127.0f;  // d = 1, q = +-127
    std::vector<float> y(static_cast<size_t>(m * rows)), ref(y.size());
    MatMul(w, x.data(), m, y.data(), rows, pool);
    MatMulReference(w, x.data(), m, ref.data(), rows);
    EXPECT_EQ(y, ref) << "m=" << m;  // integer-valued sums far below 2^24: exact in float
  }
}

// ---- packed weights (PackedQ8Weights) ----

TEST(PackedQ8, UnpackRestoresEveryRow) {
  for (int64_t rows : {1, 7, 8, 9, 37}) {
    for (int64_t k : {32, 96, 1024}) {
      const Weights w = MakeWeights(DType::kQ8_0, rows, k, 31 + static_cast<uint32_t>(rows * k));
      const PackedQ8Weights packed = PackQ8_0(w.w);
      ASSERT_EQ(packed.rows(), rows);
      ASSERT_EQ(packed.cols(), k);
      EXPECT_EQ(packed.n_bytes(), static_cast<size_t>((rows + 7) / 8 * 8 * k / 32 * sizeof(BlockQ8_0)));
      std::vector<BlockQ8_0> row(static_cast<size_t>(k / 32));
      for (int64_t r = 0; r < rows; ++r) {
        UnpackQ8_0Row(packed, r, row.data());
        ASSERT_EQ(std::memcmp(row.data(), w.bytes.data() + r * w.w.row_bytes(), w.w.row_bytes()), 0)
            << "rows=" << rows << " k=" << k << " row " << r;
      }
    }
  }
}

TEST(PackedQ8, PackingFloatWeightsQuantizesThemFirst) {
  const int64_t rows = 11, k = 64;
  const std::vector<float> f = RandomFloats(static_cast<size_t>(rows * k), 5);
  ThreadPool pool(3);
  const PackedQ8Weights packed = PackQ8_0(WeightTensor{DType::kF32, rows, k, f.data()}, &pool);
  std::vector<BlockQ8_0> want(2), got(2);
  for (int64_t r = 0; r < rows; ++r) {
    QuantizeRowQ8_0(f.data() + r * k, want.data(), k);
    UnpackQ8_0Row(packed, r, got.data());
    ASSERT_EQ(std::memcmp(want.data(), got.data(), 2 * sizeof(BlockQ8_0)), 0) << "row " << r;
  }
}

TEST_P(MatMulIsa, PackedMatchesReference) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool one(1), three(3);
  uint32_t seed = 500;
  // Rows around the 8-row groups and the 2-group panels, k from one block to 4096.
  const Shape shapes[] = {{1, 32}, {8, 96}, {13, 288}, {17, 64}, {37, 1024}, {5, 4096}};
  for (const Shape& s : shapes) {
    const Weights w = MakeWeights(DType::kQ8_0, s.rows, s.k, ++seed);
    const PackedQ8Weights packed = PackQ8_0(w.w);
    for (int64_t m : kMs) {
      if (s.k >= 1024 && m > 9 && m != 17) continue;
      const std::vector<float> x = RandomFloats(static_cast<size_t>(m * s.k), ++seed, 2.0f);
      const int64_t ldy = s.rows + 5;
      std::vector<float> ref(static_cast<size_t>(m * ldy), kSentinel);
      MatMulReference(w.w, x.data(), m, ref.data(), ldy);
      const std::vector<double> mag = AbsDots(w, EffectiveActivations(DType::kQ8_0, x, m, s.k), m);
      for (ThreadPool* pool : {&one, &three}) {
        std::vector<float> y(static_cast<size_t>(m * ldy), kSentinel);
        MatMul(packed, x.data(), m, y.data(), ldy, *pool);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t r = 0; r < ldy; ++r) {
            const float got = y[static_cast<size_t>(i * ldy + r)];
            if (r >= s.rows) {
              ASSERT_EQ(got, kSentinel) << "wrote past the row end, column " << r;
              continue;
            }
            const double tol =
                static_cast<double>(s.k) * std::ldexp(1.0, -24) * mag[static_cast<size_t>(i * s.rows + r)];
            ASSERT_NEAR(got, ref[static_cast<size_t>(i * ldy + r)], tol)
                << "rows=" << s.rows << " k=" << s.k << " m=" << m << " threads=" << pool->size() << " at ("
                << i << ", " << r << ")";
          }
        }
      }
    }
  }
}

TEST_P(MatMulIsa, PackedIsExactOnIntegerValuedProducts) {
  MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam());
  IsaGuard guard(GetParam());
  ThreadPool pool(2);
  const int64_t rows = 21, k = 256;
  std::vector<BlockQ8_0> wq(static_cast<size_t>(rows * k / 32));
  for (size_t b = 0; b < wq.size(); ++b) {
    wq[b].d = Fp32ToFp16(1.0f);
    for (int j = 0; j < 32; ++j)
      wq[b].qs[j] = static_cast<int8_t>((b + static_cast<size_t>(j)) % 3 ? -128 : 127);
  }
  const WeightTensor w{DType::kQ8_0, rows, k, wq.data()};
  const PackedQ8Weights packed = PackQ8_0(w, &pool);
  for (int64_t m : {1, 2, 3, 4, 5, 8}) {
    std::vector<float> x(static_cast<size_t>(m * k));
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i / 3) % 2 ? 127.0f : -127.0f;
    std::vector<float> y(static_cast<size_t>(m * rows)), ref(y.size());
    MatMul(packed, x.data(), m, y.data(), rows, pool);
    MatMulReference(w, x.data(), m, ref.data(), rows);
    EXPECT_EQ(y, ref) << "m=" << m;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatMulIsa, ::testing::ValuesIn(testing::kAllIsas), testing::IsaParamName);

TEST(MatMul, EmptyInputsWriteNothing) {
  ThreadPool pool(2);
  std::vector<float> w(64, 1.0f), x(64, 1.0f), y(4, kSentinel);
  MatMul(WeightTensor{DType::kF32, 2, 32, w.data()}, x.data(), 0, y.data(), 2, pool);
  MatMul(WeightTensor{DType::kF32, 0, 32, w.data()}, x.data(), 1, y.data(), 2, pool);
  for (float v : y) EXPECT_EQ(v, kSentinel);
}

}  // namespace
}  // namespace meridian::engine::cpu
