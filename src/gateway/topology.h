// Topology: one immutable snapshot of the configured regions and servers (with their shared,
// long-lived ServerStates), the client locator and the routing policy. A reload builds a new
// snapshot; requests in flight keep theirs. Also the region scoring every policy ranks by.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/client_locator.h"
#include "gateway/config.h"
#include "gateway/server_state.h"

namespace meridian::gateway {

class RoutingPolicy;

struct ServerView {
  std::shared_ptr<ServerState> state;
  double capacity = 1.0;
};

struct RegionView {
  RegionConfig config;
  std::vector<ServerView> servers;
  //! The lowest probed RTT among its available servers; negative when none is measured.
  double MeasuredRttMs(ServerState::Clock::time_point now) const;
};

//! A region's score for one client and request.
struct RegionCandidate {
  const RegionView* region = nullptr;
  double rtt_ms = 0.0;         //!< network round trip client <-> region
  std::string rtt_source;      //!< "measured", "configured", "estimated"
  double queue_wait_ms = 0.0;  //!< the shortest expected wait among its available servers
  double prefill_ms = 0.0;     //!< estimated prompt processing time
  double expected_ttft_ms = 0.0;
  size_t available_servers = 0;
};

//! Immutable after Build; shared by reference count between the gateway and requests in flight.
struct Topology {
  GatewayConfig config;
  std::vector<RegionView> regions;
  std::unique_ptr<ClientLocator> locator;
  std::unique_ptr<RoutingPolicy> policy;

  //! Builds a snapshot, taking the ServerState of each (region, address) from `previous` where
  //! it exists, so health and counters survive a reload.
  static Result<std::shared_ptr<const Topology>> Build(GatewayConfig config, const Topology* previous);

  //! RTT between `client` and `region` by the model of docs/gateway.md; sets *source.
  double RttMs(const ClientLocation& client, const RegionView& region, ServerState::Clock::time_point now,
               std::string* source) const;
  //! Scores every region with at least one available server (others are left out).
  std::vector<RegionCandidate> Score(const ClientLocation& client, size_t request_body_bytes,
                                     ServerState::Clock::time_point now) const;
  //! A server's expected queue wait from its load report and the gateway's outstanding count.
  double ServerQueueWaitMs(const ServerState& server) const;
  size_t AvailableServers(ServerState::Clock::time_point now) const;
};

}  // namespace meridian::gateway
