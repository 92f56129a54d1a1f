// Integration: 32 concurrent greedy streams produce the same text as each request run alone, and
// 100 clients that disconnect mid-stream leave the running/waiting/KV gauges at zero within 1 s.
#include <gtest/gtest.h>

#include <cmath>

#include "serve_test_util.h"
#include "server_process.h"

namespace meridian::server::testing {
namespace {

std::string ChatBody(const std::string& content, int max_tokens) {
  json body = {{"messages", json::array({{{"role", "user"}, {"content", content}}})},
               {"max_tokens", max_tokens},
               {"temperature", 0},
               {"stream", true}};
  return body.dump();
}

TEST(ServeConcurrency, ThirtyTwoStreamsMatchTheirSoloRuns) {
  std::string error;
  auto server = ServerProcess::Start({"--parallel", "16", "--queue", "64"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClientOptions options;
  options.max_idle_per_host = 64;
  http::HttpClient client(options);
  const std::vector<std::string> prompts = {
      "Tell me about the city.",
      "What did the committee decide about the new school?",
      "Describe the weather.",
      "Who won the game last night, and how?",
      "Write about a long journey by train across the country in winter.",
      "Why?",
      "What is the church like?",
      "Explain the plan of the government for the farmers of the state.",
  };
  constexpr int kTokens = 24;
  const std::string url = server->base_url() + "/v1/chat/completions";
  std::vector<std::string> solo;
  for (const std::string& p : prompts) {
    StreamCall call;
    call.Start(client, JsonPost(url, ChatBody(p, kTokens)));
    ASSERT_TRUE(call.Wait(std::chrono::seconds(60)));
    StreamResult r = call.result();
    ASSERT_TRUE(r.done) << r.raw;
    solo.push_back(r.text);
  }

  constexpr int kStreams = 32;
  std::vector<std::unique_ptr<StreamCall>> calls;
  for (int i = 0; i < kStreams; ++i) {
    calls.push_back(std::make_unique<StreamCall>());
    calls.back()->Start(client, JsonPost(url, ChatBody(prompts[i % prompts.size()], kTokens)));
  }
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_TRUE(calls[i]->Wait(std::chrono::seconds(120))) << "stream " << i;
    StreamResult r = calls[i]->result();
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.done) << "stream " << i << ": " << r.raw;
    // Needs batch-invariant kernels: a row's logits must not depend on the rows batched with it.
    EXPECT_EQ(r.text, solo[i % prompts.size()]) << "stream " << i << " (prompt " << i % prompts.size() << ")";
  }
}

TEST(ServeConcurrency, HundredDisconnectsFreeEverythingWithinOneSecond) {
  std::string error;
  auto server = ServerProcess::Start({"--parallel", "32", "--queue", "128"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClientOptions options;
  options.max_idle_per_host = 128;
  http::HttpClient client(options);
  constexpr int kClients = 100;
  const std::string url = server->base_url() + "/v1/completions";
  std::vector<std::unique_ptr<StreamCall>> calls;
  for (int i = 0; i < kClients; ++i) {
    calls.push_back(std::make_unique<StreamCall>());
    // Each client hangs up after its second chunk; those still queued hang up below.
    calls.back()->Start(client,
                        JsonPost(url, R"({"prompt":"It was the )" + std::to_string(i) +
                                          R"(th day","max_tokens":400,"temperature":0.8,"stream":true})"),
                        /*cancel_after_chunks=*/2);
  }
  // Let a good share of them get mid-stream, then everyone still connected hangs up.
  const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int midstream = 0;
  while (std::chrono::steady_clock::now() < wait_until) {
    midstream = 0;
    for (auto& c : calls) midstream += c->chunks() > 0 ? 1 : 0;
    if (midstream >= 40) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(midstream, 32) << "too few clients reached mid-stream";
  for (auto& c : calls) c->Cancel();
  for (auto& c : calls) ASSERT_TRUE(c->Wait(std::chrono::seconds(10)));
  const auto all_gone = std::chrono::steady_clock::now();

  double running = NAN, waiting = NAN, kv = NAN;
  double elapsed = 0;
  while (true) {
    auto r = client.Fetch({"GET", server->base_url() + "/metrics", {}, {}});
    ASSERT_TRUE(r.ok());
    running = MetricValue(r->body, "meridian:num_requests_running");
    waiting = MetricValue(r->body, "meridian:num_requests_waiting");
    kv = MetricValue(r->body, "meridian:kv_cache_usage_perc");
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - all_gone).count();
    if ((running == 0 && waiting == 0 && kv == 0) || elapsed > 5) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(running, 0);
  EXPECT_EQ(waiting, 0);
  EXPECT_EQ(kv, 0);
  EXPECT_LE(elapsed, 1.0) << "gauges took " << elapsed << " s to return to zero";

  auto ready = client.Fetch({"GET", server->base_url() + "/ready", {}, {}});
  json report = ParseJson(ready->body);
  EXPECT_EQ(report["kv_blocks_free"], report["kv_blocks_total"]);
  const std::string metrics = client.Fetch({"GET", server->base_url() + "/metrics", {}, {}})->body;
  EXPECT_NE(
      metrics.find("meridian:request_success_total{finished_reason=\"abort\"} " + std::to_string(kClients)),
      std::string::npos)
      << metrics.substr(0, 2000);
}

}  // namespace
}  // namespace meridian::server::testing
