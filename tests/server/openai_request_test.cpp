// Request parsing and validation: every parameter the issue lists, and the clear 400s for bad
// input (malformed JSON, wrong types, empty messages, max_tokens out of range, n > 1, invalid
// UTF-8, deep nesting, unsupported features).
#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meridian::server {
namespace {

RequestLimits Limits() {
  RequestLimits l;
  l.context_length = 512;
  l.n_vocab = 8192;
  return l;
}

ApiError ChatError(const std::string& body) {
  ChatCompletionRequest r;
  auto e = ParseChatCompletionRequest(body, Limits(), &r);
  EXPECT_TRUE(e.has_value()) << "accepted: " << body;
  return e.value_or(ApiError{});
}

ApiError CompletionError(const std::string& body) {
  CompletionRequest r;
  auto e = ParseCompletionRequest(body, Limits(), &r);
  EXPECT_TRUE(e.has_value()) << "accepted: " << body;
  return e.value_or(ApiError{});
}

TEST(OpenAiRequest, ParsesAFullChatRequest) {
  ChatCompletionRequest r;
  auto e = ParseChatCompletionRequest(R"({
    "model": "m", "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
      {"role": "assistant", "content": null},
      {"role": "user", "content": "c", "name": "bob"}],
    "max_completion_tokens": 20, "max_tokens": 30, "temperature": 0.5, "top_p": 0.9, "top_k": 40,
    "min_p": 0.05, "presence_penalty": 0.5, "frequency_penalty": -0.5, "repetition_penalty": 1.1,
    "stop": ["x", "", "yz"], "seed": 42, "n": 1, "user": "u1", "stream": true,
    "stream_options": {"include_usage": true}, "logprobs": false, "tools": [], "response_format": {"type": "text"},
    "some_future_field": {"ignored": true}})",
                                      Limits(), &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.options.model, "m");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "a\nb");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(r.options.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.top_p, 0.9f);
  EXPECT_EQ(r.options.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.options.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r.options.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.options.stop, (std::vector<std::string>{"x", "yz"}));
  ASSERT_TRUE(r.options.seed.has_value());
  EXPECT_EQ(*r.options.seed, 42u);
  EXPECT_EQ(r.options.sampling.seed, 42u);
  EXPECT_TRUE(r.options.stream);
  EXPECT_TRUE(r.options.include_usage);
  EXPECT_EQ(r.options.user, "u1");
}

TEST(OpenAiRequest, DefaultsAndNulls) {
  ChatCompletionRequest r;
  auto e = ParseChatCompletionRequest(
      R"({"messages":[{"role":"user","content":"hi"}],"temperature":null,"max_tokens":null,"stop":null,"seed":null})",
      Limits(), &r);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_EQ(r.options.model, "");
  EXPECT_FALSE(r.options.max_tokens.has_value());
  EXPECT_FALSE(r.options.seed.has_value());
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 1.0f);
  EXPECT_FALSE(r.options.stream);
  EXPECT_TRUE(r.options.stop.empty());
}

TEST(OpenAiRequest, CompletionPromptForms) {
  CompletionRequest r;
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":"hello","stop":"\n"})", Limits(), &r).has_value());
  EXPECT_EQ(r.prompt, "hello");
  EXPECT_FALSE(r.token_prompt);
  EXPECT_EQ(r.options.stop, (std::vector<std::string>{"\n"}));
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":["one"]})", Limits(), &r).has_value());
  EXPECT_EQ(r.prompt, "one");
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":[1, 5, 8191]})", Limits(), &r).has_value());
  EXPECT_TRUE(r.token_prompt);
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{1, 5, 8191}));
  ASSERT_FALSE(ParseCompletionRequest(R"({"prompt":[[3, 4]]})", Limits(), &r).has_value());
  EXPECT_EQ(r.prompt_tokens, (std::vector<int32_t>{3, 4}));
}

