// GeoIpDatabase over libmaxminddb.
#include "gateway/geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace meridian::gateway {

struct GeoIpDatabase::Impl {
  MMDB_s db{};
  bool open = false;
};

Result<std::unique_ptr<GeoIpDatabase>> GeoIpDatabase::Open(const std::string& path) {
  auto db = std::unique_ptr<GeoIpDatabase>(new GeoIpDatabase());
  db->impl_ = std::make_unique<Impl>();
  int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db->impl_->db);
  if (rc != MMDB_SUCCESS) {
    return InvalidArgument("cannot open the GeoIP database " + path + ": " + MMDB_strerror(rc));
  }
  db->impl_->open = true;
  return db;
}

GeoIpDatabase::~GeoIpDatabase() {
  if (impl_ && impl_->open) MMDB_close(&impl_->db);
}

std::optional<LatLon> GeoIpDatabase::Lookup(const IpAddress& address) const {
  sockaddr_storage storage{};
  if (address.v4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, address.bytes.data() + 12, 4);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, address.bytes.data(), 16);
  }
  int mmdb_error = MMDB_SUCCESS;
  MMDB_lookup_result_s result =
      MMDB_lookup_sockaddr(&impl_->db, reinterpret_cast<const sockaddr*>(&storage), &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
  MMDB_entry_data_s lat{}, lon{};
  if (MMDB_get_value(&result.entry, &lat, "location", "latitude", nullptr) != MMDB_SUCCESS || !lat.has_data ||
      MMDB_get_value(&result.entry, &lon, "location", "longitude", nullptr) != MMDB_SUCCESS || !lon.has_data) {
    return std::nullopt;
  }
  auto as_double = [](const MMDB_entry_data_s& d) -> std::optional<double> {
    if (d.type == MMDB_DATA_TYPE_DOUBLE) return d.double_value;
    if (d.type == MMDB_DATA_TYPE_FLOAT) return static_cast<double>(d.float_value);
    return std::nullopt;
  };
  auto la = as_double(lat), lo = as_double(lon);
  if (!la || !lo || *la < -90 || *la > 90 || *lo < -180 || *lo > 180) return std::nullopt;
  return LatLon{*la, *lo};
}

}  // namespace meridian::gateway
