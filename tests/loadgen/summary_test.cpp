// Summary, Percentile, SLO and length parsing, request bodies, error classification: the load
// generator's arithmetic on hand-made records with known answers.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "loadgen/openai_call.h"
#include "loadgen/summary.h"
#include "loadgen/workload.h"

namespace meridian::loadgen {
namespace {

RequestRecord Ok(double ttft, std::vector<double> tokens, double e2e, int output_tokens) {
  RequestRecord r;
  r.http_status = 200;
  r.ttft_ms = ttft;
  r.token_ms = std::move(tokens);
  r.e2e_ms = e2e;
  r.output_tokens = output_tokens;
  return r;
}

TEST(PercentileTest, InterpolatesBetweenClosestRanks) {
  const std::vector<double> v = {40, 10, 30, 20};  // sorted: 10 20 30 40
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 10);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 25);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 40);
  EXPECT_NEAR(Percentile(v, 90), 37, 1e-9);  // rank 2.7
  EXPECT_NEAR(Percentile(v, 99), 39.7, 1e-9);
  EXPECT_DOUBLE_EQ(Percentile({7}, 95), 7);
  EXPECT_TRUE(std::isnan(Percentile({}, 50)));
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_NEAR(Percentile(hundred, 95), 95.05, 1e-9);
  EXPECT_NEAR(Percentile(hundred, 99), 99.01, 1e-9);
}

TEST(RecordTest, InterTokenGapsAndMean) {
  RequestRecord r = Ok(100, {100, 110, 130, 160}, 170, 4);
  EXPECT_EQ(r.InterTokenMs(), (std::vector<double>{10, 20, 30}));
  EXPECT_DOUBLE_EQ(r.MeanItlMs(), 20);
  EXPECT_EQ(Ok(5, {5}, 6, 1).MeanItlMs(), -1);
}

TEST(SummaryTest, LatenciesThroughputErrorsAndGoodput) {
  std::vector<RequestRecord> records;
  records.push_back(Ok(100, {100, 110, 120}, 130, 3));   // meets ttft<=500, itl<=100
  records.push_back(Ok(600, {600, 610, 620}, 630, 3));   // misses ttft
  records.push_back(Ok(200, {200, 400, 600}, 610, 3));   // misses itl (mean 200)
  records.push_back(Ok(300, {300}, 310, 1));             // one token: itl cannot be missed
  RequestRecord refused;
  refused.error = ErrorKind::kConnectRefused;
  refused.e2e_ms = 1;
  records.push_back(refused);
  RequestRecord cut = Ok(50, {50, 60}, 70, 2);
  cut.error = ErrorKind::kMidStreamClose;
  records.push_back(cut);
  RequestRecord busy;
  busy.error = ErrorKind::kHttp429;
  busy.http_status = 429;
  records.push_back(busy);

  auto slo = ParseSlo("ttft=500ms,itl=100ms");
  ASSERT_TRUE(slo.ok());
  const Summary s = Summary::Of(records, 2.0, *slo);
  EXPECT_EQ(s.requests, 7u);
  EXPECT_EQ(s.ok, 4u);
  EXPECT_EQ(s.errors.at("connect_refused"), 1u);
  EXPECT_EQ(s.errors.at("mid_stream_close"), 1u);
  EXPECT_EQ(s.errors.at("http_429"), 1u);
  EXPECT_EQ(s.failed_before_streaming, 2u);
  EXPECT_EQ(s.failed_while_streaming, 1u);
  EXPECT_EQ(s.output_tokens, 10u);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_s, 5.0);
  EXPECT_DOUBLE_EQ(s.requests_per_s, 2.0);
  EXPECT_EQ(s.ttft_ms.count, 4u);
  EXPECT_DOUBLE_EQ(s.ttft_ms.mean, 300);
  EXPECT_DOUBLE_EQ(s.ttft_ms.p50, 250);
  EXPECT_DOUBLE_EQ(s.ttft_ms.max, 600);
  EXPECT_EQ(s.itl_ms.count, 6u);  // 2 + 2 + 2 + 0 gaps of the ok requests
  EXPECT_DOUBLE_EQ(s.itl_ms.p50, 10);
  EXPECT_DOUBLE_EQ(s.itl_ms.max, 200);
  EXPECT_EQ(s.tpot_ms.count, 3u);
  EXPECT_DOUBLE_EQ(s.e2e_ms.min, 130);
  EXPECT_EQ(s.goodput_requests, 2u);  // the first and the one-token request
  EXPECT_DOUBLE_EQ(s.goodput_per_s, 1.0);

  const Summary no_slo = Summary::Of(records, 2.0, Slo{});
  EXPECT_EQ(no_slo.goodput_requests, 4u);
}

