// RmsNorm, SiluMul, AddInPlace, Softmax, DotF32, Axpy for every ISA against double-precision
// formulas, on sizes around every vector width; and the bandwidth probe.
//
// Tolerances: element-wise ops with one or two roundings (add, axpy, the rmsnorm scaling) are
// within a few ulp: 4 * 2^-24 relative. exp() in SiluMul/Softmax is a polynomial good to ~2 ulp,
// and silu(g) * up / softmax add a division and a product: 1e-6 relative plus 1e-30 absolute for
// results that underflow. Reductions (dot, sums of squares) of n terms: n * 2^-24 * sum|terms|.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"
#include "kernels_test_util.h"

namespace meridian::engine::cpu {
namespace {

using testing::IsaGuard;
using testing::RandomFloats;

constexpr double kUlp = 1.0 / (1 << 24);
const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67, 2048, 5632};

double Rel(double got, double want) {
  return std::fabs(got - want) / std::max(std::fabs(want), 1e-30);
}

class VectorOpsIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override { MERIDIAN_SKIP_UNLESS_SUPPORTED(GetParam()); }
};

TEST_P(VectorOpsIsa, RmsNorm) {
  IsaGuard guard(GetParam());
  for (int64_t n : kSizes) {
    std::vector<float> x = RandomFloats(static_cast<size_t>(n), 1 + static_cast<uint32_t>(n), 3.0f);
    const std::vector<float> w = RandomFloats(static_cast<size_t>(n), 2 + static_cast<uint32_t>(n));
    double ss = 0.0;
    for (float v : x) ss += static_cast<double>(v) * v;
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-5);
    std::vector<float> y(static_cast<size_t>(n));
    RmsNorm(x.data(), w.data(), n, 1e-5f, y.data());
    for (int64_t i = 0; i < n; ++i) {
      const double want = x[static_cast<size_t>(i)] * scale * w[static_cast<size_t>(i)];
      ASSERT_LE(Rel(y[static_cast<size_t>(i)], want), 8 * kUlp) << "n=" << n << " i=" << i;
    }
    RmsNorm(x.data(), w.data(), n, 1e-5f, x.data());  // in place
    EXPECT_EQ(x, y) << "n=" << n;
  }
}

TEST_P(VectorOpsIsa, SiluMul) {
  IsaGuard guard(GetParam());
  for (int64_t n : kSizes) {
    std::vector<float> g = RandomFloats(static_cast<size_t>(n), 3 + static_cast<uint32_t>(n), 12.0f);
    const std::vector<float> u = RandomFloats(static_cast<size_t>(n), 4 + static_cast<uint32_t>(n), 2.0f);
    if (n > 4) g[0] = -100.0f, g[1] = 100.0f, g[2] = -87.0f, g[3] = 1e-3f;  // tails of exp
    std::vector<float> out(static_cast<size_t>(n));
    SiluMul(g.data(), u.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const double gi = g[static_cast<size_t>(i)];
      const double want = gi / (1.0 + std::exp(-gi)) * u[static_cast<size_t>(i)];
      ASSERT_NEAR(out[static_cast<size_t>(i)], want, 1e-6 * std::fabs(want) + 1e-30)
          << "n=" << n << " g=" << gi;
    }
  }
}

TEST_P(VectorOpsIsa, AddInPlaceAndAxpy) {
  IsaGuard guard(GetParam());
  for (int64_t n : kSizes) {
    std::vector<float> x = RandomFloats(static_cast<size_t>(n), 5 + static_cast<uint32_t>(n));
    const std::vector<float> y = RandomFloats(static_cast<size_t>(n), 6 + static_cast<uint32_t>(n));
    std::vector<float> sum = x;
    AddInPlace(sum.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(sum[static_cast<size_t>(i)], x[static_cast<size_t>(i)] + y[static_cast<size_t>(i)]);
    std::vector<float> acc = x;
    Axpy(-0.75f, y.data(), acc.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double want = x[static_cast<size_t>(i)] - 0.75 * y[static_cast<size_t>(i)];
      // One rounding, or two without FMA; cancellation makes it absolute in |x| + |a y|.
      const double mag = std::fabs(x[static_cast<size_t>(i)]) + 0.75 * std::fabs(y[static_cast<size_t>(i)]);
      ASSERT_NEAR(acc[static_cast<size_t>(i)], want, 2 * kUlp * mag) << "n=" << n;
    }
  }
}

TEST_P(VectorOpsIsa, Softmax) {
  IsaGuard guard(GetParam());
  for (int64_t n : kSizes) {
    std::vector<float> x = RandomFloats(static_cast<size_t>(n), 7 + static_cast<uint32_t>(n), 20.0f);
    if (n > 2) x[1] = 1000.0f, x[2] = -1000.0f;  // large logits must not overflow
    double mx = -1e300;
    for (float v : x) mx = std::max(mx, static_cast<double>(v));
    double z = 0.0;
    for (float v : x) z += std::exp(static_cast<double>(v) - mx);
    std::vector<float> p = x;
    Softmax(p.data(), n);
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double want = std::exp(static_cast<double>(x[static_cast<size_t>(i)]) - mx) / z;
      ASSERT_NEAR(p[static_cast<size_t>(i)], want, 1e-6 * want + 1e-30) << "n=" << n << " i=" << i;
      total += p[static_cast<size_t>(i)];
    }
    EXPECT_NEAR(total, 1.0, 1e-5);
  }
}

TEST_P(VectorOpsIsa, DotF32) {
  IsaGuard guard(GetParam());
  for (int64_t n : kSizes) {
    const std::vector<float> a = RandomFloats(static_cast<size_t>(n), 8 + static_cast<uint32_t>(n));
    const std::vector<float> b = RandomFloats(static_cast<size_t>(n), 9 + static_cast<uint32_t>(n), 5.0f);
    double want = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      want += static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)];
      mag += std::fabs(static_cast<double>(a[static_cast<size_t>(i)]) * b[static_cast<size_t>(i)]);
    }
    EXPECT_NEAR(DotF32(a.data(), b.data(), n), want, static_cast<double>(n) * kUlp * mag) << "n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, VectorOpsIsa, ::testing::ValuesIn(testing::kAllIsas),
                         testing::IsaParamName);

TEST(ReadBandwidth, IsPositiveAndFinite) {
  ThreadPool pool(2);
  const double gbs = MeasureReadBandwidthGBs(pool, size_t{32} << 20);
  EXPECT_GT(gbs, 0.05);
  EXPECT_LT(gbs, 100000.0);
}

}  // namespace
}  // namespace meridian::engine::cpu
