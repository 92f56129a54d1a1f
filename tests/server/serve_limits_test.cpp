// Integration: API keys (401 without a valid bearer, keys never logged), a burst of 10x capacity
// answered with fast 429s + Retry-After while admitted requests complete, and graceful shutdown
// (SIGTERM lets a running stream finish, then the process exits 0).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "serve_test_util.h"
#include "server_process.h"

namespace meridian::server::testing {
namespace {

TEST(ServeLimits, ApiKeysAreRequiredAndNeverLogged) {
  const std::string key = "sk-meridian-test-7f3a9c";
  const std::string path =
      std::filesystem::temp_directory_path() / ("meridian_keys_" + std::to_string(getpid()));
  std::ofstream(path) << "# test keys\nsk-other-key\n" << key << "\n";
  std::string error;
  auto server = ServerProcess::Start({"--api-key-file", path}, &error);
  std::filesystem::remove(path);
  ASSERT_TRUE(server) << error;
  http::HttpClient client;
  const std::string url = server->base_url() + "/v1/completions";
  const std::string body = R"({"prompt":"It","max_tokens":2})";

  auto missing = client.Fetch(JsonPost(url, body));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(ParseJson(missing->body)["error"]["code"], "invalid_api_key");
  EXPECT_EQ(missing->headers.GetOr("www-authenticate", ""), "Bearer");

  auto wrong = client.Fetch(JsonPost(url, body, {{"Authorization", "Bearer " + key + "x"}}));
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  auto basic = client.Fetch(JsonPost(url, body, {{"Authorization", "Basic " + key}}));
  EXPECT_EQ(basic->status, 401);
  auto models = client.Fetch({"GET", server->base_url() + "/v1/models", {}, {}});
  EXPECT_EQ(models->status, 401);

  auto ok = client.Fetch(JsonPost(url, body, {{"Authorization", "Bearer " + key}}));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body;
  int rc = 0;
  const std::string curl_out = RunCommand(
      "timeout 30 curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -H " +
          ShellQuote("Authorization: Bearer " + key) + " " + ShellQuote(server->base_url() + "/v1/models"),
      &rc);
  EXPECT_EQ(curl_out, "200");

  // Probes stay open for the orchestrator.
  EXPECT_EQ(client.Fetch({"GET", server->base_url() + "/health", {}, {}})->status, 200);
  EXPECT_EQ(client.Fetch({"GET", server->base_url() + "/ready", {}, {}})->status, 200);
  EXPECT_EQ(client.Fetch({"GET", server->base_url() + "/metrics", {}, {}})->status, 200);

  const std::string logs = server->Logs();
  EXPECT_EQ(logs.find(key), std::string::npos) << "an API key leaked into the log";
  EXPECT_NE(logs.find("\"status\":401"), std::string::npos);
}

TEST(ServeLimits, BurstOfTenTimesCapacityGetsFast429s) {
  std::string error;
  auto server = ServerProcess::Start({"--parallel", "2", "--queue", "2"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClientOptions options;
  options.max_idle_per_host = 64;
  http::HttpClient client(options);
  constexpr int kRequests = 40;  // capacity is 2 running + 2 waiting
  struct Outcome {
    int status = 0;
    double seconds = 0;
    std::string retry_after;
    std::string body;
  };
  std::vector<Outcome> outcomes(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = client.Fetch(JsonPost(server->base_url() + "/v1/completions",
                                     R"({"prompt":"It was","max_tokens":48,"temperature":0})"));
      outcomes[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) return;
      outcomes[i].status = r->status;
      outcomes[i].retry_after = std::string(r->headers.GetOr("retry-after", ""));
      outcomes[i].body = r->body;
    });
  }
  for (auto& t : threads) t.join();
  std::string summary;  // status@seconds of every request, for the failure messages
  for (const Outcome& o : outcomes)
    summary += std::to_string(o.status) + "@" + std::to_string(o.seconds) + " ";
  int ok = 0, rejected = 0;
  double slowest_429 = 0;
  for (const Outcome& o : outcomes) {
    if (o.status == 200) {
      ++ok;
      EXPECT_EQ(ParseJson(o.body)["usage"]["completion_tokens"], 48) << o.body;
    } else {
      EXPECT_EQ(o.status, 429) << o.body << "\n" << summary;
      EXPECT_TRUE(IsOpenAiError(o.body)) << o.body;
      EXPECT_GE(std::atoi(o.retry_after.c_str()), 1) << "Retry-After: '" << o.retry_after << "'";
      slowest_429 = std::max(slowest_429, o.seconds);
      ++rejected;
    }
  }
  // The running slots and the queue are both filled (the queue limit counts only requests beyond
  // the free slots, so a burst that outpaces the engine loop still gets 2 + 2), and every admitted
  // request completes.
  EXPECT_GE(ok, 4) << summary;
  EXPECT_GE(rejected, kRequests / 2) << summary;
  EXPECT_EQ(ok + rejected, kRequests) << summary;
  EXPECT_LT(slowest_429, 1.0) << "429s must come at once, not after queueing\n" << summary;
  const std::string metrics = client.Fetch({"GET", server->base_url() + "/metrics", {}, {}})->body;
  EXPECT_NE(metrics.find("meridian:requests_total{endpoint=\"completions\",status=\"429\"} " +
                         std::to_string(rejected)),
            std::string::npos)
      << metrics;
}

TEST(ServeLimits, ZeroQueueServesWhatFitsTheSlots) {
  std::string error;
  auto server = ServerProcess::Start({"--parallel", "1", "--queue", "0"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClient client;
  auto r = client.Fetch(JsonPost(server->base_url() + "/v1/completions",
                                 R"({"prompt":"It was","max_tokens":4,"temperature":0})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST(ServeLimits, SigtermLetsRunningStreamsFinishThenExitsZero) {
  std::string error;
  auto server = ServerProcess::Start({"--shutdown-grace", "20"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClient client;
  StreamCall stream;
  stream.Start(client, JsonPost(server->base_url() + "/v1/chat/completions",
                                R"({"messages":[{"role":"user","content":"Go on."}],"max_tokens":400,)"
                                R"("temperature":0,"stream":true})"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (stream.chunks() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(stream.chunks(), 0);
  kill(server->pid(), SIGTERM);
  ASSERT_TRUE(stream.Wait(std::chrono::seconds(30)));
  StreamResult r = stream.result();
  EXPECT_TRUE(r.done) << r.raw;
  EXPECT_TRUE(r.finish_reason == "length" || r.finish_reason == "stop") << r.finish_reason;
  EXPECT_EQ(server->Terminate(std::chrono::seconds(20)), 0) << server->Logs();
}

}  // namespace
}  // namespace meridian::server::testing
