// GeoIP: MaxMind DB files written by the test's own MmdbWriter, read through libmaxminddb by
// GeoIpDatabase, the ClientLocator and a running gateway (a client address from the database
// routes to the nearest region); a missing or corrupt file is a clear start-up error, and a
// database whose records are damaged or lack a location is answered by the default location.
#include <gtest/gtest.h>
#include <maxminddb.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "../server/server_process.h"
#include "gateway/client_locator.h"
#include "gateway/geoip.h"
#include "gateway_test_util.h"
#include "mmdb_writer.h"

namespace meridian::gateway::testing {
namespace {

// Documentation networks (RFC 5737 / RFC 3849) standing for clients in three places.
constexpr double kFrankfurtLat = 50.11, kFrankfurtLon = 8.68;
constexpr double kAshburnLat = 38.95, kAshburnLon = -77.45;
constexpr double kSingaporeLat = 1.35, kSingaporeLon = 103.82;
constexpr double kParisLat = 48.86, kParisLon = 2.35;

//! A database: 203.0.113.0/24 in Frankfurt with 203.0.113.128/25 inside it in Singapore,
//! 198.51.100.0/24 in Ashburn, 2001:db8::/32 in Singapore with 2001:db8:beef::/48 in Paris,
//! 192.0.2.0/24 with a country but no location, and 100.64.0.0/10 at latitude 123 (out of range).
MmdbWriter TestDatabase() {
  MmdbWriter w;
  w.Insert("203.0.113.0/24", CityRecord("DE", kFrankfurtLat, kFrankfurtLon));
  w.Insert("203.0.113.128/25", CityRecord("SG", kSingaporeLat, kSingaporeLon));
  w.Insert("198.51.100.0/24", CityRecord("US", kAshburnLat, kAshburnLon));
  w.Insert("2001:db8::/32", CityRecord("SG", kSingaporeLat, kSingaporeLon));
  w.Insert("2001:db8:beef::/48", CityRecord("FR", kParisLat, kParisLon));
  w.Insert("192.0.2.0/24", MmdbValue::Map({{"country", MmdbValue::Map({{"iso_code", MmdbValue::String("GB")}})}}));
  w.Insert("100.64.0.0/10", CityRecord("XX", 123.0, 10.0));
  return w;
}

//! Per process: parallel test runs (ctest -j, several checkouts on one CI machine) never share a file.
std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

std::string WriteTestDatabase(const std::string& name) {
  const std::string path = TempPath(name);
  EXPECT_TRUE(TestDatabase().WriteFile(path));
  return path;
}

std::optional<LatLon> Lookup(const GeoIpDatabase& db, const std::string& address) {
  auto ip = ParseIpAddress(address);
  EXPECT_TRUE(ip) << address;
  return ip ? db.Lookup(*ip) : std::nullopt;
}

void ExpectAt(const std::optional<LatLon>& got, double lat, double lon, const std::string& what) {
  ASSERT_TRUE(got) << what;
  EXPECT_DOUBLE_EQ(got->lat, lat) << what;
  EXPECT_DOUBLE_EQ(got->lon, lon) << what;
}

// The writer's output is a valid MaxMind DB for libmaxminddb itself: metadata, the country next
// to the location, and the network each lookup matched.
TEST(GatewayMmdbWriter, LibmaxminddbReadsTheFile) {
  const std::string path = WriteTestDatabase("geoip_writer.mmdb");
  MMDB_s mmdb{};
  ASSERT_EQ(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb), MMDB_SUCCESS);
  EXPECT_EQ(mmdb.metadata.ip_version, 6);
  EXPECT_EQ(mmdb.metadata.record_size, 24);
  EXPECT_EQ(mmdb.metadata.binary_format_major_version, 2);
  EXPECT_EQ(std::string(mmdb.metadata.database_type), "Meridian-Test-City");
  EXPECT_EQ(mmdb.metadata.node_count, TestDatabase().node_count());
  int gai_error = 0, mmdb_error = 0;
  MMDB_lookup_result_s r = MMDB_lookup_string(&mmdb, "198.51.100.77", &gai_error, &mmdb_error);
  ASSERT_EQ(gai_error, 0);
  ASSERT_EQ(mmdb_error, MMDB_SUCCESS);
  ASSERT_TRUE(r.found_entry);
  EXPECT_EQ(r.netmask, 96 + 24);  // an IPv4 /24 sits under ::/96 in the IPv6 tree
  MMDB_entry_data_s iso{};
  ASSERT_EQ(MMDB_get_value(&r.entry, &iso, "country", "iso_code", nullptr), MMDB_SUCCESS);
  ASSERT_TRUE(iso.has_data);
  ASSERT_EQ(iso.type, MMDB_DATA_TYPE_UTF8_STRING);
  EXPECT_EQ(std::string(iso.utf8_string, iso.data_size), "US");
  r = MMDB_lookup_string(&mmdb, "2001:db8:beef::1", &gai_error, &mmdb_error);
  ASSERT_EQ(mmdb_error, MMDB_SUCCESS);
  ASSERT_TRUE(r.found_entry);
  EXPECT_EQ(r.netmask, 48);
  r = MMDB_lookup_string(&mmdb, "8.8.8.8", &gai_error, &mmdb_error);
  ASSERT_EQ(mmdb_error, MMDB_SUCCESS);
  EXPECT_FALSE(r.found_entry);
  MMDB_close(&mmdb);
  std::remove(path.c_str());
}

TEST(GatewayGeoIpDatabase, ResolvesIpv4Ipv6AndTheMostSpecificNetwork) {
  const std::string path = WriteTestDatabase("geoip_lookup.mmdb");
  auto db = GeoIpDatabase::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().message();
  ExpectAt(Lookup(**db, "203.0.113.5"), kFrankfurtLat, kFrankfurtLon, "203.0.113.5");
  ExpectAt(Lookup(**db, "203.0.113.200"), kSingaporeLat, kSingaporeLon, "203.0.113.200 (the /25 inside)");
  ExpectAt(Lookup(**db, "198.51.100.1:443"), kAshburnLat, kAshburnLon, "with a port");
  ExpectAt(Lookup(**db, "::ffff:198.51.100.9"), kAshburnLat, kAshburnLon, "IPv4-mapped IPv6");
  ExpectAt(Lookup(**db, "2001:db8:1::7"), kSingaporeLat, kSingaporeLon, "2001:db8:1::7");
  ExpectAt(Lookup(**db, "[2001:db8:beef::10]:8080"), kParisLat, kParisLon, "the /48 inside");
  EXPECT_FALSE(Lookup(**db, "8.8.8.8")) << "not in the database";
  EXPECT_FALSE(Lookup(**db, "2001:db9::1")) << "not in the database";
  EXPECT_FALSE(Lookup(**db, "192.0.2.1")) << "a record without a location";
  EXPECT_FALSE(Lookup(**db, "100.64.1.1")) << "a latitude out of range is not believed";
  std::remove(path.c_str());
}

TEST(GatewayGeoIpDatabase, AnIpv4OnlyDatabaseAnswersIpv4AndIgnoresIpv6) {
  MmdbWriter w(/*ip_version=*/4);
  w.Insert("203.0.113.0/24", CityRecord("DE", kFrankfurtLat, kFrankfurtLon));
  const std::string path = TempPath("geoip_v4.mmdb");
  ASSERT_TRUE(w.WriteFile(path));
  auto db = GeoIpDatabase::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().message();
  ExpectAt(Lookup(**db, "203.0.113.77"), kFrankfurtLat, kFrankfurtLon, "IPv4 in an IPv4 database");
  EXPECT_FALSE(Lookup(**db, "2001:db8::1"));
  std::remove(path.c_str());
}

TEST(GatewayGeoIpDatabase, MissingAndCorruptFilesAreClearErrors) {
  const std::string missing = TempPath("geoip_does_not_exist.mmdb");
  std::remove(missing.c_str());
  auto r = GeoIpDatabase::Open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot open the GeoIP database " + missing), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("Error opening"), std::string::npos) << r.status().message();

  const std::string garbage = TempPath("geoip_garbage.mmdb");
  { std::ofstream(garbage, std::ios::binary) << std::string(4096, '\x5a'); }
  r = GeoIpDatabase::Open(garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(garbage), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("invalid metadata"), std::string::npos) << r.status().message();

  // A real database cut before its metadata marker.
  const std::string bytes = TestDatabase().Build();
  const std::string truncated = TempPath("geoip_truncated.mmdb");
  {
    std::ofstream f(truncated, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.find("\xAB\xCD\xEFMaxMind.com")));
  }
  r = GeoIpDatabase::Open(truncated);
  EXPECT_FALSE(r.ok());

