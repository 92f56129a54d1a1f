// RoutingPolicy: the interface that orders scored regions for a request (best first), and its
// factory. One file per policy: policy_lowest_ttft.cpp, policy_nearest.cpp,
// policy_round_robin.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/topology.h"

namespace meridian::gateway {

//! Thread-safety: Rank may be called from many threads at once.
class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;
  //! The policy's config name.
  virtual const char* name() const = 0;
  //! Reorders `candidates` best first (retries walk down the list).
  virtual void Rank(std::vector<RegionCandidate>& candidates) const = 0;
};

//! `switch_margin_ms`: a region farther (by RTT) than the nearest available one must beat the
//! nearest one's expected TTFT by more than this to be ranked above it.
std::unique_ptr<RoutingPolicy> MakeLowestTtftPolicy(double switch_margin_ms = 0);
std::unique_ptr<RoutingPolicy> MakeNearestPolicy();
std::unique_ptr<RoutingPolicy> MakeRoundRobinPolicy();

//! "lowest-ttft", "nearest" or "round-robin"; InvalidArgument otherwise.
Result<std::unique_ptr<RoutingPolicy>> MakeRoutingPolicy(const std::string& name, double switch_margin_ms = 0);

}  // namespace meridian::gateway