TEST(SloTest, ParsesUnitsAndRejectsNonsense) {
  auto slo = ParseSlo("ttft=0.5s,itl=100ms,e2e=3000");
  ASSERT_TRUE(slo.ok()) << slo.status().ToString();
  EXPECT_DOUBLE_EQ(*slo->ttft_ms, 500);
  EXPECT_DOUBLE_EQ(*slo->itl_ms, 100);
  EXPECT_DOUBLE_EQ(*slo->e2e_ms, 3000);
  EXPECT_TRUE(ParseSlo("")->empty());
  for (const char* bad : {"ttft", "ttft=", "ttft=-1ms", "ttft=abc", "latency=5ms", "ttft=5min"}) {
    EXPECT_FALSE(ParseSlo(bad).ok()) << bad;
  }
}

TEST(WorkloadTest, LengthRangesAndBodies) {
  auto fixed = ParseLengthRange("16", "--x", 100);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->min, 16);
  EXPECT_EQ(fixed->max, 16);
  auto uniform = ParseLengthRange("4:9", "--x", 100);
  ASSERT_TRUE(uniform.ok());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    const int n = uniform->Draw(rng);
    EXPECT_GE(n, 4);
    EXPECT_LE(n, 9);
  }
  for (const char* bad : {"0", "9:4", "x", "3:", "101", "-2"}) EXPECT_FALSE(ParseLengthRange(bad, "--x", 100).ok()) << bad;

  Workload w;
  w.prompt_words = {5, 5};
  w.output_tokens = {12, 12};
  auto chat = nlohmann::json::parse(w.Body(0));
  EXPECT_EQ(w.Path(), "/v1/chat/completions");
  EXPECT_EQ(chat["max_tokens"], 12);
  EXPECT_EQ(chat["stream"], true);
  EXPECT_EQ(chat["stream_options"]["include_usage"], true);
  const std::string content = chat["messages"][0]["content"];
  EXPECT_EQ(std::count(content.begin(), content.end(), ' '), 4);
  EXPECT_EQ(w.Body(3), w.Body(3)) << "deterministic";
  w.api = Api::kCompletions;
  w.stream = false;
  w.prompts = {"alpha", "beta"};
  auto completion = nlohmann::json::parse(w.Body(1));
  EXPECT_EQ(w.Path(), "/v1/completions");
  EXPECT_EQ(completion["prompt"], "beta");
  EXPECT_FALSE(completion.contains("stream_options"));
}

TEST(ClassifyTest, TransportFailuresAndStatuses) {
  EXPECT_EQ(ClassifyTransportFailure(Unavailable("cannot connect to 127.0.0.1:1: Connection refused"), false, 0),
            ErrorKind::kConnectRefused);
  EXPECT_EQ(ClassifyTransportFailure(Unavailable("cannot resolve nowhere: Host not found"), false, 0),
            ErrorKind::kConnectError);
  EXPECT_EQ(ClassifyTransportFailure(Unavailable("request to a:1 failed: Connection reset by peer"), false, 0),
            ErrorKind::kConnectionClosed);
  EXPECT_EQ(ClassifyTransportFailure(Unavailable("request to a:1 failed: End of file"), true, 200),
            ErrorKind::kMidStreamClose);
  EXPECT_EQ(ClassifyTransportFailure(Status(StatusCode::kDeadlineExceeded, "no response"), false, 0),
            ErrorKind::kTimeout);
  EXPECT_EQ(ClassifyHttpStatus(200), ErrorKind::kNone);
  EXPECT_EQ(ClassifyHttpStatus(429), ErrorKind::kHttp429);
  EXPECT_EQ(ClassifyHttpStatus(503), ErrorKind::kHttp5xx);
  EXPECT_EQ(ClassifyHttpStatus(400), ErrorKind::kHttp4xx);
}

}  // namespace
}  // namespace meridian::loadgen
