// ISA detection, names, SetActiveIsa clamping and the MERIDIAN_ISA override.
#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/backend/cpu/kernels/kernels.h"
#include "kernels_test_util.h"

namespace meridian::engine::cpu {
namespace {

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : testing::kAllIsas) {
    auto parsed = IsaFromName(IsaName(isa));
    ASSERT_TRUE(parsed.has_value()) << IsaName(isa);
    EXPECT_EQ(*parsed, isa);
  }
  EXPECT_FALSE(IsaFromName("avx3").has_value());
  EXPECT_FALSE(IsaFromName("").has_value());
}

TEST(Isa, SupportIsMonotoneUpToTheDetectedLevel) {
  const Isa best = DetectIsa();
  for (Isa isa : testing::kAllIsas) {
    EXPECT_EQ(IsaSupported(isa), static_cast<int>(isa) <= static_cast<int>(best)) << IsaName(isa);
  }
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
}

TEST(Isa, SetActiveIsaClampsToTheCpu) {
  const Isa before = ActiveIsa();
  for (Isa isa : testing::kAllIsas) {
    const Isa effective = SetActiveIsa(isa);
    EXPECT_EQ(effective, IsaSupported(isa) ? isa : DetectIsa());
    EXPECT_EQ(ActiveIsa(), effective);
  }
  SetActiveIsa(before);
}

// The override is read once, at the first use, so it is checked in a fresh process.
TEST(IsaDeathTest, EnvironmentOverrideSelectsScalar) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MERIDIAN_ISA", "scalar", 1);
        std::exit(ActiveIsa() == Isa::kScalar ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(IsaDeathTest, EnvironmentOverrideIsClampedAndBadValuesIgnored) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MERIDIAN_ISA", "avx512vnni", 1);
        std::exit(ActiveIsa() == DetectIsa() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("MERIDIAN_ISA", "sse9", 1);
        std::exit(ActiveIsa() == DetectIsa() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace meridian::engine::cpu
