// The runner and OpenAiCall end to end: against a test upstream on the http library that streams
// SSE with known timing (and fails on purpose when asked), and against a real `meridian serve`.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "../server/server_process.h"
#include "http/http_server.h"
#include "http/response_writer.h"
#include "http/router.h"
#include "loadgen/runner.h"
#include "loadgen/summary.h"

namespace meridian::loadgen {
namespace {

using namespace std::chrono_literals;

constexpr int kTtftMs = 60;  // the upstream's delay before the first token
constexpr int kItlMs = 25;   // and between tokens
constexpr int kTokens = 5;

//! Answers /v1/chat/completions by the request's "model": "ok" streams kTokens tokens with known
//! timing, "busy" is a 429, "broken" a 500, "cut" closes the stream after two tokens.
class TestUpstream {
 public:
  TestUpstream() {
    http::Router router;
    router.Post("/v1/chat/completions", [this](http::Request request, std::shared_ptr<http::ResponseWriter> w) {
      const auto body = nlohmann::json::parse(request.body, nullptr, false);
      const std::string mode = body.is_object() ? body.value("model", "ok") : "bad";
      if (mode == "busy") {
        w->SendError(429, "queue full");
        return;
      }
      if (mode == "broken") {
        w->SendError(500, "engine failed");
        return;
      }
      std::lock_guard lock(mutex_);
      threads_.emplace_back([w, mode] {
        std::this_thread::sleep_for(std::chrono::milliseconds(kTtftMs));
        w->BeginEventStream();
        for (int i = 0; i < kTokens; ++i) {
          if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kItlMs));
          if (mode == "cut" && i == 2) {
            w->Abort();
            return;
          }
          nlohmann::json chunk = {{"choices", {{{"index", 0}, {"delta", {{"content", "tok "}}}}}}};
          w->WriteEvent(chunk.dump());
        }
        w->WriteEvent(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}})");
        w->WriteEvent("[DONE]");
        w->End();
      });
    });
    http::HttpServerOptions options;
    options.access_log = false;
    server_ = std::make_unique<http::HttpServer>(options, std::move(router));
    EXPECT_TRUE(server_->Start().ok());
  }
  ~TestUpstream() {
    {
      std::lock_guard lock(mutex_);
      for (auto& t : threads_) t.join();
    }
    server_->Shutdown(0ms);
    server_->Wait();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

 private:
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

RunOptions Options(const std::string& url, const std::string& mode, int requests) {
  RunOptions o;
  o.base_url = url;
  o.workload.model = mode;
  o.workload.prompt_words = {4, 4};
  o.workload.output_tokens = {kTokens, kTokens};
  o.requests = requests;
  o.concurrency = 2;
  o.request_timeout_s = 20;
  return o;
}

TEST(RunnerTest, MeasuresTtftAndInterTokenLatencyOfAKnownStream) {
  TestUpstream upstream;
  auto result = loadgen::Run(Options(upstream.url(), "ok", 6));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->records.size(), 6u);
  for (const auto& r : result->records) {
    ASSERT_TRUE(r.ok()) << ErrorKindName(r.error) << ": " << r.error_message;
    EXPECT_EQ(r.token_ms.size(), static_cast<size_t>(kTokens));
    EXPECT_EQ(r.output_tokens, 5);  // from the usage chunk
    EXPECT_EQ(r.prompt_tokens, 3);
  }
  const Summary s = Summary::Of(result->records, result->duration_s, *ParseSlo("ttft=10s,itl=10s"));
  // Lower bounds are exact (the upstream cannot answer early); upper bounds allow a busy machine.
  EXPECT_GE(s.ttft_ms.min, kTtftMs);
  EXPECT_LE(s.ttft_ms.p50, kTtftMs + 200);
  EXPECT_EQ(s.itl_ms.count, 6u * (kTokens - 1));
  EXPECT_GE(s.itl_ms.p50, kItlMs - 5);  // a gap can shrink only by the previous chunk's lateness
  EXPECT_LE(s.itl_ms.p50, kItlMs + 100);
  EXPECT_GE(s.e2e_ms.min, kTtftMs + (kTokens - 1) * kItlMs);
  EXPECT_EQ(s.goodput_requests, 6u);
  EXPECT_EQ(s.output_tokens, 30u);
  EXPECT_NEAR(s.output_tokens_per_s, 30 / result->duration_s, 1e-9);
  // A tight SLO no request can meet: goodput 0 though every request succeeded.
  EXPECT_EQ(Summary::Of(result->records, result->duration_s, *ParseSlo("ttft=1ms")).goodput_requests, 0u);
}

