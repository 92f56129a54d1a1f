// nearest: geography only, the region with the lowest network RTT whatever its load.
#include <algorithm>

#include "gateway/routing_policy.h"

namespace meridian::gateway {
namespace {

class NearestPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "nearest"; }
  void Rank(std::vector<RegionCandidate>& candidates) const override {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const RegionCandidate& a, const RegionCandidate& b) { return a.rtt_ms < b.rtt_ms; });
  }
};

}  // namespace

std::unique_ptr<RoutingPolicy> MakeNearestPolicy() {
  return std::make_unique<NearestPolicy>();
}

}  // namespace meridian::gateway
