// Integration: an in-process gateway in front of fake regions and misbehaving upstreams on
// loopback: routing by trusted headers and CIDR, spill-over of a saturated region, retries on
// 503/429/connect failure/hang/garbage, no retry after the first byte, 503 when nothing is
// healthy, client disconnect closing the upstream, bad client input, reload.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "../server/server_process.h"
#include "gateway_test_util.h"
#include "http/sse.h"

namespace meridian::gateway::testing {
namespace {

using server::testing::RawConnection;

const std::string kChat = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":4})";

// Timeouts far above anything a healthy loopback exchange needs, also on a busy 2-core CI machine
// running sanitized tests in parallel (stalls of a few hundred ms happen there): no test here
// depends on one of these firing.
std::string Common(int interval_ms = 100) {
  return "[health]\ninterval_ms = " + std::to_string(interval_ms) +
         "\ntimeout_ms = 5000\neject_base_ms = 60000\n"
         "[upstream]\nconnect_timeout_ms = 5000\nfirst_byte_timeout_ms = 10000\nidle_timeout_ms = 10000\n";
}

Result<http::ClientResponse> Chat(http::HttpClient& client, const std::string& base, http::Headers headers = {}) {
  headers.Add("Content-Type", "application/json");
  return client.Fetch({"POST", base + "/v1/chat/completions", std::move(headers), kChat});
}

std::string RegionOf(const Result<http::ClientResponse>& r) {
  if (!r.ok()) return "error: " + r.status().message();
  return std::string(r->headers.GetOr("x-meridian-region", "none")) + "/" + std::to_string(r->status);
}

TEST(GatewayProxy, RoutesByTrustedHeadersAndCidr) {
  FakeRegion eu("eu"), us("us"), sg("sg");
  std::string config = RegionToml("eu", 50.11, 8.68, {eu.address()}) + RegionToml("us", 38.95, -77.45, {us.address()}) +
                       RegionToml("sg", 1.35, 103.82, {sg.address()}) +
                       "[location]\ndefault_region = \"eu\"\ntrusted_sources = [\"127.0.0.1/32\"]\n"
                       "[[location.cidr]]\ncidr = \"192.0.2.0/24\"\nregion = \"us\"\n"
                       "[[location.cidr]]\ncidr = \"198.51.100.0/24\"\nlat = 1.29\nlon = 103.85\n"
                       "[rtt]\nuse_measured = false\n" +  // loopback RTTs are all alike
                       Common();
  auto gw = TestGateway::Start(config);
  ASSERT_TRUE(gw);
  http::HttpClient client;
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");
  EXPECT_EQ(RegionOf(Chat(client, gw->base, {{"X-Client-Region", "sg"}})), "sg/200");
  EXPECT_EQ(RegionOf(Chat(client, gw->base, {{"X-Client-Location", "40.7,-74.0"}})), "us/200");
  EXPECT_EQ(RegionOf(Chat(client, gw->base, {{"X-Forwarded-For", "192.0.2.10"}})), "us/200");
  EXPECT_EQ(RegionOf(Chat(client, gw->base, {{"X-Forwarded-For", "198.51.100.7"}})), "sg/200");
  // The upstream sees the client chain and the gateway's request id.
  auto r = Chat(client, gw->base, {{"X-Forwarded-For", "198.51.100.7"}, {"X-Request-Id", "abc-123"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->headers.GetOr("x-request-id", ""), "abc-123");
  EXPECT_EQ(sg.last_headers().GetOr("x-request-id", ""), "abc-123");
  EXPECT_EQ(sg.last_headers().GetOr("x-forwarded-for", ""), "198.51.100.7, 127.0.0.1");

  // The same headers from an untrusted source are ignored.
  std::string untrusted = config;
  untrusted.replace(untrusted.find("[\"127.0.0.1/32\"]"), 16, "[\"10.0.0.0/8\"]");
  auto gw2 = TestGateway::Start(untrusted);
  ASSERT_TRUE(gw2);
  EXPECT_EQ(RegionOf(Chat(client, gw2->base, {{"X-Client-Region", "sg"}})), "eu/200");
  EXPECT_EQ(RegionOf(Chat(client, gw2->base, {{"X-Forwarded-For", "192.0.2.10"}})), "eu/200");
}

TEST(GatewayProxy, SaturatedNearRegionSpillsWhenTheFarOneIsFaster) {
  FakeRegion eu("eu"), us("us");
  auto gw = TestGateway::Start(RegionToml("eu", 50.11, 8.68, {eu.address()}) +
                               RegionToml("us", 38.95, -77.45, {us.address()}) +
                               "[location]\ndefault_region = \"eu\"\ntrusted_sources = [\"127.0.0.1/32\"]\n"
                               "[rtt]\nuse_measured = false\n" + Common(50));
  ASSERT_TRUE(gw);
  http::HttpClient client;
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");
  // eu reports 500 ms of queue: more than the ~100 ms extra RTT to us.
  eu.SetReport("ready", 500);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string where;
  while (std::chrono::steady_clock::now() < deadline && (where = RegionOf(Chat(client, gw->base))) != "us/200") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(where, "us/200");
  // A client in Asia: us is ~160+ ms away and eu ~162 ms + 500 ms queue: still us.
  EXPECT_EQ(RegionOf(Chat(client, gw->base, {{"X-Client-Location", "1.35,103.82"}})), "us/200");
  // A small queue (50 ms) is not worth a 100 ms detour: traffic comes back to eu.
  eu.SetReport("ready", 50);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline && (where = RegionOf(Chat(client, gw->base))) != "eu/200") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(where, "eu/200");
}

TEST(GatewayProxy, RetriesBusyDeadHungAndGarbageUpstreamsElsewhere) {
  FakeRegion eu("eu"), us("us");
  RawUpstream garbage(RawUpstream::Mode::kGarbage);
  // "bad" stands where the clients are and eu ~45 km away (~0.7 ms more estimated RTT): every
  // request ranks bad first, eu second (a strict order, not a tie that load-report timing could break).
  auto gw = TestGateway::Start(RegionToml("bad", 50.11, 8.68, {garbage.address()}) +
                               RegionToml("eu", 50.51, 8.68, {eu.address()}) +
                               RegionToml("us", 38.95, -77.45, {us.address()}) +
                               "[location]\ndefault_lat = 50.11\ndefault_lon = 8.68\n[rtt]\nuse_measured = false\n" +
                               "[health]\ninterval_ms = 100\ntimeout_ms = 5000\neject_after = 100\n"
                               // the hung upstream is given up on after 1.5 s: the one deliberate timeout
                               "[upstream]\nconnect_timeout_ms = 5000\nfirst_byte_timeout_ms = 1500\n");
  ASSERT_TRUE(gw);
  http::HttpClient client;
  // Every request hits "bad" (garbage) first, fails, and goes on to eu.
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");
  EXPECT_GE(garbage.requests.load(), 1);
  for (auto mode : {FakeRegion::Mode::kBusy503, FakeRegion::Mode::kBusy429, FakeRegion::Mode::kHang}) {
    eu.mode = mode;
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(RegionOf(Chat(client, gw->base)), "us/200") << static_cast<int>(mode);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  }
  // Everything busy: the last busy answer's status comes back, OpenAI-shaped.
  eu.mode = FakeRegion::Mode::kBusy503;
  us.mode = FakeRegion::Mode::kBusy429;
  auto r = Chat(client, gw->base);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->status == 429 || r->status == 503) << r->status;
  EXPECT_NE(r->body.find("\"error\""), std::string::npos) << r->body;  // the region's own answer, passed on
  auto metrics = client.Fetch({"GET", gw->base + "/metrics", {}, {}});
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("meridian_gateway_retries_total{region=\"bad\"}"), std::string::npos);
  EXPECT_NE(metrics->body.find("meridian_gateway_failovers_total"), std::string::npos);
}

TEST(GatewayProxy, NoHealthyServerIsAClear503AtOnce) {
  auto gw = TestGateway::Start(RegionToml("eu", 50.11, 8.68, {DeadAddress()}) +
                               RegionToml("us", 38.95, -77.45, {DeadAddress()}) + Common());
  ASSERT_TRUE(gw);
  http::HttpClient client;
  auto start = std::chrono::steady_clock::now();
  auto r = Chat(client, gw->base);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));  // below connect_timeout: no waiting
  EXPECT_NE(r->body.find("\"code\":\"no_healthy_upstream\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"type\":\"server_error\""), std::string::npos);
  EXPECT_EQ(r->headers.GetOr("retry-after", ""), "1");
  auto regions = client.Fetch({"GET", gw->base + "/gateway/regions", {}, {}});
  ASSERT_TRUE(regions.ok());
  EXPECT_NE(regions->body.find("\"healthy\":false"), std::string::npos) << regions->body;
  EXPECT_NE(regions->body.find("Connection refused"), std::string::npos) << regions->body;
  auto ready = client.Fetch({"GET", gw->base + "/ready", {}, {}});
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503);
}

