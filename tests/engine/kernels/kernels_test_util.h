// Helpers shared by the CPU kernel tests: random data, an ISA guard and the ISA parameter list.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::cpu::testing {

//! Every ISA the kernels have; tests parameterized over it skip the ones this CPU lacks.
inline const Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni};

inline std::string IsaParamName(const ::testing::TestParamInfo<Isa>& info) {
  return IsaName(info.param);
}

//! Makes `isa` active for the scope, restoring the previous one after.
class IsaGuard {
 public:
  explicit IsaGuard(Isa isa) : previous_(ActiveIsa()), effective_(SetActiveIsa(isa)) {}
  ~IsaGuard() { SetActiveIsa(previous_); }
  IsaGuard(const IsaGuard&) = delete;
  IsaGuard& operator=(const IsaGuard&) = delete;
  Isa effective() const { return effective_; }

 private:
  Isa previous_;
  Isa effective_;
};

//! Skips the current test when the CPU cannot run `isa`'s kernels.
#define MERIDIAN_SKIP_UNLESS_SUPPORTED(isa)                                                      \
  do {                                                                                           \
    if (!::meridian::engine::cpu::IsaSupported(isa)) {                                           \
      GTEST_SKIP() << ::meridian::engine::cpu::IsaName(isa) << " is not supported on this CPU (" \
                   << ::meridian::engine::cpu::IsaName(::meridian::engine::cpu::DetectIsa())     \
                   << " is the best it has)";                                                    \
    }                                                                                            \
  } while (0)

//! Uniform in [-scale, scale], never exactly zero.
inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) {
    do {
      f = dist(rng) * scale;
    } while (f == 0.0f);
  }
  return v;
}

}  // namespace meridian::engine::cpu::testing
