// Unit tests of the gateway's pieces: config errors (file, line, reason), CIDR and client
// location (trusted headers only from trusted sources), the RTT model, policies, the in-region
// picker, load reports, health thresholds and ejection doubling.
#include <gtest/gtest.h>

#include <map>

#include "gateway/cidr.h"
#include "gateway/client_locator.h"
#include "gateway/config.h"
#include "gateway/load_report.h"
#include "gateway/routing_policy.h"
#include "gateway/rtt_model.h"
#include "gateway/server_picker.h"
#include "gateway/server_state.h"
#include "gateway/topology.h"

namespace meridian::gateway {
namespace {

const char* kThreeRegions = R"(
[[region]]
name = "eu"
lat = 50.11
lon = 8.68
servers = ["127.0.0.1:1001", "127.0.0.1:1002"]

[[region]]
name = "us"
lat = 38.95
lon = -77.45
servers = ["127.0.0.1:2001"]

[[region]]
name = "sg"
lat = 1.35
lon = 103.82
servers = ["127.0.0.1:3001"]

[location]
default_region = "eu"
trusted_sources = ["10.0.0.0/8"]

[[location.cidr]]
cidr = "192.0.2.0/24"
region = "us"

[[location.cidr]]
cidr = "198.51.100.0/24"
lat = 1.29
lon = 103.85

[[rtt.link]]
from = "us"
to = "sg"
ms = 220
)";

GatewayConfig Parse(const std::string& text) {
  auto c = ParseGatewayConfig(text, "test.toml");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(c).value() : GatewayConfig{};
}

std::string ParseError(const std::string& text) {
  auto c = ParseGatewayConfig(text, "bad.toml");
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.status().message();
}

TEST(GatewayConfig, ParsesTheExampleFile) {
  auto c = LoadGatewayConfig(std::string(MERIDIAN_SOURCE_DIR) + "/configs/gateway.example.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->regions.size(), 3u);
  EXPECT_EQ(c->regions[0].servers[1].capacity, 2.0);
  EXPECT_EQ(c->routing.policy, "lowest-ttft");
  EXPECT_EQ(c->LinkRtt("us-east", "eu-central").value_or(-1), 90);
}

TEST(GatewayConfig, ErrorsNameFileLineAndReason) {
  EXPECT_EQ(ParseError("[[region]]\nname = \"a\"\nlat = 1\nlon = 2\nservers = [\"nohostport\"]\n"),
            "bad.toml:5: region 'a' server 'nohostport' is not host:port");
  EXPECT_EQ(ParseError("[[region]]\nname = \"a\"\nlat = 100\nlon = 2\nservers = [\"h:1\"]\n"),
            "bad.toml:3: region 'a'.lat is 100; it must be between -90 and 90");
  EXPECT_NE(ParseError("[[region]]\nname = \"a\"\nlat = 1\nlon = 2\nservers = [\"h:1\"]\n[routing]\npolcy = \"x\"\n")
                .find("bad.toml:7: unknown key 'polcy' in [routing]"),
            std::string::npos);
  EXPECT_NE(ParseError("[[region]\n").find("bad.toml:1: "), std::string::npos);
  EXPECT_NE(ParseError("").find("no [[region]]"), std::string::npos);
  EXPECT_NE(ParseError(std::string(kThreeRegions) + "[routing]\npolicy = \"fastest\"\n").find("unknown"),
            std::string::npos);
  EXPECT_NE(ParseError("[[region]]\nname = \"a\"\nlat = 1\nlon = 2\nservers = [\"h:1\"]\n[health]\ninterval_ms = \"1s\"\n")
                .find("bad.toml:7: [health].interval_ms must be a number"),
            std::string::npos);
  EXPECT_NE(ParseError("[[region]]\nname = \"a\"\nlat = 1\nlon = 2\nservers = [\"h:1\"]\n[location]\ntrusted_sources = [\"10.0.0.0/33\"]\n")
                .find("bad.toml:7:"),
            std::string::npos);
}

TEST(Cidr, MatchesV4AndV6LongestPrefix) {
  auto a = ParseCidr("10.0.0.0/8");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->Contains(*ParseIpAddress("10.200.1.1")));
  EXPECT_FALSE(a->Contains(*ParseIpAddress("11.0.0.1")));
  EXPECT_TRUE(a->Contains(*ParseIpAddress("::ffff:10.1.2.3")));
  auto b = ParseCidr("2001:db8::/32");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->Contains(*ParseIpAddress("[2001:db8::1]:443")));
  EXPECT_FALSE(b->Contains(*ParseIpAddress("2001:db9::1")));
  EXPECT_FALSE(ParseCidr("10.0.0.0/33").ok());
  EXPECT_FALSE(ParseCidr("banana").ok());
  EXPECT_FALSE(ParseIpAddress("1.2.3.4.5").has_value());
  CidrTable t;
  t.Add(*ParseCidr("10.0.0.0/8"), 0);
  t.Add(*ParseCidr("10.1.0.0/16"), 1);
  EXPECT_EQ(t.Find(*ParseIpAddress("10.1.2.3")).value(), 1u);
  EXPECT_EQ(t.Find(*ParseIpAddress("10.2.2.3")).value(), 0u);
  EXPECT_FALSE(t.Find(*ParseIpAddress("9.9.9.9")).has_value());
}