  const std::string empty = TempPath("geoip_empty.mmdb");
  { std::ofstream(empty, std::ios::binary); }
  EXPECT_FALSE(GeoIpDatabase::Open(empty).ok());
  for (const auto& p : {garbage, truncated, empty}) std::remove(p.c_str());
}

// Damaged records (pointers past the data section, a node index past the tree) in a file whose
// metadata is fine: lookups answer "unknown" instead of crashing, whatever byte is damaged.
TEST(GatewayGeoIpDatabase, DamagedRecordsAreUnknownNotACrash) {
  std::string bytes = TestDatabase().Build();
  const uint32_t node_count = static_cast<uint32_t>(TestDatabase().node_count());
  const size_t tree_bytes = node_count * 6;
  const std::vector<std::string> probes = {"203.0.113.5", "203.0.113.200", "198.51.100.1", "2001:db8:beef::1",
                                           "2001:db8::1", "192.0.2.1", "8.8.8.8"};
  // Every record in turn points into the 16-byte separator, far past the data section, to the
  // largest 24-bit value, and back to the root (a cycle the bit count must bound).
  for (uint32_t value : {node_count + 1, node_count + 16 + 0xfff00u, 0xffffffu, 0u}) {
    for (size_t record = 0; record < node_count * 2; ++record) {
      std::string damaged = bytes;
      const size_t at = record * 3;
      ASSERT_LT(at + 2, tree_bytes);
      damaged[at] = static_cast<char>(value >> 16);
      damaged[at + 1] = static_cast<char>(value >> 8);
      damaged[at + 2] = static_cast<char>(value);
      const std::string path = TempPath("geoip_damaged.mmdb");
      {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
      }
      auto db = GeoIpDatabase::Open(path);
      if (!db.ok()) continue;  // refusing the file at open is a fine answer too
      for (const auto& p : probes) {
        auto got = Lookup(**db, p);
        if (got) {
          EXPECT_TRUE(got->lat >= -90 && got->lat <= 90 && got->lon >= -180 && got->lon <= 180) << p;
        }
      }
      std::remove(path.c_str());
    }
  }
}

