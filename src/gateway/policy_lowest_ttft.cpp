// lowest-ttft (the default): the region with the lowest expected time to first token
// (RTT x round trips + queue wait + prefill); ties go to the lower RTT, and the nearest region
// keeps the request unless another beats it by more than [routing].switch_margin_ms.
#include <algorithm>

#include "gateway/routing_policy.h"

namespace meridian::gateway {
namespace {

class LowestTtftPolicy final : public RoutingPolicy {
 public:
  explicit LowestTtftPolicy(double switch_margin_ms) : switch_margin_ms_(switch_margin_ms) {}
  const char* name() const override { return "lowest-ttft"; }
  void Rank(std::vector<RegionCandidate>& candidates) const override {
    std::stable_sort(candidates.begin(), candidates.end(), [](const RegionCandidate& a, const RegionCandidate& b) {
      if (a.expected_ttft_ms != b.expected_ttft_ms) return a.expected_ttft_ms < b.expected_ttft_ms;
      return a.rtt_ms < b.rtt_ms;
    });
    if (candidates.size() < 2 || switch_margin_ms_ <= 0) return;
    // Hysteresis: queue and prefill estimates are noisy, RTT is not. The nearest region keeps the
    // request unless the best one is clearly faster.
    auto nearest = std::min_element(candidates.begin(), candidates.end(),
                                    [](const RegionCandidate& a, const RegionCandidate& b) { return a.rtt_ms < b.rtt_ms; });
    if (nearest != candidates.begin() &&
        nearest->expected_ttft_ms - candidates.front().expected_ttft_ms <= switch_margin_ms_) {
      std::rotate(candidates.begin(), nearest, nearest + 1);
    }
  }

 private:
  const double switch_margin_ms_;
};

}  // namespace

std::unique_ptr<RoutingPolicy> MakeLowestTtftPolicy(double switch_margin_ms) {
  return std::make_unique<LowestTtftPolicy>(switch_margin_ms);
}

}  // namespace meridian::gateway
