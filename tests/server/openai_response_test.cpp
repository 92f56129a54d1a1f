// Response bodies parse as JSON and have exactly the fields OpenAI clients read.
#include "server/openai_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meridian::server {
namespace {

using nlohmann::json;

TEST(OpenAiResponse, ChatCompletion) {
  ResponseFormatter f(true, "abc", "m\"odel", 1700000000);
  json j = json::parse(f.Complete("Hi \"there\"\n\xc3\xa9", "stop", {7, 3}));
  EXPECT_EQ(j["id"], "chatcmpl-abc");
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "m\"odel");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hi \"there\"\n\xc3\xa9");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 7);
  EXPECT_EQ(j["usage"]["completion_tokens"], 3);
  EXPECT_EQ(j["usage"]["total_tokens"], 10);
}

TEST(OpenAiResponse, ChatChunks) {
  ResponseFormatter f(true, "id1", "m", 1);
  json first = json::parse(f.Chunk("", true, "", false));
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(first["choices"][0]["delta"]["content"], "");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(first.contains("usage"));
  json mid = json::parse(f.Chunk("tok", false, "", true));
  EXPECT_FALSE(mid["choices"][0]["delta"].contains("role"));
  EXPECT_EQ(mid["choices"][0]["delta"]["content"], "tok");
  EXPECT_TRUE(mid["usage"].is_null());
  json last = json::parse(f.Chunk("", false, "length", false));
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  json usage = json::parse(f.UsageChunk({5, 2}));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
}

TEST(OpenAiResponse, ChunkEventIsOneSseEvent) {
  ResponseFormatter f(true, "id", "m", 1);
  std::string event = "previous";
  f.AppendChunkEvent(event, "line one\nline two\r\n", false, "", false);
  EXPECT_EQ(event, "previousdata: " + f.Chunk("line one\nline two\r\n", false, "", false) + "\n\n");
  EXPECT_EQ(event.find('\n'), event.size() - 2) << "a raw newline would split the event";
}

TEST(OpenAiResponse, TextCompletionAndChunks) {
  ResponseFormatter f(false, "r", "m", 2);
  json j = json::parse(f.Complete("abc", "length", {1, 2}));
  EXPECT_EQ(j["id"], "cmpl-r");
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "abc");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  json c = json::parse(f.Chunk("x", true, "", false));
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["text"], "x");
}

TEST(OpenAiResponse, ModelList) {
  json j = json::parse(ModelListJson("brown", 5, 512));
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "brown");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["owned_by"], "meridian");
  EXPECT_EQ(j["data"][0]["max_model_len"], 512);
}

}  // namespace
}  // namespace meridian::server