TEST(OpenAiRequest, MalformedBodies) {
  EXPECT_EQ(ChatError("").message, "the request body is empty; send a JSON object");
  ApiError e = ChatError("{\"messages\": [");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_NE(e.message.find("not valid JSON"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("line 1"), std::string::npos) << e.message;
  EXPECT_EQ(ChatError("[1,2]").message, "the request body must be a JSON object, not array");
  EXPECT_EQ(ChatError("{\"a\":1} trailing").code, "invalid_json");
  EXPECT_EQ(ChatError(std::string("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}")).code,
            "invalid_utf8");
  EXPECT_EQ(ChatError(R"({"messages":[{"role":"user","content":"\ud800"}]})").code, "invalid_json");
  // Deep nesting is refused before it is built.
  EXPECT_NE(ChatError(std::string(100000, '[')).message.find("nests deeper than 64"), std::string::npos);
}

TEST(OpenAiRequest, WrongTypesNameTheField) {
  ApiError e = ChatError(R"({"messages":"hi"})");
  EXPECT_EQ(e.param, "messages");
  EXPECT_EQ(e.message, "`messages` must be an array, not string");
  e = ChatError(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})");
  EXPECT_EQ(e.param, "temperature");
  EXPECT_EQ(e.message, "`temperature` must be a number, not string");
  e = ChatError(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1.5})");
  EXPECT_EQ(e.param, "max_tokens");
  e = ChatError(R"({"messages":[{"role":"user","content":"x"}],"stream":"yes"})");
  EXPECT_EQ(e.param, "stream");
  e = ChatError(R"({"messages":[{"role":"user","content":5}]})");
  EXPECT_EQ(e.param, "messages[0].content");
  e = ChatError(R"({"messages":[{"role":"wizard","content":"x"}]})");
  EXPECT_EQ(e.param, "messages[0].role");
  e = ChatError(R"({"messages":[{"content":"x"}]})");
  EXPECT_EQ(e.param, "messages[0].role");
  e = ChatError(R"({"messages":[{"role":"user","content":"x"}],"model":7})");
  EXPECT_EQ(e.param, "model");
  e = ChatError(R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})");
  EXPECT_EQ(e.param, "stop");
}

TEST(OpenAiRequest, EmptyOrMissingMessages) {
  EXPECT_EQ(ChatError(R"({"messages":[]})").message, "`messages` must not be empty");
  EXPECT_EQ(ChatError(R"({"model":"m"})").param, "messages");
  EXPECT_EQ(ChatError(R"({"messages":[{"role":"user"}]})").param, "messages[0].content");
}

TEST(OpenAiRequest, MaxTokensRange) {
  const std::string m = R"("messages":[{"role":"user","content":"x"}])";
  ApiError e = ChatError("{" + m + R"(,"max_tokens":-5})");
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_NE(e.message.find("-5"), std::string::npos);
  e = ChatError("{" + m + R"(,"max_tokens":0})");
  EXPECT_EQ(e.param, "max_tokens");
  e = ChatError("{" + m + R"(,"max_tokens":1000000000000})");
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_NE(e.message.find("context length (512 tokens"), std::string::npos) << e.message;
  e = ChatError("{" + m + R"(,"max_completion_tokens":99999999999999999999})");
  EXPECT_EQ(e.param, "max_completion_tokens");
  e = ChatError("{" + m + R"(,"max_tokens":513})");
  EXPECT_EQ(e.param, "max_tokens");
}

TEST(OpenAiRequest, SamplingRanges) {
  const std::string m = R"("messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(ChatError("{" + m + R"(,"temperature":2.5})").param, "temperature");
  EXPECT_EQ(ChatError("{" + m + R"(,"top_p":0})").param, "top_p");
  EXPECT_EQ(ChatError("{" + m + R"(,"top_k":-2})").param, "top_k");
  EXPECT_EQ(ChatError("{" + m + R"(,"min_p":1.5})").param, "min_p");
  EXPECT_EQ(ChatError("{" + m + R"(,"presence_penalty":3})").param, "presence_penalty");
  EXPECT_EQ(ChatError("{" + m + R"(,"frequency_penalty":-3})").param, "frequency_penalty");
  EXPECT_EQ(ChatError("{" + m + R"(,"repetition_penalty":0})").param, "repetition_penalty");
  EXPECT_EQ(ChatError("{" + m + R"(,"temperature":1e400})").code, "invalid_json");
  EXPECT_EQ(ChatError("{" + m + R"(,"seed":1.5})").param, "seed");
}

