// OpenAI response bodies: chat.completion / text_completion objects, their streamed chunks, the
// usage chunk, and the model list. Built as strings directly (one chunk per token is the hot path).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::server {

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
};

//! Formats the bodies of one response. Immutable; cheap to copy.
class ResponseFormatter {
 public:
  //! `chat`: chat.completion(.chunk) objects with "chatcmpl-" ids; else text_completion with
  //! "cmpl-" ids. `request_id` makes the id unique; `created` is Unix seconds.
  ResponseFormatter(bool chat, std::string_view request_id, std::string model, int64_t created);

  //! The whole non-streamed response.
  std::string Complete(std::string_view text, std::string_view finish_reason, const Usage& usage) const;
  //! One streamed chunk. Chat: the first chunk carries `"role":"assistant"` (pass `first`);
  //! `finish_reason` empty means null. With `usage_null` the chunk has "usage":null (OpenAI sends
  //! that on every chunk when stream_options.include_usage is set).
  std::string Chunk(std::string_view text, bool first, std::string_view finish_reason, bool usage_null) const;
  //! The same chunk as a complete SSE event ("data: {...}\n\n"; the JSON never holds a raw
  //! newline), appended to `out`: one allocation per token on the engine thread.
  void AppendChunkEvent(std::string& out, std::string_view text, bool first, std::string_view finish_reason,
                        bool usage_null) const;
  //! The final usage-only chunk of a stream with include_usage ("choices": []).
  std::string UsageChunk(const Usage& usage) const;

  const std::string& id() const { return id_; }

 private:
  void AppendHead(std::string& out, bool chunk) const;
  void AppendChunk(std::string& out, std::string_view text, bool first, std::string_view finish_reason,
                   bool usage_null) const;
  bool chat_;
  std::string id_;
  std::string model_;
  int64_t created_;
};

//! {"object":"list","data":[{"id":model,"object":"model","created":..,"owned_by":"meridian",
//! "max_model_len":..}]}
std::string ModelListJson(std::string_view model, int64_t created, int32_t max_model_len);

//! Appends {"prompt_tokens":..,"completion_tokens":..,"total_tokens":..}.
void AppendUsage(std::string& out, const Usage& usage);

}  // namespace meridian::server
