// The RTT model: network round-trip time between a client and a region. Great-circle distance
// over light in fibre with a route factor until something better is known: a configured
// region-to-region RTT, or (for clients at the gateway's own site) the EWMA of probed RTTs.
// docs/gateway.md explains the constants.
#pragma once

#include <atomic>
#include <string>

#include "gateway/config.h"

namespace meridian::gateway {

//! Great-circle distance in km (haversine, mean Earth radius 6371.0088 km).
double GreatCircleKm(const LatLon& a, const LatLon& b);

//! base_ms + 2 * distance * route_factor / fibre_km_per_ms: the round trip of light in fibre
//! along a route `route_factor` times longer than the great circle.
double EstimateRttMs(const LatLon& a, const LatLon& b, const RttConfig& rtt);

//! An exponentially weighted moving average of probe RTTs. Thread-safety: Add and Value may be
//! called from any thread (Add from one thread at a time: the health checker).
class RttEwma {
 public:
  //! Folds in a sample; the first sample is taken as is.
  void Add(double sample_ms, double alpha);
  //! The average, or a negative value before the first sample.
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{-1.0};
};

//! Where the client is, as far as routing is concerned.
struct ClientLocation {
  LatLon location;
  std::string region;     //!< set when the client is known to sit at a region's site
  std::string source;     //!< "header-location", "header-region", "cidr", "geoip", "default"
  std::string address;    //!< the client IP that was used (may be empty)
  bool at_gateway_site() const { return source == "default"; }
};

}  // namespace meridian::gateway
