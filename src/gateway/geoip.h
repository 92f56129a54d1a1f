// GeoIpDatabase: client coordinates from a MaxMind DB file (GeoLite2-City / GeoIP2-City layout:
// location.latitude and location.longitude) through libmaxminddb.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "gateway/cidr.h"
#include "gateway/config.h"

namespace meridian::gateway {

//! An open, memory-mapped MaxMind DB. Thread-safety: Lookup may run on many threads at once
//! (libmaxminddb lookups on an opened database are read-only).
class GeoIpDatabase {
 public:
  //! Opens `path`; InvalidArgument with libmaxminddb's reason on failure.
  static Result<std::unique_ptr<GeoIpDatabase>> Open(const std::string& path);
  ~GeoIpDatabase();
  GeoIpDatabase(const GeoIpDatabase&) = delete;
  GeoIpDatabase& operator=(const GeoIpDatabase&) = delete;

  //! The coordinates recorded for `address`, if the database has them.
  std::optional<LatLon> Lookup(const IpAddress& address) const;

 private:
  GeoIpDatabase() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::gateway