http::Request FromPeer(const std::string& peer, http::Headers headers = {}) {
  http::Request r;
  r.remote_address = peer;
  r.headers = std::move(headers);
  return r;
}

TEST(ClientLocator, TrustedHeadersOnlyFromTrustedSources) {
  GatewayConfig c = Parse(kThreeRegions);
  auto locator = ClientLocator::Create(c);
  ASSERT_TRUE(locator.ok());
  const ClientLocator& l = **locator;
  // Trusted peer: explicit location, then region, then X-Forwarded-For into the CIDR table.
  auto p = l.Locate(FromPeer("10.0.0.5:1234", {{"X-Client-Location", "1.3,103.8"}}));
  EXPECT_EQ(p.source, "header-location");
  EXPECT_NEAR(p.location.lat, 1.3, 1e-9);
  p = l.Locate(FromPeer("10.0.0.5:1234", {{"X-Client-Region", "sg"}}));
  EXPECT_EQ(p.source, "header-region");
  EXPECT_EQ(p.region, "sg");
  p = l.Locate(FromPeer("10.0.0.5:1234", {{"X-Forwarded-For", "192.0.2.77, 10.0.0.9"}}));
  EXPECT_EQ(p.source, "cidr");
  EXPECT_EQ(p.region, "us");
  EXPECT_EQ(p.address, "192.0.2.77");
  // Untrusted peer: headers are ignored; its own address is looked up.
  p = l.Locate(FromPeer("198.51.100.4:999", {{"X-Client-Region", "us"}, {"X-Forwarded-For", "192.0.2.1"}}));
  EXPECT_EQ(p.source, "cidr");
  EXPECT_NEAR(p.location.lat, 1.29, 1e-9);
  p = l.Locate(FromPeer("203.0.113.1:5", {{"X-Client-Location", "1,1"}}));
  EXPECT_EQ(p.source, "default");
  EXPECT_EQ(p.region, "eu");
  // Garbage headers from a trusted peer fall through to the next source.
  p = l.Locate(FromPeer("10.0.0.5:1", {{"X-Client-Location", "north"}, {"X-Client-Region", "mars"}}));
  EXPECT_EQ(p.source, "default");
  EXPECT_FALSE(ParseLatLon("91,0").has_value());
  EXPECT_FALSE(ParseLatLon("1;2").has_value());
}

TEST(RttModel, GreatCircleMatchesPublishedDistances) {
  RttConfig rtt;
  LatLon fra{50.11, 8.68}, iad{38.95, -77.45}, sin{1.35, 103.82};
  EXPECT_NEAR(GreatCircleKm(fra, iad), 6520, 60);
  EXPECT_NEAR(GreatCircleKm(fra, sin), 10260, 80);
  EXPECT_NEAR(EstimateRttMs(fra, iad, rtt), 103, 3);
  EXPECT_NEAR(EstimateRttMs(fra, sin, rtt), 162, 3);
  EXPECT_NEAR(EstimateRttMs(fra, fra, rtt), rtt.base_ms, 1e-9);
  RttEwma e;
  EXPECT_LT(e.Value(), 0);
  e.Add(10, 0.5);
  EXPECT_EQ(e.Value(), 10);
  e.Add(20, 0.5);
  EXPECT_EQ(e.Value(), 15);
}