TEST(GatewayProxy, StreamsChunkByChunkAndNeverRetriesAfterTheFirstByte) {
  FakeRegion eu("eu"), us("us");
  RawUpstream cut(RawUpstream::Mode::kMidStream);
  // "cut" stands where the clients are, eu ~45 km away: the request goes to cut first.
  auto gw = TestGateway::Start(RegionToml("cut", 50.11, 8.68, {cut.address()}) +
                               RegionToml("eu", 50.51, 8.68, {eu.address()}) +
                               RegionToml("us", 38.95, -77.45, {us.address()}) +
                               "[location]\ndefault_lat = 50.11\ndefault_lon = 8.68\n[rtt]\nuse_measured = false\n" +
                               Common());
  ASSERT_TRUE(gw);
  http::HttpClient client;
  std::string body;
  auto r = client.FetchStreaming({"POST", gw->base + "/v1/chat/completions", {}, kChat}, [&](std::string_view p) {
    body.append(p);
    return true;
  });
  EXPECT_FALSE(r.ok());  // cut off: a truncated chunked body, not a clean end
  EXPECT_NE(body.find("data: {\"i\":0}"), std::string::npos);
  EXPECT_EQ(eu.requests.load() + us.requests.load(), 0);
  EXPECT_EQ(cut.requests.load(), 1);

  // A healthy stream arrives piece by piece: the first event before the last was produced.
  eu.mode = FakeRegion::Mode::kStream;
  eu.stream_events = 10;
  eu.stream_gap_ms = 100;
  auto gw2 = TestGateway::Start(RegionToml("eu", 50.11, 8.68, {eu.address()}) + Common());
  ASSERT_TRUE(gw2);
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first{}, last{};
  int events = 0;
  http::SseParser parser([&](const http::SseEvent&) {
    auto now = std::chrono::steady_clock::now();
    if (events++ == 0) first = now;
    last = now;
  });
  r = client.FetchStreaming({"POST", gw2->base + "/v1/chat/completions", {}, kChat}, [&](std::string_view p) {
    parser.Feed(p);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->headers.GetOr("content-type", ""), "text/event-stream");
  EXPECT_EQ(events, 11);
  EXPECT_GT(last - first, std::chrono::milliseconds(500));  // 10 gaps of 100 ms, not one burst
  (void)start;
}

TEST(GatewayProxy, ClientDisconnectClosesTheUpstreamStream) {
  FakeRegion eu("eu");
  eu.mode = FakeRegion::Mode::kStream;
  eu.stream_events = 100000;
  eu.stream_gap_ms = 10;
  auto gw = TestGateway::Start(RegionToml("eu", 50.11, 8.68, {eu.address()}) + Common());
  ASSERT_TRUE(gw);
  RawConnection c(gw->gateway->ports()[0]);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: " + std::to_string(kChat.size()) + "\r\n\r\n" + kChat));
  std::string got;
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       got.find("data: {\"i\":") == std::string::npos && std::chrono::steady_clock::now() < until;) {
    got += c.Read(std::chrono::milliseconds(50));
  }
  ASSERT_NE(got.find("data: {\"i\":"), std::string::npos) << got;
  const int64_t closed_client = FakeRegion::Now();
  c.Close();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (eu.closed_at_ns.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_NE(eu.closed_at_ns.load(), 0) << "the upstream stream was not closed";
  const double ms = (eu.closed_at_ns.load() - closed_client) / 1e6;
  std::printf("upstream closed %.1f ms after the client disconnected\n", ms);
  // The spec's bound is 100 ms; a loaded CI machine (sanitizers, parallel tests) gets slack.
  EXPECT_LT(ms, 1000.0);
}

TEST(GatewayProxy, BadClientInputIsAnsweredNotCrashed) {
  FakeRegion eu("eu");
  auto gw = TestGateway::Start("[[listener]]\nport = 0\nheader_timeout_ms = 300\nmax_header_bytes = 2048\n" +
                               RegionToml("eu", 50.11, 8.68, {eu.address()}) + Common());
  ASSERT_TRUE(gw);
  uint16_t port = gw->gateway->ports()[0];
  {
    RawConnection c(port);
    ASSERT_TRUE(c.Send("THIS IS NOT HTTP\r\n\r\n"));
    EXPECT_NE(c.Read(std::chrono::milliseconds(2000)).find("HTTP/1.1 400"), std::string::npos);
  }
  {
    RawConnection c(port);
    ASSERT_TRUE(c.Send("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n"));
    EXPECT_NE(c.Read(std::chrono::milliseconds(2000)).find("HTTP/1.1 431"), std::string::npos);
  }
  {
    RawConnection c(port);  // slowloris: a header that never ends
    ASSERT_TRUE(c.Send("GET /v1/models HTTP/1.1\r\nHost: x\r\n"));
    bool eof = false;
    std::string got;
    for (int i = 0; i < 10 && !eof; ++i) {
      c.Send("X-A: b\r\n");
      got += c.Read(std::chrono::milliseconds(200), &eof);
    }
    EXPECT_NE(got.find("HTTP/1.1 408"), std::string::npos) << got;
  }
  EXPECT_EQ(eu.requests.load(), 0);
  http::HttpClient client;
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");  // still serving
}

TEST(GatewayProxy, ReloadSwapsRegionsAndKeepsTheOldConfigOnABadFile) {
  FakeRegion eu("eu"), us("us");
  std::string base_config = RegionToml("eu", 50.11, 8.68, {eu.address()}) + Common();
  auto gw = TestGateway::Start(base_config);
  ASSERT_TRUE(gw);
  http::HttpClient client;
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");
  const std::string path = ::testing::TempDir() + "/gateway_reload_" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream(path) << "[[region]]\nname = \"us\"\nlat = 1\nlon = 2\nservers = [\"oops\"]\n";
  }
  Status bad = gw->gateway->ReloadFromFile(path);
  EXPECT_NE(bad.message().find(path + ":5:"), std::string::npos) << bad.message();
  EXPECT_EQ(RegionOf(Chat(client, gw->base)), "eu/200");
  {
    std::ofstream(path) << RegionToml("us", 38.95, -77.45, {us.address()}) + Common();
  }
  ASSERT_TRUE(gw->gateway->ReloadFromFile(path).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string where;
  while (std::chrono::steady_clock::now() < deadline && (where = RegionOf(Chat(client, gw->base))) != "us/200") {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(where, "us/200");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace meridian::gateway::testing
