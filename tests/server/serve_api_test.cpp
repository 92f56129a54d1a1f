// Integration: the real `meridian serve` binary with the shipped model on a free port, driven by
// curl and the http client: completions streamed and not, usage, finish reasons, stop strings,
// models/tokenize/detokenize/ready/metrics, and the request log (which never holds prompt text).
#include <gtest/gtest.h>

#include "serve_test_util.h"
#include "server_process.h"

namespace meridian::server::testing {
namespace {

class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start({"--parallel", "4"}, &error);
    ASSERT_TRUE(server_) << error;
  }
  //! curl with a hard time limit; returns the body, *status the HTTP status.
  std::string Curl(const std::string& path, const std::string& body, int* status,
                   const std::string& extra = "") {
    const std::string cmd =
        "timeout 60 curl -sS -N --max-time 50 -w '\\n%{http_code}' -H 'Content-Type: application/json' " +
        extra + (body.empty() ? "" : " --data-binary " + ShellQuote(body)) + " " +
        ShellQuote(server_->base_url() + path);
    int rc = 0;
    std::string out = RunCommand(cmd, &rc);
    EXPECT_EQ(rc, 0) << cmd;
    const size_t nl = out.rfind('\n');
    *status = nl == std::string::npos ? 0 : std::atoi(out.c_str() + nl + 1);
    return nl == std::string::npos ? out : out.substr(0, nl);
  }
  std::unique_ptr<ServerProcess> server_;
  http::HttpClient client_;
};

// Splits a curl'ed SSE body into its data payloads.
std::vector<std::string> DataLines(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find('\n', pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

TEST_F(ServeApi, ChatWithCurlStreamedAndNot) {
  const std::string marker = "ZebraQuartzMarker";
  const std::string request =
      R"({"model":"meridian-brown-q8_0","messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Tell me about )" +
      marker +
      R"( and the city."}],)"
      R"("max_tokens":16,"temperature":0})";
  int status = 0;
  json full = ParseJson(Curl("/v1/chat/completions", request, &status));
  ASSERT_EQ(status, 200) << full.dump();
  EXPECT_EQ(full["object"], "chat.completion");
  const std::string text = full["choices"][0]["message"]["content"];
  const std::string finish = full["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << finish;
  EXPECT_GT(full["usage"]["prompt_tokens"].get<int>(), 10);
  EXPECT_LE(full["usage"]["completion_tokens"].get<int>(), 16);

  std::string streamed_req = request;
  streamed_req.insert(streamed_req.size() - 1, R"(,"stream":true,"stream_options":{"include_usage":true})");
  const std::string body = Curl("/v1/chat/completions", streamed_req, &status);
  ASSERT_EQ(status, 200) << body;
  auto lines = DataLines(body);
  ASSERT_GE(lines.size(), 3u) << body;
  EXPECT_EQ(lines.back(), "[DONE]");
  std::string streamed;
  std::string streamed_finish;
  json usage;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    json chunk = ParseJson(lines[i]);
    ASSERT_EQ(chunk["object"], "chat.completion.chunk") << lines[i];
    if (chunk["usage"].is_object()) usage = chunk["usage"];
    for (const json& c : chunk["choices"]) {
      if (c["delta"].contains("content")) streamed += c["delta"]["content"].get<std::string>();
      if (c["finish_reason"].is_string()) streamed_finish = c["finish_reason"];
    }
  }
  EXPECT_EQ(streamed, text);
  EXPECT_EQ(streamed_finish, finish);
  EXPECT_EQ(usage, full["usage"]);
  EXPECT_NE(body.find("\"usage\":null"), std::string::npos);  // on every chunk with include_usage

  // One JSON line per request with the timings and token counts, never the prompt or completion.
  const std::string logs = server_->Logs();
  EXPECT_EQ(logs.find(marker), std::string::npos) << "the prompt leaked into the log";
  if (text.size() > 12) {
    EXPECT_EQ(logs.find(text), std::string::npos) << "the completion leaked into the log";
  }
  EXPECT_NE(logs.find("\"path\":\"/v1/chat/completions\",\"status\":200"), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"ttft_ms\":"), std::string::npos);
  EXPECT_NE(logs.find("\"queue_ms\":"), std::string::npos);
  EXPECT_NE(logs.find("\"completion_tokens\":"), std::string::npos);
}

