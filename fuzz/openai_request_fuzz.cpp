// libFuzzer target for the region server's request parsing (src/server/openai_request.h), the
// code that reads untrusted JSON bodies. The first input byte picks the endpoint (low 2 bits:
// chat, completions, tokenize, detokenize); the rest is the body. Whatever the bytes, parsing
// must not crash, and:
//  - an error is a 4xx with a message, and its JSON body is valid JSON with the OpenAI fields;
//  - an accepted request satisfies every invariant the handlers rely on (non-empty messages,
//    max_tokens within the context, sampling parameters that pass Validate, bounded non-empty
//    stop strings, token ids inside the vocabulary), and its text round-trips through the response
//    formatter as valid JSON.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/openai_request.h"
#include "server/openai_response.h"

namespace {

using namespace meridian::server;

void Check(bool ok) {
  if (!ok) std::abort();
}

const RequestLimits& Limits() {
  static const RequestLimits limits = [] {
    RequestLimits l;
    l.context_length = 512;
    l.n_vocab = 8192;
    return l;
  }();
  return limits;
}

void CheckError(const ApiError& e) {
  Check(e.status >= 400 && e.status < 500);
  Check(!e.message.empty());
  const nlohmann::json j = nlohmann::json::parse(ApiErrorJson(e), nullptr, /*allow_exceptions=*/false);
  Check(!j.is_discarded());
  Check(j["error"]["message"].is_string() && j["error"]["type"].is_string());
  Check(j["error"].contains("param") && j["error"].contains("code"));
}

void CheckOptions(const GenerationOptions& o) {
  Check(o.sampling.Validate().ok());
  if (o.max_tokens) Check(*o.max_tokens >= 1 && *o.max_tokens <= Limits().context_length);
  Check(o.stop.size() <= Limits().max_stop_strings);
  for (const std::string& s : o.stop) Check(!s.empty() && s.size() <= Limits().max_stop_bytes);
  Check(o.stream || !o.include_usage);
  // The model name and any text a client sent end up in JSON bodies: they must stay valid JSON.
  ResponseFormatter f(true, "fuzz", o.model, 0);
  Check(nlohmann::json::accept(f.Complete(o.user, "stop", {1, 1})));
  Check(nlohmann::json::accept(f.Chunk(o.model, true, "", true)));
}

void CheckTokens(const std::vector<int32_t>& tokens) {
  for (int32_t t : tokens) Check(t >= 0 && t < Limits().n_vocab);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] & 3;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 0: {
      ChatCompletionRequest r;
      if (auto e = ParseChatCompletionRequest(body, Limits(), &r)) {
        CheckError(*e);
        break;
      }
      CheckOptions(r.options);
      Check(!r.messages.empty() && r.messages.size() <= Limits().max_messages);
      for (const auto& m : r.messages) {
        Check(m.role == "system" || m.role == "user" || m.role == "assistant" || m.role == "tool");
        ResponseFormatter f(true, "fuzz", "m", 0);
        Check(nlohmann::json::accept(f.Complete(m.content, "length", {})));
      }
      break;
    }
    case 1: {
      CompletionRequest r;
      if (auto e = ParseCompletionRequest(body, Limits(), &r)) {
        CheckError(*e);
        break;
      }
      CheckOptions(r.options);
      if (r.token_prompt) {
        Check(!r.prompt_tokens.empty());
        CheckTokens(r.prompt_tokens);
      } else {
        ResponseFormatter f(false, "fuzz", "m", 0);
        Check(nlohmann::json::accept(f.Chunk(r.prompt, false, "stop", false)));
      }
      break;
    }
    case 2: {
      TokenizeRequest r;
      if (auto e = ParseTokenizeRequest(body, Limits(), &r)) {
        CheckError(*e);
        break;
      }
      Check(!r.chat || !r.messages.empty());
      break;
    }
    case 3: {
      DetokenizeRequest r;
      if (auto e = ParseDetokenizeRequest(body, Limits(), &r)) {
        CheckError(*e);
        break;
      }
      CheckTokens(r.tokens);
      break;
    }
  }
  return 0;
}
