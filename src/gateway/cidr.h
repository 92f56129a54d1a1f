// IP addresses and CIDR blocks (IPv4 and IPv6) for the client locator: parsing, matching and a
// longest-prefix table. IPv4 addresses are held as IPv4-mapped IPv6 so one table serves both.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::gateway {

//! An IP address as 16 bytes (IPv4 as ::ffff:a.b.c.d). A value type.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  bool v4 = false;  //!< it was written as IPv4
};

//! Parses "1.2.3.4", "::1", "[::1]", "1.2.3.4:5678", "[::1]:5678" (a port is dropped).
std::optional<IpAddress> ParseIpAddress(std::string_view text);

//! An address block; prefix counts bits of the 128-bit form (IPv4 /n is stored as /96+n).
struct Cidr {
  IpAddress network;
  int prefix = 128;
  bool Contains(const IpAddress& address) const;
};

//! Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
Result<Cidr> ParseCidr(std::string_view text);

//! CIDR blocks each carrying an index; Find returns the index of the longest matching block.
//! Not thread-safe to build; const lookups may run concurrently.
class CidrTable {
 public:
  void Add(const Cidr& cidr, size_t index) { entries_.push_back({cidr, index}); }
  std::optional<size_t> Find(const IpAddress& address) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    Cidr cidr;
    size_t index;
  };
  std::vector<Entry> entries_;
};

}  // namespace meridian::gateway
