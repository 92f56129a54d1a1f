// The routing policy factory.
#include "gateway/routing_policy.h"

namespace meridian::gateway {

Result<std::unique_ptr<RoutingPolicy>> MakeRoutingPolicy(const std::string& name, double switch_margin_ms) {
  if (name == "lowest-ttft") return MakeLowestTtftPolicy(switch_margin_ms);
  if (name == "nearest") return MakeNearestPolicy();
  if (name == "round-robin") return MakeRoundRobinPolicy();
  return InvalidArgument("unknown routing policy '" + name + "' (lowest-ttft, nearest, round-robin)");
}

}  // namespace meridian::gateway
