// Topology snapshots and region scoring (expected time to first token).
#include "gateway/topology.h"

#include <algorithm>
#include <map>

#include "gateway/routing_policy.h"

namespace meridian::gateway {

double RegionView::MeasuredRttMs(ServerState::Clock::time_point now) const {
  double best = -1.0;
  for (const auto& s : servers) {
    double v = s.state->rtt.Value();
    if (v >= 0 && s.state->Available(now) && (best < 0 || v < best)) best = v;
  }
  return best;
}

Result<std::shared_ptr<const Topology>> Topology::Build(GatewayConfig config, const Topology* previous) {
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ServerState>> old;
  if (previous) {
    for (const auto& r : previous->regions) {
      for (const auto& s : r.servers) old[{r.config.name, s.state->address()}] = s.state;
    }
  }
  auto topology = std::make_shared<Topology>();
  MERIDIAN_ASSIGN_OR_RETURN(topology->locator, ClientLocator::Create(config));
  MERIDIAN_ASSIGN_OR_RETURN(topology->policy, MakeRoutingPolicy(config.routing.policy, config.routing.switch_margin_ms));
  for (const auto& rc : config.regions) {
    RegionView view;
    view.config = rc;
    for (const auto& sc : rc.servers) {
      auto it = old.find({rc.name, sc.address});
      auto state = it != old.end() ? it->second : std::make_shared<ServerState>(rc.name, sc.address);
      // The same address listed twice in a region shares one state.
      bool dup = false;
      for (auto& existing : view.servers) {
        if (existing.state->address() == sc.address) {
          existing.capacity += sc.capacity;
          dup = true;
        }
      }
      if (!dup) view.servers.push_back({state, sc.capacity});
    }
    topology->regions.push_back(std::move(view));
  }
  topology->config = std::move(config);
  return std::shared_ptr<const Topology>(std::move(topology));
}

double Topology::RttMs(const ClientLocation& client, const RegionView& region, ServerState::Clock::time_point now,
                       std::string* source) const {
  const RttConfig& rtt = config.rtt;
  if (client.at_gateway_site() && rtt.use_measured) {
    double measured = region.MeasuredRttMs(now);
    if (measured >= 0) {
      *source = "measured";
      return measured;
    }
  }
  if (!client.region.empty()) {
    if (client.region == region.config.name) {
      if (auto link = config.LinkRtt(client.region, region.config.name)) {
        *source = "configured";
        return *link;
      }
    } else if (auto link = config.LinkRtt(client.region, region.config.name)) {
      *source = "configured";
      return *link;
    }
  }
  *source = "estimated";
  return EstimateRttMs(client.location, region.config.location, rtt);
}

double Topology::ServerQueueWaitMs(const ServerState& server) const {
  double wait = 0.0;
  int64_t slots = 0;
  if (server.has_load()) {
    LoadReport load = server.load();
    wait = load.estimated_queue_wait_ms;
    if (load.status == "saturated") wait = std::max(wait, config.routing.saturated_wait_ms);
    slots = load.max_running;
  }
  int64_t outstanding = server.outstanding.load(std::memory_order_relaxed);
  if (slots > 0 && outstanding >= slots) {
    wait += static_cast<double>(outstanding - slots + 1) * config.routing.outstanding_wait_ms;
  }
  return wait;
}

std::vector<RegionCandidate> Topology::Score(const ClientLocation& client, size_t request_body_bytes,
                                             ServerState::Clock::time_point now) const {
  std::vector<RegionCandidate> out;
  out.reserve(regions.size());
  const RoutingConfig& routing = config.routing;
  const double prompt_tokens = static_cast<double>(request_body_bytes) / routing.prompt_bytes_per_token;
  for (const auto& region : regions) {
    RegionCandidate c;
    c.region = &region;
    double best_wait = -1.0;
    double prefill_rate = 0.0;
    for (const auto& s : region.servers) {
      if (!s.state->Available(now)) continue;
      ++c.available_servers;
      double w = ServerQueueWaitMs(*s.state);
      if (best_wait < 0 || w < best_wait) best_wait = w;
      prefill_rate = std::max(prefill_rate, s.state->prefill_tokens_per_second());
    }
    if (c.available_servers == 0) continue;
    if (prefill_rate <= 0) prefill_rate = routing.default_prefill_tokens_per_second;
    c.rtt_ms = RttMs(client, region, now, &c.rtt_source);
    c.queue_wait_ms = best_wait;
    c.prefill_ms = prompt_tokens / prefill_rate * 1000.0;
    c.expected_ttft_ms = c.rtt_ms * routing.round_trips + c.queue_wait_ms + c.prefill_ms;
    out.push_back(std::move(c));
  }
  return out;
}

size_t Topology::AvailableServers(ServerState::Clock::time_point now) const {
  size_t n = 0;
  for (const auto& r : regions) {
    for (const auto& s : r.servers) n += s.state->Available(now) ? 1 : 0;
  }
  return n;
}

}  // namespace meridian::gateway