TEST_F(ServeApi, CompletionsLengthStopAndSeed) {
  int status = 0;
  json r = ParseJson(
      Curl("/v1/completions", R"({"prompt":"The man said that","max_tokens":5,"temperature":0})", &status));
  ASSERT_EQ(status, 200) << r.dump();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r["usage"]["completion_tokens"], 5);

  // A stop string taken from the greedy text: the completion ends right before it.
  json longer = ParseJson(
      Curl("/v1/completions", R"({"prompt":"The man said that","max_tokens":24,"temperature":0})", &status));
  const std::string text = longer["choices"][0]["text"];
  ASSERT_GT(text.size(), 12u) << text;
  const std::string stop = text.substr(text.size() / 2, 3);
  const std::string expected = text.substr(0, text.find(stop));
  json stopped = ParseJson(Curl(
      "/v1/completions",
      R"({"prompt":"The man said that","max_tokens":24,"temperature":0,"stop":[)" + json(stop).dump() + "]}",
      &status));
  EXPECT_EQ(stopped["choices"][0]["text"], expected);
  EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");

  // Same seed, same sampled text; max_completion_tokens is honoured.
  const std::string seeded =
      R"({"prompt":"It was","max_completion_tokens":10,"temperature":1.0,"top_k":40,"top_p":0.95,"min_p":0.01,)"
      R"("repetition_penalty":1.1,"presence_penalty":0.3,"frequency_penalty":0.3,"seed":7,"user":"u"})";
  json a = ParseJson(Curl("/v1/completions", seeded, &status));
  json b = ParseJson(Curl("/v1/completions", seeded, &status));
  EXPECT_EQ(a["choices"][0]["text"], b["choices"][0]["text"]);
  EXPECT_EQ(a["usage"]["completion_tokens"], 10);

  // Token-id prompts work too.
  json ids = ParseJson(Curl("/tokenize", R"({"prompt":"The man said that"})", &status));
  json by_ids = ParseJson(Curl("/v1/completions",
                               R"({"prompt":)" + ids["tokens"].dump() + R"(,"max_tokens":5,"temperature":0})",
                               &status));
  EXPECT_EQ(by_ids["choices"][0]["text"], r["choices"][0]["text"]);
}

TEST_F(ServeApi, ModelsTokenizeDetokenizeReadyMetrics) {
  int status = 0;
  json models = ParseJson(Curl("/v1/models", "", &status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(models["data"][0]["id"], "meridian-brown-q8_0");
  EXPECT_EQ(models["data"][0]["max_model_len"], 512);
  json one = ParseJson(Curl("/v1/models/meridian-brown-q8_0", "", &status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(one["id"], "meridian-brown-q8_0");
  Curl("/v1/models/other", "", &status);
  EXPECT_EQ(status, 404);

  json tok = ParseJson(Curl("/tokenize", R"({"prompt":"Hello there, world. Caf\u00e9!"})", &status));
  ASSERT_EQ(status, 200) << tok.dump();
  EXPECT_EQ(tok["count"].get<size_t>(), tok["tokens"].size());
  EXPECT_EQ(tok["max_model_len"], 512);
  json tok_plain = ParseJson(Curl("/tokenize", R"({"prompt":"Hello","add_special_tokens":false})", &status));
  json tok_bos = ParseJson(Curl("/tokenize", R"({"prompt":"Hello"})", &status));
  EXPECT_EQ(tok_bos["count"].get<int>(), tok_plain["count"].get<int>() + 1);  // BOS
  json detok = ParseJson(Curl("/detokenize", R"({"tokens":)" + tok["tokens"].dump() + "}", &status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(detok["prompt"], "Hello there, world. Caf\u00e9!");
  json chat_tok = ParseJson(Curl("/tokenize", R"({"messages":[{"role":"user","content":"Hi"}]})", &status));
  EXPECT_EQ(status, 200);
  EXPECT_GT(chat_tok["count"].get<int>(), 3);

  json ready = ParseJson(Curl("/ready", "", &status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(ready["ready"], true);
  for (const char* key :
       {"running", "waiting", "kv_blocks_free", "kv_blocks_total", "estimated_queue_wait_ms",
        "prefill_tokens_per_second", "decode_tokens_per_second"}) {
    EXPECT_TRUE(ready.contains(key)) << key;
  }
  EXPECT_EQ(ready["kv_blocks_free"], ready["kv_blocks_total"]);
  Curl("/health", "", &status);
  EXPECT_EQ(status, 200);

  Curl("/v1/completions", R"({"prompt":"It","max_tokens":3})", &status);
  const std::string metrics = Curl("/metrics", "", &status);
  EXPECT_EQ(status, 200);
  for (const char* name :
       {"meridian:time_to_first_token_seconds_bucket", "meridian:inter_token_latency_seconds_count",
        "meridian:e2e_request_latency_seconds_sum", "meridian:request_queue_time_seconds_count",
        "meridian:num_requests_running 0", "meridian:num_requests_waiting 0",
        "meridian:kv_cache_usage_perc 0", "meridian:prompt_tokens_total", "meridian:generation_tokens_total",
        "meridian:requests_total{endpoint=\"completions\",status=\"200\"} 1",
        "meridian:request_success_total{finished_reason=\"length\"} 1"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name << "\n" << metrics;
  }
  EXPECT_EQ(MetricValue(metrics, "meridian:generation_tokens_total"), 3);

  const std::string missing = Curl("/v2/nothing", "", &status);
  EXPECT_EQ(status, 404);
  EXPECT_TRUE(IsOpenAiError(missing)) << missing;
}

}  // namespace
}  // namespace meridian::server::testing
