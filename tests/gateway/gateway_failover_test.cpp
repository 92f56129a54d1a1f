// Integration with real `meridian serve` regions (the shipped model) on loopback: kill -9 of a
// region's only server during a bounded run of requests, and the openai npm client through the
// gateway.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>

#include "../server/server_process.h"
#include "gateway_test_util.h"

namespace meridian::gateway::testing {
namespace {

using server::testing::RunCommand;
using server::testing::ServerProcess;
using server::testing::ShellQuote;
using Clock = std::chrono::steady_clock;

const std::string kChat = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":2})";

TEST(GatewayFailover, KillNineOfARegionsOnlyServer) {
  std::string error;
  auto eu = ServerProcess::Start({"--threads", "1"}, &error);
  ASSERT_TRUE(eu) << error;
  auto us = ServerProcess::Start({"--threads", "1"}, &error);
  ASSERT_TRUE(us) << error;
  const uint16_t eu_port = eu->port();
  const int interval_ms = 250;
  auto gw = TestGateway::Start(
      RegionToml("eu", 50.11, 8.68, {"127.0.0.1:" + std::to_string(eu_port)}) +
      RegionToml("us", 38.95, -77.45, {"127.0.0.1:" + std::to_string(us->port())}) +
      "[location]\ndefault_region = \"eu\"\n[rtt]\nuse_measured = false\n"
      "[health]\ninterval_ms = " + std::to_string(interval_ms) +
      "\ntimeout_ms = 1000\neject_base_ms = 500\n"
      // Bounded: while eu is down (long under ASan on a busy machine) each retry of it re-ejects
      // it for twice as long; the restart below must not wait out a doubled-up ejection.
      "eject_max_ms = 2000\n[upstream]\nfirst_byte_timeout_ms = 30000\n");
  ASSERT_TRUE(gw);
  const ServerState* eu_state = gw->gateway->topology()->regions[0].servers[0].state.get();

  constexpr int kRequests = 200;
  std::atomic<int> next{0}, ok{0};
  std::atomic<int64_t> killed_at{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::map<std::string, int> by_region;
  auto worker = [&] {
    http::HttpClient client;
    while (true) {
      int i = next.fetch_add(1);
      if (i >= kRequests) return;
      auto r = client.Fetch({"POST", gw->base + "/v1/chat/completions", {{"Content-Type", "application/json"}}, kChat});
      std::lock_guard lock(mu);
      if (r.ok() && r->status == 200) {
        ++ok;
        ++by_region[std::string(r->headers.GetOr("x-meridian-region", "?"))];
      } else {
        failures.push_back(r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message());
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
  while (next.load() < 40) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const auto kill_time = Clock::now();
  ASSERT_EQ(kill(eu->pid(), SIGKILL), 0);
  // Traffic leaves the dead region: it is out of rotation within 2 probe intervals (passive
  // ejection after its connect failures, or the probes). Slack for a busy CI machine.
  while (eu_state->Available() && Clock::now() - kill_time < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto out_after = Clock::now() - kill_time;
  for (auto& t : threads) t.join();
  eu->Terminate(std::chrono::milliseconds(100));  // reaps it
  EXPECT_EQ(ok.load(), kRequests) << "failures: " << (failures.empty() ? "" : failures[0]);
  EXPECT_TRUE(failures.empty());
  EXPECT_FALSE(eu_state->Available());
  const auto out_ms = std::chrono::duration_cast<std::chrono::milliseconds>(out_after).count();
  std::printf("eu out of rotation %lld ms after kill -9; served: eu %d, us %d\n", static_cast<long long>(out_ms),
              by_region["eu"], by_region["us"]);
  EXPECT_LE(out_ms, 2 * interval_ms + 1000);
  EXPECT_GT(by_region["us"], 0);

  // Restart on the same port: traffic comes back.
  auto again = ServerProcess::Start({"--threads", "1", "--port", std::to_string(eu_port)}, &error);
  ASSERT_TRUE(again) << error;
  http::HttpClient client;
  std::string where;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    auto r = client.Fetch({"POST", gw->base + "/v1/chat/completions", {{"Content-Type", "application/json"}}, kChat});
    where = r.ok() ? std::string(r->headers.GetOr("x-meridian-region", "?")) : r.status().message();
    if (where == "eu") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(where, "eu");
}

TEST(GatewayFailover, OpenAiNodeClientThroughTheGateway) {
  const std::string node_dir = std::string(MERIDIAN_SOURCE_DIR) + "/tests/node";
  int rc = 0;
  const std::string version = RunCommand("node --version 2>/dev/null", &rc);
  if (rc != 0 || version.empty()) GTEST_SKIP() << "node is not installed; the openai client test needs Node.js";
  if (!std::filesystem::exists(node_dir + "/node_modules/openai/package.json")) {
    GTEST_SKIP() << "the openai npm package is missing; run scripts/install-test-clients.sh";
  }
  std::string error;
  auto region = ServerProcess::Start({}, &error);
  ASSERT_TRUE(region) << error;
  auto gw = TestGateway::Start(RegionToml("eu", 50.11, 8.68, {"127.0.0.1:" + std::to_string(region->port())}));
  ASSERT_TRUE(gw);
  const std::string out = RunCommand(
      "cd " + ShellQuote(node_dir) + " && timeout 120 node openai_client_test.mjs " + ShellQuote(gw->base) + " 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"failed\":0"), std::string::npos) << out;
}

}  // namespace
}  // namespace meridian::gateway::testing
