// OpenAI request bodies -> typed, validated requests, and API errors in the OpenAI shape. Pure: no
// sockets and no engine state beyond the limits passed in, so every function here is fuzzed
// (fuzz/openai_request_fuzz.cpp) and unit-tested on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/chat_template.h"
#include "engine/sampling/sampler.h"

namespace meridian::server {

//! An error answered as {"error": {"message", "type", "param", "code"}} with an HTTP status.
struct ApiError {
  int status = 400;
  std::string message;                         //!< what went wrong and how to fix it
  std::string type = "invalid_request_error";  //!< see docs/server.md for the types used
  std::string param;                           //!< the offending field ("max_tokens"); empty: null
  std::string code;                            //!< machine-readable ("context_length_exceeded"); empty: null
};

//! The JSON body of `error`; invalid UTF-8 in the message becomes U+FFFD (bodies stay valid JSON).
std::string ApiErrorJson(const ApiError& error);

//! `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

//! Shorthands for the common cases.
ApiError BadRequest(std::string message, std::string param = {}, std::string code = {});

//! What the parser checks requests against.
struct RequestLimits {
  int32_t context_length = 2048;  //!< max_tokens above it is rejected at once
  int32_t n_vocab = 32000;        //!< token ids must be in [0, n_vocab)
  size_t max_stop_strings = 16;
  size_t max_stop_bytes = 512;  //!< per stop string
  size_t max_messages = 4096;
  int max_json_depth = 64;  //!< deeper nesting is rejected before it is built
};

//! Generation settings shared by chat and text completions.
struct GenerationOptions {
  std::string model;                  //!< as sent; "" when absent
  std::optional<int32_t> max_tokens;  //!< max_completion_tokens, else max_tokens; absent: rest of context
  engine::SamplingParams sampling;    //!< validated; seed set only when `seed` is present
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  //!< non-empty strings only
  bool stream = false;
  bool include_usage = false;  //!< stream_options.include_usage
  std::string user;            //!< accepted, never logged
};

struct ChatCompletionRequest {
  GenerationOptions options;
  std::vector<engine::ChatMessage> messages;  //!< at least one; "developer" is read as "system"
};

struct CompletionRequest {
  GenerationOptions options;
  std::string prompt;                  //!< a text prompt (when !token_prompt)
  bool token_prompt = false;           //!< the prompt came as token ids
  std::vector<int32_t> prompt_tokens;  //!< when token_prompt: ids in [0, n_vocab), at least one
};

//! POST /tokenize (vLLM's shape): {"prompt": "..."} or {"messages": [...]}.
struct TokenizeRequest {
  std::string model;
  bool chat = false;  //!< messages given (rendered with the chat template) instead of a prompt
  std::string prompt;
  std::vector<engine::ChatMessage> messages;
  bool add_special_tokens = true;     //!< BOS for a prompt (a chat template adds its own)
  bool add_generation_prompt = true;  //!< chat only
};

//! POST /detokenize: {"tokens": [ids]}.
struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};

// Each parses a request body. On success fills *out and returns nullopt; otherwise returns the
// error to answer (400 with the offending param). Never throws, whatever the bytes.
std::optional<ApiError> ParseChatCompletionRequest(std::string_view body, const RequestLimits& limits,
                                                   ChatCompletionRequest* out);
std::optional<ApiError> ParseCompletionRequest(std::string_view body, const RequestLimits& limits,
                                               CompletionRequest* out);
std::optional<ApiError> ParseTokenizeRequest(std::string_view body, const RequestLimits& limits,
                                             TokenizeRequest* out);
std::optional<ApiError> ParseDetokenizeRequest(std::string_view body, const RequestLimits& limits,
                                               DetokenizeRequest* out);

}  // namespace meridian::server