TEST(OpenAiRequest, UnsupportedFeaturesAreRejectedClearly) {
  const std::string m = R"("messages":[{"role":"user","content":"x"}])";
  ApiError e = ChatError("{" + m + R"(,"n":2})");
  EXPECT_EQ(e.param, "n");
  EXPECT_EQ(e.code, "unsupported_parameter");
  EXPECT_NE(e.message.find("one choice per request"), std::string::npos);
  EXPECT_EQ(ChatError("{" + m + R"(,"n":0})").param, "n");
  EXPECT_EQ(ChatError("{" + m + R"(,"logprobs":true})").param, "logprobs");
  EXPECT_EQ(ChatError("{" + m + R"(,"top_logprobs":2})").param, "top_logprobs");
  EXPECT_EQ(ChatError("{" + m + R"(,"logit_bias":{"1":5}})").param, "logit_bias");
  EXPECT_EQ(ChatError("{" + m + R"(,"tools":[{"type":"function"}]})").param, "tools");
  EXPECT_EQ(ChatError("{" + m + R"(,"response_format":{"type":"json_object"}})").param, "response_format");
  EXPECT_EQ(ChatError("{" + m + R"(,"stream_options":{"include_usage":true}})").param, "stream_options");
  EXPECT_EQ(
      ChatError(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]})").code,
      "unsupported_content");
  EXPECT_EQ(CompletionError(R"({"prompt":"x","echo":true})").param, "echo");
  EXPECT_EQ(CompletionError(R"({"prompt":"x","best_of":3})").param, "best_of");
  EXPECT_EQ(CompletionError(R"({"prompt":"x","suffix":"y"})").param, "suffix");
  EXPECT_EQ(CompletionError(R"({"prompt":"x","logprobs":2})").param, "logprobs");
}

TEST(OpenAiRequest, BadPrompts) {
  EXPECT_EQ(CompletionError(R"({"max_tokens":3})").param, "prompt");
  EXPECT_EQ(CompletionError(R"({"prompt":[]})").param, "prompt");
  EXPECT_EQ(CompletionError(R"({"prompt":["a","b"]})").code, "unsupported_parameter");
  EXPECT_EQ(CompletionError(R"({"prompt":[1, 8192]})").param, "prompt");
  EXPECT_EQ(CompletionError(R"({"prompt":[1, -1]})").param, "prompt");
  EXPECT_EQ(CompletionError(R"({"prompt":[1, "a"]})").param, "prompt");
  EXPECT_EQ(CompletionError(R"({"prompt":{"text":"a"}})").param, "prompt");
}

TEST(OpenAiRequest, StopLimits) {
  std::string many = R"({"prompt":"x","stop":[)";
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + "\"s\"";
  many += "]}";
  EXPECT_EQ(CompletionError(many).param, "stop");
  EXPECT_EQ(CompletionError(R"({"prompt":"x","stop":")" + std::string(600, 'a') + "\"}").param, "stop");
}

TEST(OpenAiRequest, TokenizeAndDetokenize) {
  TokenizeRequest t;
  ASSERT_FALSE(
      ParseTokenizeRequest(R"({"prompt":"hi","add_special_tokens":false})", Limits(), &t).has_value());
  EXPECT_FALSE(t.chat);
  EXPECT_FALSE(t.add_special_tokens);
  ASSERT_FALSE(
      ParseTokenizeRequest(R"({"messages":[{"role":"user","content":"hi"}]})", Limits(), &t).has_value());
  EXPECT_TRUE(t.chat);
  EXPECT_TRUE(ParseTokenizeRequest(R"({})", Limits(), &t).has_value());
  EXPECT_TRUE(ParseTokenizeRequest(R"({"prompt":"a","messages":[]})", Limits(), &t).has_value());
  DetokenizeRequest d;
  ASSERT_FALSE(ParseDetokenizeRequest(R"({"tokens":[1,2,3]})", Limits(), &d).has_value());
  EXPECT_EQ(d.tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(ParseDetokenizeRequest(R"({"tokens":[99999]})", Limits(), &d)->param, "tokens");
  EXPECT_EQ(ParseDetokenizeRequest(R"({"tokens":"abc"})", Limits(), &d)->param, "tokens");
}

TEST(OpenAiRequest, ErrorJsonShape) {
  ApiError e = BadRequest("bad \"thing\"", "max_tokens", "");
  auto j = nlohmann::json::parse(ApiErrorJson(e));
  EXPECT_EQ(j["error"]["message"], "bad \"thing\"");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "max_tokens");
  EXPECT_TRUE(j["error"]["code"].is_null());
  e.param.clear();
  e.code = "x";
  j = nlohmann::json::parse(ApiErrorJson(e));
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["code"], "x");
}

}  // namespace
}  // namespace meridian::server
