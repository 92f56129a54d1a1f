// The gateway's configuration: one TOML file (docs/gateway.md is its reference,
// configs/gateway.example.toml an example). Parsing checks every value and names the file, line
// and reason of the first problem; unknown keys are errors too (a typo must not pass silently).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::gateway {

//! A point on the globe, degrees.
struct LatLon {
  double lat = 0.0;  //!< -90..90
  double lon = 0.0;  //!< -180..180
};

//! One listening socket ([[listener]]).
struct ListenerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;        //!< 0 picks a free port (printed on stdout)
  std::string tls_cert;     //!< PEM certificate chain; with tls_key enables TLS 1.3
  std::string tls_key;      //!< PEM private key
  bool http2 = true;        //!< h2 via ALPN (with TLS) and h2c with prior knowledge (without)
  bool tcp_fast_open = true;  //!< TCP_FASTOPEN on the listener where the kernel allows it
  size_t io_threads = 2;
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_connections = 4096;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};
  int line = 0;  //!< where it was defined (for messages)
};

//! One upstream `meridian serve` (or a relay in front of one).
struct ServerConfig {
  std::string address;    //!< "host:port"
  double capacity = 1.0;  //!< relative weight inside its region (> 0)
};

//! One region ([[region]]).
struct RegionConfig {
  std::string name;
  LatLon location;
  std::vector<ServerConfig> servers;
  int line = 0;
};

//! A CIDR -> location entry of [[location.cidr]].
struct CidrEntry {
  std::string cidr;    //!< "10.1.0.0/16", "2001:db8::/32"
  LatLon location;     //!< where clients of this block are
  std::string region;  //!< optional: clients of this block sit in this region's location
  int line = 0;
};

//! Where clients are ([location]).
struct LocationConfig {
  LatLon default_location;     //!< unknown clients are here (normally the gateway's own site)
  std::string default_region;  //!< optional: unknown clients sit at this region's location
  std::string geoip_db;        //!< MaxMind DB (GeoLite2-City style); empty: none
  std::vector<std::string> trusted_sources;  //!< CIDRs whose forwarding headers are believed
  std::vector<CidrEntry> cidrs;
};

//! A configured round-trip time between two regions ([[rtt.link]]), symmetric.
struct RttLink {
  std::string from;
  std::string to;
  double ms = 0.0;
  int line = 0;
};

//! The RTT model ([rtt]); see docs/gateway.md for the constants.
struct RttConfig {
  double fibre_km_per_ms = 204.19;  //!< one-way speed of light in fibre (c / 1.468)
  double route_factor = 1.6;        //!< real routes are longer than the great circle
  double base_ms = 1.0;             //!< added to every estimate (last mile, switching)
  double ewma_alpha = 0.3;          //!< weight of a new probe sample
  bool use_measured = true;         //!< clients at the gateway's site use probed RTTs
  std::vector<RttLink> links;
};

//! Routing ([routing]).
struct RoutingConfig {
  std::string policy = "lowest-ttft";  //!< "lowest-ttft", "nearest", "round-robin"
  double round_trips = 1.0;            //!< client round trips still needed before the first token
  double prompt_bytes_per_token = 4.0;  //!< prefill estimate: request body bytes per prompt token
  double default_prefill_tokens_per_second = 2000.0;  //!< until a region reports its rate
  double saturated_wait_ms = 5000.0;  //!< queue wait assumed for a server that reports "saturated"
  //! Per request the gateway has outstanding on a server beyond its reported slots, assume this
  //! much extra wait (the report is up to one probe interval old).
  double outstanding_wait_ms = 50.0;
  //! lowest-ttft: the nearest available region keeps a request unless another one's expected TTFT
  //! is lower by more than this (the estimates' noise should not move traffic away).
  double switch_margin_ms = 25.0;
};

//! Health checking ([health]).
struct HealthConfig {
  std::string path = "/ready";
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{800};
  int unhealthy_after = 3;  //!< consecutive failed probes
  int healthy_after = 2;    //!< consecutive good probes
  int eject_after = 5;      //!< consecutive connect failures or 5xx from real traffic
  std::chrono::milliseconds eject_base{30'000};  //!< first ejection; doubles on each repeat
  std::chrono::milliseconds eject_max{300'000};
};

//! Upstream calls ([upstream]).
struct UpstreamConfig {
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds first_byte_timeout{60'000};  //!< request sent -> response head
  std::chrono::milliseconds idle_timeout{30'000};        //!< between response bytes (streams)
  std::chrono::milliseconds request_timeout{600'000};    //!< whole request, retries included
  int max_retries = 2;
  size_t io_threads = 2;
  size_t max_idle_per_server = 64;  //!< pooled keep-alive connections per server
  size_t buffer_limit_bytes = 1 << 20;  //!< responses with a Content-Length up to this are sent whole
};

struct GatewayConfig {
  std::string source;  //!< the file it came from
  std::vector<ListenerConfig> listeners;
  std::vector<RegionConfig> regions;
  LocationConfig location;
  RttConfig rtt;
  RoutingConfig routing;
  HealthConfig health;
  UpstreamConfig upstream;
  bool access_log = false;
  std::string log_level = "info";

  //! The region named `name`, or null.
  const RegionConfig* FindRegion(const std::string& name) const;
  //! The configured RTT between two regions (either direction), if any.
  std::optional<double> LinkRtt(const std::string& a, const std::string& b) const;
};

//! Reads and checks a config file. InvalidArgument "FILE:LINE: reason" on any problem.
Result<GatewayConfig> LoadGatewayConfig(const std::string& path);
//! Parses config text; `source` names it in messages.
Result<GatewayConfig> ParseGatewayConfig(std::string_view text, const std::string& source);

}  // namespace meridian::gateway
