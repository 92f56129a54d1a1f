// ClientLocator: trusted headers, CIDR table, GeoIP, default.
#include "gateway/client_locator.h"

#include <charconv>
#include <cstdlib>

namespace meridian::gateway {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> ParseDouble(std::string_view s) {
  s = Trim(s);
  if (s.empty() || s.size() > 32) return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<LatLon> ParseLatLon(std::string_view text) {
  size_t comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  auto lat = ParseDouble(text.substr(0, comma));
  auto lon = ParseDouble(text.substr(comma + 1));
  if (!lat || !lon || !(*lat >= -90 && *lat <= 90) || !(*lon >= -180 && *lon <= 180)) return std::nullopt;
  return LatLon{*lat, *lon};
}

Result<std::unique_ptr<ClientLocator>> ClientLocator::Create(const GatewayConfig& config) {
  auto locator = std::unique_ptr<ClientLocator>(new ClientLocator());
  for (const auto& source : config.location.trusted_sources) {
    MERIDIAN_ASSIGN_OR_RETURN(Cidr cidr, ParseCidr(source));
    locator->trusted_.push_back(cidr);
  }
  for (size_t i = 0; i < config.location.cidrs.size(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(Cidr cidr, ParseCidr(config.location.cidrs[i].cidr));
    locator->cidr_table_.Add(cidr, i);
  }
  locator->cidrs_ = config.location.cidrs;
  locator->regions_ = config.regions;
  locator->default_location_ = config.location.default_location;
  locator->default_region_ = config.location.default_region;
  if (!config.location.geoip_db.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(locator->geoip_, GeoIpDatabase::Open(config.location.geoip_db));
  }
  return locator;
}

bool ClientLocator::IsTrusted(const IpAddress& address) const {
  for (const auto& cidr : trusted_) {
    if (cidr.Contains(address)) return true;
  }
  return false;
}

ClientLocation ClientLocator::Locate(const http::Request& request) const {
  ClientLocation out;
  auto peer = ParseIpAddress(request.remote_address);
  std::optional<IpAddress> client = peer;
  std::string client_text = request.remote_address;
  const bool trusted_peer = peer && IsTrusted(*peer);
  if (trusted_peer) {
    if (auto header = request.headers.Get("x-client-location")) {
      if (auto p = ParseLatLon(*header)) {
        out.location = *p;
        out.source = "header-location";
        return out;
      }
    }
    if (auto header = request.headers.Get("x-client-region")) {
      std::string_view name = Trim(*header);
      for (const auto& r : regions_) {
        if (r.name == name) {
          out.location = r.location;
          out.region = r.name;
          out.source = "header-region";
          return out;
        }
      }
    }
    // X-Forwarded-For: walk from the right (the hop nearest to us) past trusted proxies; the
    // first untrusted address is the client. Every field of every XFF header counts.
    std::vector<std::string_view> hops;
    for (std::string_view value : request.headers.GetAll("x-forwarded-for")) {
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        hops.push_back(Trim(value.substr(start, comma - start)));
        start = comma + 1;
      }
    }
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      auto address = ParseIpAddress(*it);
      if (!address) break;  // garbage: stop believing the chain here
      client = address;
      client_text = std::string(*it);
      if (!IsTrusted(*address)) break;
    }
  }
  if (client) {
    out.address = client_text;
    if (auto index = cidr_table_.Find(*client)) {
      const CidrEntry& e = cidrs_[*index];
      out.location = e.location;
      out.region = e.region;
      out.source = "cidr";
      return out;
    }
    if (geoip_) {
      if (auto p = geoip_->Lookup(*client)) {
        out.location = *p;
        out.source = "geoip";
        return out;
      }
    }
  }
  out.location = default_location_;
  out.region = default_region_;
  out.source = "default";
  return out;
}

}  // namespace meridian::gateway
