// ClientLocator: where a request's client is. In order: X-Client-Location ("lat,lon") and
// X-Client-Region from a trusted source; then the client address (the peer, or from a trusted
// peer the right-most untrusted X-Forwarded-For entry) looked up in the CIDR table, then in the
// MaxMind DB; else the configured default (the gateway's own site).
#pragma once

#include <memory>
#include <string>

#include "gateway/cidr.h"
#include "gateway/config.h"
#include "gateway/geoip.h"
#include "gateway/rtt_model.h"
#include "http/request.h"

namespace meridian::gateway {

//! Immutable once built; Locate may run on many threads at once.
class ClientLocator {
 public:
  //! Opens the GeoIP database if configured (its failure is the returned error).
  static Result<std::unique_ptr<ClientLocator>> Create(const GatewayConfig& config);

  ClientLocation Locate(const http::Request& request) const;
  //! True if `address` may set forwarding headers.
  bool IsTrusted(const IpAddress& address) const;

 private:
  ClientLocator() = default;
  std::vector<Cidr> trusted_;
  CidrTable cidr_table_;
  std::vector<CidrEntry> cidrs_;
  std::vector<RegionConfig> regions_;
  LatLon default_location_;
  std::string default_region_;
  std::unique_ptr<GeoIpDatabase> geoip_;
};

//! Parses "lat,lon" (decimal degrees, in range); nullopt otherwise.
std::optional<LatLon> ParseLatLon(std::string_view text);

}  // namespace meridian::gateway
