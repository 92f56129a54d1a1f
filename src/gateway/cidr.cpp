// IP address and CIDR parsing and matching.
#include "gateway/cidr.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace meridian::gateway {

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string host(text);
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));  // IPv4 with a port
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  IpAddress out;
  if (address.is_v4()) {
    out.v4 = true;
    auto b = address.to_v4().to_bytes();
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    std::copy(b.begin(), b.end(), out.bytes.begin() + 12);
  } else {
    auto v6 = address.to_v6();
    auto b = v6.to_bytes();
    std::copy(b.begin(), b.end(), out.bytes.begin());
    out.v4 = v6.is_v4_mapped();
  }
  return out;
}

bool Cidr::Contains(const IpAddress& address) const {
  int bits = prefix;
  for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((address.bytes[i] & mask) != (network.bytes[i] & mask)) return false;
  }
  return true;
}

Result<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  auto address = ParseIpAddress(text.substr(0, slash));
  if (!address || (slash == std::string_view::npos && text.find('[') != std::string_view::npos)) {
    return InvalidArgument("'" + std::string(text) + "' is not an IP address or CIDR block");
  }
  Cidr cidr;
  cidr.network = *address;
  int max_bits = address->v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (ec != std::errc() || ptr != p.data() + p.size() || bits < 0 || bits > max_bits) {
      return InvalidArgument("'" + std::string(text) + "' has a bad prefix length");
    }
  }
  cidr.prefix = address->v4 ? 96 + bits : bits;
  return cidr;
}

std::optional<size_t> CidrTable::Find(const IpAddress& address) const {
  std::optional<size_t> best;
  int best_prefix = -1;
  for (const auto& e : entries_) {
    if (e.cidr.prefix > best_prefix && e.cidr.Contains(address)) {
      best = e.index;
      best_prefix = e.cidr.prefix;
    }
  }
  return best;
}

}  // namespace meridian::gateway