TEST(RunnerTest, ClassifiesErrors) {
  TestUpstream upstream;
  struct Case {
    std::string mode;
    ErrorKind kind;
    bool streamed;
  };
  for (const Case& c : {Case{"busy", ErrorKind::kHttp429, false}, Case{"broken", ErrorKind::kHttp5xx, false},
                        Case{"cut", ErrorKind::kMidStreamClose, true}}) {
    auto result = loadgen::Run(Options(upstream.url(), c.mode, 2));
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(result->records.size(), 2u);
    for (const auto& r : result->records) {
      EXPECT_EQ(r.error, c.kind) << c.mode << ": " << ErrorKindName(r.error) << " " << r.error_message;
      EXPECT_EQ(r.started_streaming(), c.streamed) << c.mode;
    }
  }
  uint16_t dead_port;
  {
    http::HttpServer gone(http::HttpServerOptions{}, http::Router{});
    ASSERT_TRUE(gone.Start().ok());
    dead_port = gone.port();
  }
  auto refused = loadgen::Run(Options("http://127.0.0.1:" + std::to_string(dead_port), "ok", 2));
  ASSERT_TRUE(refused.ok());
  for (const auto& r : refused->records) EXPECT_EQ(r.error, ErrorKind::kConnectRefused) << r.error_message;
}

TEST(RunnerTest, ColdConnectionsAreNotReused) {
  TestUpstream upstream;
  RunOptions warm = Options(upstream.url(), "ok", 4);
  warm.concurrency = 1;
  warm.warmup = 1;
  auto w = loadgen::Run(warm);
  ASSERT_TRUE(w.ok());
  for (const auto& r : w->records) EXPECT_TRUE(r.reused_connection);
  RunOptions cold = warm;
  cold.call.cold = true;
  auto c = loadgen::Run(cold);
  ASSERT_TRUE(c.ok());
  for (const auto& r : c->records) EXPECT_FALSE(r.reused_connection);
}

TEST(RunnerTest, OpenLoopAndDurationBound) {
  TestUpstream upstream;
  RunOptions o = Options(upstream.url(), "ok", 0);
  o.rate = 20;
  o.concurrency = 64;
  o.duration_s = 0.5;
  const auto start = std::chrono::steady_clock::now();
  auto result = loadgen::Run(o);
  ASSERT_TRUE(result.ok());
  EXPECT_GE(result->records.size(), 2u);   // ~10 expected; Poisson, so bounds are loose
  EXPECT_LE(result->records.size(), 40u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  RunOptions unbounded = o;
  unbounded.duration_s = 0;
  EXPECT_FALSE(loadgen::Run(unbounded).ok());
}

TEST(RunnerTest, AgainstTheRealServerWithTheShippedModel) {
  std::string error;
  auto server = server::testing::ServerProcess::Start({"--parallel", "2"}, &error);
  ASSERT_TRUE(server) << error;
  for (bool stream : {true, false}) {
    RunOptions o;
    o.base_url = server->base_url();
    o.workload.stream = stream;
    o.workload.prompt_words = {8, 8};
    o.workload.output_tokens = {8, 8};
    o.requests = 3;
    o.concurrency = 2;
    auto result = loadgen::Run(o);
    ASSERT_TRUE(result.ok());
    const Summary s = Summary::Of(result->records, result->duration_s, Slo{});
    EXPECT_EQ(s.ok, 3u) << (s.errors.empty() ? "" : s.errors.begin()->first);
    EXPECT_GT(s.output_tokens, 0u);
    EXPECT_GT(s.ttft_ms.min, 0);
    EXPECT_LE(s.ttft_ms.max, s.e2e_ms.max);
    if (stream) EXPECT_GT(s.itl_ms.count, 0u);
  }
}

}  // namespace
}  // namespace meridian::loadgen
