// Server-Sent Events (text/event-stream) framing: formatting events for the server side and an
// incremental parser for clients (the gateway relays and bench measures SSE streams).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace meridian::http {

//! One SSE event. `data` is the data lines joined with '\n'.
struct SseEvent {
  std::string event;  //!< the "event:" field; empty means "message"
  std::string data;
  std::string id;
};

//! Formats one event: "event: <event>\n" and "id: <id>\n" when non-empty, one "data: <line>\n" per
//! line of `data` (split at \n, \r\n or \r so a value can never end the event early), then "\n".
//! CR and LF are removed from `event` and `id`.
std::string FormatSseEvent(std::string_view data, std::string_view event = {}, std::string_view id = {});

//! Parses an event stream chunk by chunk (chunks may split lines anywhere) and calls the callback
//! once per complete event, as the WHATWG EventSource algorithm dispatches them: comments (":")
//! and unknown fields are ignored, events without data lines are not dispatched. Not thread-safe.
class SseParser {
 public:
  using Callback = std::function<void(const SseEvent&)>;
  //! `max_line_bytes` bounds memory (one line, and one event's data) for a hostile stream; Feed
  //! returns false once it is passed.
  explicit SseParser(Callback on_event, size_t max_line_bytes = 1 << 20)
      : on_event_(std::move(on_event)), max_line_bytes_(max_line_bytes) {}

  //! Consumes a chunk; false if a line grew past the limit (the stream is then unusable).
  bool Feed(std::string_view chunk);

 private:
  void ProcessLine(std::string_view line);

  Callback on_event_;
  size_t max_line_bytes_;
  std::string line_;
  bool last_was_cr_ = false;
  bool has_data_ = false;
  SseEvent pending_;
};

}  // namespace meridian::http