TEST(LoadReport, ParsesTheServersReportAndRejectsGarbage) {
  auto r = ParseLoadReport(
      R"({"ready":false,"status":"saturated","model":"m","running":8,"waiting":3,"max_running":8,"max_waiting":4,"kv_blocks_free":1,"kv_blocks_total":9,"estimated_queue_wait_ms":812.5,"prefill_tokens_per_second":300.0,"decode_tokens_per_second":50.0})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, "saturated");
  EXPECT_EQ(r->waiting, 3);
  EXPECT_EQ(r->estimated_queue_wait_ms, 812.5);
  EXPECT_FALSE(ParseLoadReport("<html>").ok());
  EXPECT_FALSE(ParseLoadReport("{\"ready\":true}").ok());
}

TEST(ServerState, PrefillRateIsSmoothedAndResetByAFreshServer) {
  HealthConfig h;
  ServerState s("eu", "h:1");
  EXPECT_EQ(s.prefill_tokens_per_second(), 0.0);
  LoadReport r;
  r.status = "ready";
  r.prefill_tokens_per_second = 1000;
  s.OnProbeSuccess(r, h);
  EXPECT_DOUBLE_EQ(s.prefill_tokens_per_second(), 1000);
  r.prefill_tokens_per_second = 200;  // one noisy reading moves the estimate a fifth of the way
  s.OnProbeSuccess(r, h);
  EXPECT_DOUBLE_EQ(s.prefill_tokens_per_second(), 1000 + ServerState::kPrefillSmoothing * (200 - 1000));
  r.prefill_tokens_per_second = 0;  // a restarted server has no rate yet
  s.OnProbeSuccess(r, h);
  EXPECT_EQ(s.prefill_tokens_per_second(), 0.0);
}

TEST(ServerState, ProbeThresholdsAndEjectionDoubling) {
  HealthConfig h;
  h.unhealthy_after = 3;
  h.healthy_after = 2;
  h.eject_after = 5;
  h.eject_base = std::chrono::milliseconds(1000);
  h.eject_max = std::chrono::milliseconds(10'000);
  ServerState s("eu", "h:1");
  LoadReport ok;
  ok.status = "ready";
  EXPECT_TRUE(s.healthy());
  EXPECT_FALSE(s.OnProbeSuccess(ok, h));
  EXPECT_FALSE(s.OnProbeFailure("x", h));
  EXPECT_FALSE(s.OnProbeFailure("x", h));
  EXPECT_TRUE(s.healthy());
  EXPECT_TRUE(s.OnProbeFailure("x", h));  // third in a row
  EXPECT_FALSE(s.healthy());
  EXPECT_FALSE(s.OnProbeSuccess(ok, h));
  EXPECT_TRUE(s.OnProbeSuccess(ok, h));
  EXPECT_TRUE(s.healthy());

  auto t0 = ServerState::Clock::now();
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(s.OnRequestOutcome(true, h, t0));
  EXPECT_FALSE(s.OnRequestOutcome(false, h, t0));  // a success resets the streak
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(s.OnRequestOutcome(true, h, t0));
  EXPECT_TRUE(s.OnRequestOutcome(true, h, t0));
  EXPECT_TRUE(s.ejected(t0 + std::chrono::milliseconds(999)));
  EXPECT_FALSE(s.ejected(t0 + std::chrono::milliseconds(1001)));
  auto t1 = t0 + std::chrono::milliseconds(1100);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(s.OnRequestOutcome(true, h, t1));
  EXPECT_TRUE(s.OnRequestOutcome(true, h, t1));
  EXPECT_TRUE(s.ejected(t1 + std::chrono::milliseconds(1999)));  // doubled
  EXPECT_FALSE(s.ejected(t1 + std::chrono::milliseconds(2001)));
  EXPECT_EQ(s.ejections(), 2u);
}

TEST(Routing, PoliciesRankAsDocumented) {
  GatewayConfig c = Parse(kThreeRegions);
  auto topo = Topology::Build(c, nullptr);
  ASSERT_TRUE(topo.ok()) << topo.status().message();
  const Topology& t = **topo;
  auto now = ServerState::Clock::now();
  ClientLocation us_client;
  us_client.location = {40.7, -74.0};
  us_client.source = "header-location";
  auto ranked = t.Score(us_client, 0, now);
  t.policy->Rank(ranked);
  ASSERT_EQ(ranked.size(), 3u);
  EXPECT_EQ(ranked[0].region->config.name, "us");
  EXPECT_EQ(ranked[1].region->config.name, "eu");

  // A configured link wins over the estimate for a client sitting at a region.
  ClientLocation at_us;
  at_us.location = c.FindRegion("us")->location;
  at_us.region = "us";
  at_us.source = "header-region";
  std::string source;
  EXPECT_EQ(t.RttMs(at_us, t.regions[2], now, &source), 220);
  EXPECT_EQ(source, "configured");

  // Saturate "us": its queue wait now exceeds the RTT difference to "eu", so lowest-ttft
  // spills to eu while nearest stays.
  LoadReport full;
  full.status = "saturated";
  full.max_running = 8;
  full.estimated_queue_wait_ms = 900;
  t.regions[1].servers[0].state->OnProbeSuccess(full, c.health);
  ranked = t.Score(us_client, 0, now);
  t.policy->Rank(ranked);
  EXPECT_EQ(ranked[0].region->config.name, "eu");
  EXPECT_GE(ranked.back().queue_wait_ms, 5000);  // saturated_wait_ms floor
  auto nearest = MakeNearestPolicy();
  ranked = t.Score(us_client, 0, now);
  nearest->Rank(ranked);
  EXPECT_EQ(ranked[0].region->config.name, "us");
  auto rr = MakeRoundRobinPolicy();
  std::map<std::string, int> firsts;
  for (int i = 0; i < 6; ++i) {
    ranked = t.Score(us_client, 0, now);
    rr->Rank(ranked);
    ++firsts[ranked[0].region->config.name];
  }
  EXPECT_EQ(firsts["us"], 2);
  EXPECT_EQ(firsts["eu"], 2);
  EXPECT_EQ(firsts["sg"], 2);
}

TEST(Routing, LowestTtftKeepsTheNearestRegionWithinTheSwitchMargin) {
  auto candidate = [](double rtt, double ttft) {
    RegionCandidate c;
    c.rtt_ms = rtt;
    c.expected_ttft_ms = ttft;
    c.queue_wait_ms = ttft - rtt;
    return c;
  };
  auto policy = MakeLowestTtftPolicy(25);
  // The far region (rtt 200) looks 10 ms faster by its noisy estimates: the near one stays first.
  std::vector<RegionCandidate> v = {candidate(200, 300), candidate(100, 310)};
  policy->Rank(v);
  EXPECT_EQ(v[0].rtt_ms, 100);
  EXPECT_EQ(v[1].rtt_ms, 200);
  // 60 ms faster is past the margin: the far region wins.
  v = {candidate(200, 300), candidate(100, 360)};
  policy->Rank(v);
  EXPECT_EQ(v[0].rtt_ms, 200);
  // Without a margin the lowest estimate always wins.
  v = {candidate(200, 300), candidate(100, 310)};
  MakeLowestTtftPolicy(0)->Rank(v);
  EXPECT_EQ(v[0].rtt_ms, 200);
}

TEST(Routing, PickerPrefersLessLoadedAndSkipsUnavailable) {
  GatewayConfig c = Parse(kThreeRegions);
  auto topo = Topology::Build(c, nullptr);
  ASSERT_TRUE(topo.ok());
  const RegionView& eu = (*topo)->regions[0];
  auto now = ServerState::Clock::now();
  eu.servers[0].state->outstanding = 10;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(PickServer(eu, {}, now).value(), 1u);
  EXPECT_EQ(PickServer(eu, {eu.servers[1].state.get()}, now).value(), 0u);
  EXPECT_FALSE(PickServer(eu, {eu.servers[0].state.get(), eu.servers[1].state.get()}, now).has_value());
  HealthConfig h;
  h.unhealthy_after = 1;
  eu.servers[1].state->OnProbeFailure("down", h);
  EXPECT_EQ(PickServer(eu, {}, now).value(), 0u);
  // Reload keeps state by (region, address).
  auto again = Topology::Build(c, topo->get());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->regions[0].servers[1].state.get(), eu.servers[1].state.get());
}

}  // namespace
}  // namespace meridian::gateway
