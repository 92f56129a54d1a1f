// lowest-ttft (the default): the region with the lowest expected time to first token
// (RTT x round trips + queue wait + prefill); ties go to the lower RTT.
#include <algorithm>

#include "gateway/routing_policy.h"

namespace meridian::gateway {
namespace {

class LowestTtftPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "lowest-ttft"; }
  void Rank(std::vector<RegionCandidate>& candidates) const override {
    std::stable_sort(candidates.begin(), candidates.end(), [](const RegionCandidate& a, const RegionCandidate& b) {
      if (a.expected_ttft_ms != b.expected_ttft_ms) return a.expected_ttft_ms < b.expected_ttft_ms;
      return a.rtt_ms < b.rtt_ms;
    });
  }
};

}  // namespace

std::unique_ptr<RoutingPolicy> MakeLowestTtftPolicy() {
  return std::make_unique<LowestTtftPolicy>();
}

}  // namespace meridian::gateway
