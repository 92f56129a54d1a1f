// Integration: bad input is answered with a clear 4xx in the OpenAI error shape while the server
// keeps serving others: malformed JSON, wrong types, unknown model, empty messages, bad
// max_tokens, over-long prompts, invalid UTF-8, n > 1, oversized headers and bodies, a client
// sending its header one byte a second; and request deadlines.
#include <gtest/gtest.h>

#include <algorithm>

#include "serve_test_util.h"
#include "server_process.h"

namespace meridian::server::testing {
namespace {

// Errors the http library answers itself (431, 413, 408) carry message, type and code; "param"
// is not part of that body yet.
bool IsHttpLayerError(const std::string& body) {
  json j = ParseJson(body);
  return j.is_object() && j.contains("error") && j["error"]["message"].is_string() &&
         j["error"]["type"].is_string() && j["error"]["code"].is_string();
}

struct BadCase {
  const char* name;
  std::string path;
  std::string body;
  int status;
  std::string param;  //!< expected error.param ("" = don't check)
  std::string code;   //!< expected error.code ("" = don't check)
};

TEST(ServeErrors, BadInputGetsClear4xxAndOthersKeepStreaming) {
  std::string error;
  auto server = ServerProcess::Start(
      {"--max-body-bytes", "65536", "--max-header-bytes", "8192", "--header-timeout", "2"}, &error);
  ASSERT_TRUE(server) << error;
  http::HttpClient client;
  const std::string base = server->base_url();

  // A long stream runs through the whole barrage and must end cleanly.
  StreamCall background;
  background.Start(client,
                   JsonPost(base + "/v1/completions",
                            R"({"prompt":"It was a","max_tokens":400,"temperature":0,"stream":true})"));

  const std::string msg = R"("messages":[{"role":"user","content":"hi"}])";
  std::string long_prompt;
  for (int i = 0; i < 450; ++i) long_prompt += "the ";
  std::string huge_prompt;
  for (int i = 0; i < 3000; ++i) huge_prompt += "word ";
  const std::vector<BadCase> cases = {
      {"malformed JSON", "/v1/chat/completions", "{\"messages\": [", 400, "", "invalid_json"},
      {"not an object", "/v1/chat/completions", "[]", 400, "", ""},
      {"empty body", "/v1/completions", "", 400, "", ""},
      {"wrong type", "/v1/chat/completions", "{" + msg + R"(,"temperature":"hot"})", 400, "temperature", ""},
      {"messages not array", "/v1/chat/completions", R"({"messages":"hi"})", 400, "messages", ""},
      {"unknown model", "/v1/chat/completions", "{" + msg + R"(,"model":"gpt-17"})", 404, "model",
       "model_not_found"},
      {"empty messages", "/v1/chat/completions", R"({"messages":[]})", 400, "messages", ""},
      {"negative max_tokens", "/v1/chat/completions", "{" + msg + R"(,"max_tokens":-1})", 400, "max_tokens",
       ""},
      {"huge max_tokens", "/v1/chat/completions", "{" + msg + R"(,"max_tokens":1000000000})", 400,
       "max_tokens", ""},
      {"prompt + max_tokens over context", "/v1/completions",
       R"({"prompt":")" + long_prompt + R"(","max_tokens":200})", 400, "max_tokens",
       "context_length_exceeded"},
      {"prompt over context", "/v1/completions", R"({"prompt":")" + huge_prompt + R"("})", 400, "prompt",
       "context_length_exceeded"},
      {"invalid UTF-8", "/v1/completions", "{\"prompt\":\"caf\xc3\x28\"}", 400, "", "invalid_utf8"},
      {"n > 1", "/v1/chat/completions", "{" + msg + R"(,"n":4})", 400, "n", "unsupported_parameter"},
      {"token id out of range", "/v1/completions", R"({"prompt":[1, 99999]})", 400, "prompt", ""},
      {"bad stop", "/v1/completions", R"({"prompt":"a","stop":{"x":1}})", 400, "stop", ""},
      {"stream_options without stream", "/v1/completions",
       R"({"prompt":"a","stream_options":{"include_usage":true}})", 400, "stream_options", ""},
  };
  for (const BadCase& c : cases) {
    auto r = client.Fetch(JsonPost(base + c.path, c.body));
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_TRUE(IsOpenAiError(r->body)) << c.name << ": " << r->body;
    json e = ParseJson(r->body)["error"];
    if (!c.param.empty()) {
      EXPECT_EQ(e["param"], c.param) << c.name << ": " << r->body;
    }
    if (!c.code.empty()) {
      EXPECT_EQ(e["code"], c.code) << c.name << ": " << r->body;
    }
  }

  // Limits of the HTTP layer: oversized header and body, wrong method.
  {
    http::ClientRequest big_header = JsonPost(base + "/v1/completions", R"({"prompt":"a"})");
    big_header.headers.Add("X-Padding", std::string(10000, 'a'));
    auto r = client.Fetch(big_header);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(IsHttpLayerError(r->body)) << r->body;
  }
  {
    auto r =
        client.Fetch(JsonPost(base + "/v1/completions", R"({"prompt":")" + std::string(100000, 'a') + "\"}"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(IsHttpLayerError(r->body)) << r->body;
  }
  {
    auto r = client.Fetch({"GET", base + "/v1/chat/completions", {}, {}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 405);
  }

  // A client sending its header one byte a second is cut off with 408 after --header-timeout.
  {
    RawConnection slow(server->port());
    ASSERT_TRUE(slow.ok());
    const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\n";
    const auto start = std::chrono::steady_clock::now();
    std::string answer;
    bool eof = false;
    for (size_t i = 0; i < request.size() && answer.empty() && !eof; ++i) {
      if (!slow.Send(request.substr(i, 1))) break;
      answer = slow.Read(std::chrono::milliseconds(1000), &eof);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(answer.rfind("HTTP/1.1 408", 0), 0u) << answer;
    EXPECT_LT(seconds, 5.0);
  }

  ASSERT_TRUE(background.Wait(std::chrono::seconds(60)));
  StreamResult bg = background.result();
  EXPECT_EQ(bg.status, 200);
  EXPECT_TRUE(bg.done) << bg.raw;
  EXPECT_TRUE(bg.finish_reason == "length" || bg.finish_reason == "stop") << bg.finish_reason;
  EXPECT_TRUE(bg.transport.ok()) << bg.transport.ToString();

  auto good = client.Fetch(JsonPost(base + "/v1/chat/completions", "{" + msg + R"(,"max_tokens":4})"));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->status, 200) << good->body;
}

TEST(ServeErrors, DeadlinesAnswer504OrEndTheStreamWithAnError) {
  std::string error;
  http::HttpClient client;
  const std::string body = R"({"prompt":"It was","max_tokens":480,"temperature":0)";
  // Time the whole generation first, so that the deadline falls in its middle on any machine.
  double full_s = 0;
  {
    auto probe = ServerProcess::Start({}, &error);
    ASSERT_TRUE(probe) << error;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = client.Fetch(JsonPost(probe->base_url() + "/v1/completions", body + "}"));
    full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(ParseJson(r->body)["choices"][0]["finish_reason"], "length") << r->body;
  }
  // A tenth of it: the probe may have run on a busier machine than the calls below (CI runs tests
  // in parallel), so leave room on both sides.
  const std::string timeout = std::to_string(std::max(0.05, full_s / 10));
  auto server = ServerProcess::Start({"--request-timeout", timeout, "--parallel", "2"}, &error);
  ASSERT_TRUE(server) << error;
  auto r = client.Fetch(JsonPost(server->base_url() + "/v1/completions", body + "}"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_EQ(ParseJson(r->body)["error"]["code"], "timeout");

  StreamCall stream;
  stream.Start(client, JsonPost(server->base_url() + "/v1/completions", body + R"(,"stream":true})"));
  ASSERT_TRUE(stream.Wait(std::chrono::seconds(30)));
  StreamResult s = stream.result();
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.error["code"], "timeout")
      << "finish_reason '" << s.finish_reason << "', done " << s.done << ", chunks " << s.chunks
      << ", transport " << s.transport.ToString() << ", timeout " << timeout << " s of " << full_s
      << " s\n"
      << s.raw.substr(s.raw.size() > 400 ? s.raw.size() - 400 : 0);
  EXPECT_TRUE(s.done);
  EXPECT_GT(s.chunks, 0);
  const std::string metrics = client.Fetch({"GET", server->base_url() + "/metrics", {}, {}})->body;
  EXPECT_NE(metrics.find("meridian:request_success_total{finished_reason=\"timeout\"} 2"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace meridian::server::testing
