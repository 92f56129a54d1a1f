// round-robin (for comparison): available regions in turn, ignoring distance and load.
#include <algorithm>
#include <atomic>

#include "gateway/routing_policy.h"

namespace meridian::gateway {
namespace {

class RoundRobinPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "round-robin"; }
  void Rank(std::vector<RegionCandidate>& candidates) const override {
    if (candidates.empty()) return;
    size_t turn = next_.fetch_add(1, std::memory_order_relaxed) % candidates.size();
    std::rotate(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(turn), candidates.end());
  }

 private:
  mutable std::atomic<size_t> next_{0};
};

}  // namespace

std::unique_ptr<RoutingPolicy> MakeRoundRobinPolicy() {
  return std::make_unique<RoundRobinPolicy>();
}

}  // namespace meridian::gateway