http::Request RequestFrom(const std::string& peer, http::Headers headers = {}) {
  http::Request r;
  r.method = "POST";
  r.target = r.path = "/v1/chat/completions";
  r.remote_address = peer;
  r.headers = std::move(headers);
  return r;
}

TEST(ClientLocatorGeoIp, CidrFirstThenGeoIpThenTheDefault) {
  const std::string path = WriteTestDatabase("geoip_locator.mmdb");
  auto config = ParseGatewayConfig(RegionToml("eu", kFrankfurtLat, kFrankfurtLon, {"127.0.0.1:1"}) +
                                       RegionToml("us", kAshburnLat, kAshburnLon, {"127.0.0.1:2"}) +
                                       "[location]\ndefault_region = \"eu\"\ngeoip_db = \"" + path +
                                       "\"\ntrusted_sources = [\"10.0.0.0/8\"]\n"
                                       "[[location.cidr]]\ncidr = \"203.0.113.0/28\"\nregion = \"us\"\n",
                                   "geoip.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto locator = ClientLocator::Create(*config);
  ASSERT_TRUE(locator.ok()) << locator.status().message();

  ClientLocation at = (*locator)->Locate(RequestFrom("198.51.100.20:5000"));
  EXPECT_EQ(at.source, "geoip");
  EXPECT_DOUBLE_EQ(at.location.lat, kAshburnLat);
  EXPECT_DOUBLE_EQ(at.location.lon, kAshburnLon);
  EXPECT_EQ(at.address, "198.51.100.20:5000");

  at = (*locator)->Locate(RequestFrom("[2001:db8:beef::5]:443"));
  EXPECT_EQ(at.source, "geoip");
  EXPECT_DOUBLE_EQ(at.location.lat, kParisLat);

  at = (*locator)->Locate(RequestFrom("203.0.113.3:1"));  // the CIDR table wins over the database
  EXPECT_EQ(at.source, "cidr");
  EXPECT_EQ(at.region, "us");

  // Behind a trusted proxy the X-Forwarded-For client is looked up, not the proxy.
  at = (*locator)->Locate(RequestFrom("10.1.2.3:999", {{"X-Forwarded-For", "203.0.113.140, 10.9.9.9"}}));
  EXPECT_EQ(at.source, "geoip");
  EXPECT_DOUBLE_EQ(at.location.lat, kSingaporeLat);
  EXPECT_EQ(at.address, "203.0.113.140");
  // From an untrusted peer the header is ignored: the peer itself is unknown, so the default.
  at = (*locator)->Locate(RequestFrom("8.8.8.8:999", {{"X-Forwarded-For", "203.0.113.140"}}));
  EXPECT_EQ(at.source, "default");
  EXPECT_EQ(at.region, "eu");

  at = (*locator)->Locate(RequestFrom("192.0.2.1:1"));  // in the database, but without a location
  EXPECT_EQ(at.source, "default");
  std::remove(path.c_str());
}

// A running gateway: clients of the database's networks (behind a trusted proxy, the loopback
// test client) land in their nearest region.
TEST(GatewayGeoIp, RoutesDatabaseClientsToTheirNearestRegion) {
  const std::string path = WriteTestDatabase("geoip_gateway.mmdb");
  FakeRegion eu("eu"), us("us"), sg("sg");
  auto gw = TestGateway::Start(RegionToml("eu", kFrankfurtLat, kFrankfurtLon, {eu.address()}) +
                               RegionToml("us", kAshburnLat, kAshburnLon, {us.address()}) +
                               RegionToml("sg", kSingaporeLat, kSingaporeLon, {sg.address()}) +
                               "[location]\ndefault_region = \"us\"\ngeoip_db = \"" + path +
                               "\"\ntrusted_sources = [\"127.0.0.1/32\"]\n"
                               "[rtt]\nuse_measured = false\n"  // loopback RTTs are all alike
                               "[health]\ninterval_ms = 200\ntimeout_ms = 5000\n"
                               "[upstream]\nfirst_byte_timeout_ms = 10000\n");
  ASSERT_TRUE(gw);
  http::HttpClient client;
  auto region_for = [&](const std::string& forwarded_for) {
    http::Headers h{{"Content-Type", "application/json"}};
    if (!forwarded_for.empty()) h.Add("X-Forwarded-For", forwarded_for);
    auto r = client.Fetch({"POST", gw->base + "/v1/chat/completions", std::move(h), R"({"messages":[]})"});
    if (!r.ok()) return "error: " + r.status().message();
    return std::string(r->headers.GetOr("x-meridian-region", "none")) + "/" + std::to_string(r->status);
  };
  EXPECT_EQ(region_for("203.0.113.9"), "eu/200");
  EXPECT_EQ(region_for("203.0.113.250"), "sg/200");
  EXPECT_EQ(region_for("198.51.100.4"), "us/200");
  EXPECT_EQ(region_for("2001:db8:77::1"), "sg/200");
  EXPECT_EQ(region_for("2001:db8:beef::1"), "eu/200");  // Paris: Frankfurt is nearest
  EXPECT_EQ(region_for("8.8.8.8"), "us/200");           // unknown: the default region
  EXPECT_EQ(region_for(""), "us/200");                  // loopback itself: unknown
  std::remove(path.c_str());
}

TEST(GatewayGeoIp, ABadDatabaseFailsStartWithTheReason) {
  const std::string missing = TempPath("geoip_gateway_missing.mmdb");
  std::remove(missing.c_str());
  auto config = ParseGatewayConfig(RegionToml("eu", kFrankfurtLat, kFrankfurtLon, {"127.0.0.1:1"}) +
                                       "[location]\ngeoip_db = \"" + missing + "\"\n",
                                   "geoip.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto gw = Gateway::Create(std::move(config).value());
  ASSERT_FALSE(gw.ok());
  EXPECT_NE(gw.status().message().find("cannot open the GeoIP database " + missing), std::string::npos)
      << gw.status().message();

  // The binary: `meridian gateway --check` refuses the file with the reason and exit status 2.
  ASSERT_TRUE(std::filesystem::exists(server::testing::MeridianBinary()))
      << "the meridian binary is not built: " << server::testing::MeridianBinary();
  const std::string corrupt = TempPath("geoip_gateway_corrupt.mmdb");
  { std::ofstream(corrupt, std::ios::binary) << "not a maxmind database\n"; }
  const std::string config_path = TempPath("geoip_gateway_corrupt.toml");
  {
    std::ofstream(config_path) << RegionToml("eu", kFrankfurtLat, kFrankfurtLon, {"127.0.0.1:1"})
                               << "[location]\ngeoip_db = \"" << corrupt << "\"\n";
  }
  int rc = 0;
  const std::string out = server::testing::RunCommand(
      server::testing::ShellQuote(server::testing::MeridianBinary()) + " gateway --check --config " +
          server::testing::ShellQuote(config_path) + " 2>&1",
      &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("cannot open the GeoIP database " + corrupt), std::string::npos) << out;
  EXPECT_NE(out.find("invalid metadata"), std::string::npos) << out;
  EXPECT_EQ(out.find("terminate"), std::string::npos) << out;
  std::remove(corrupt.c_str());
  std::remove(config_path.c_str());
}

}  // namespace
}  // namespace meridian::gateway::testing
