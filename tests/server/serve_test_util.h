// Test helpers for talking to a running `meridian serve`: JSON requests, streamed completions
// collected from SSE, and metric values read from /metrics.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "http/http_client.h"
#include "http/sse.h"

namespace meridian::server::testing {

using nlohmann::json;

inline http::ClientRequest JsonPost(const std::string& url, const std::string& body,
                                    http::Headers headers = {}) {
  headers.Add("Content-Type", "application/json");
  return {"POST", url, std::move(headers), body};
}

//! Parses a body as JSON; a JSON null on failure (the test then fails on the field checks).
inline json ParseJson(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

//! True if `body` is {"error":{"message":string,"type":string,"param":..,"code":..}}.
inline bool IsOpenAiError(const std::string& body) {
  json j = ParseJson(body);
  return j.is_object() && j.contains("error") && j["error"].is_object() &&
         j["error"]["message"].is_string() && !j["error"]["message"].get<std::string>().empty() &&
         j["error"]["type"].is_string() && j["error"].contains("param") && j["error"].contains("code");
}

//! One streamed completion, collected from its SSE events.
struct StreamResult {
  int status = 0;
  std::string text;           //!< delta contents (chat) or texts (completions), concatenated
  std::string finish_reason;  //!< from the chunk that had one
  bool done = false;          //!< saw data: [DONE]
  int chunks = 0;
  json usage;        //!< from the usage chunk, if any
  json error;        //!< an error event, if any
  Status transport;  //!< the client's completion status
  std::string raw;
};

//! Collects a streamed response; Wait blocks until the call completes.
class StreamCall {
 public:
  StreamCall() : parser_([this](const http::SseEvent& ev) { OnEvent(ev); }) {}

  //! Starts the call. `cancel_after_chunks` > 0 makes the client disconnect after that many chunks.
  void Start(http::HttpClient& client, http::ClientRequest request, int cancel_after_chunks = 0) {
    cancel_after_ = cancel_after_chunks;
    started_at_ = std::chrono::steady_clock::now();
    http::ClientCallbacks cb;
    cb.on_headers = [this](const http::ClientResponse& head) {
      std::lock_guard<std::mutex> lock(mu_);
      result_.status = head.status;
    };
    cb.on_body = [this](std::string_view piece) {
      std::lock_guard<std::mutex> lock(mu_);
      result_.raw.append(piece);
      parser_.Feed(piece);
      if (!first_chunk_at_) first_chunk_at_ = std::chrono::steady_clock::now();
      return !(cancel_after_ > 0 && result_.chunks >= cancel_after_);
    };
    cb.on_complete = [this](const Status& s) {
      std::lock_guard<std::mutex> lock(mu_);
      result_.transport = s;
      finished_ = true;
      cv_.notify_all();
    };
    call_ = client.Start(std::move(request), std::move(cb));
  }
  void Cancel() {
    if (call_) call_->Cancel();
  }
  bool Wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return finished_; });
  }
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  StreamResult result() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_;
  }
  int chunks() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_.chunks;
  }

 private:
  void OnEvent(const http::SseEvent& ev) {
    if (ev.data == "[DONE]") {
      result_.done = true;
      return;
    }
    json j = ParseJson(ev.data);
    if (j.contains("error")) {
      result_.error = j["error"];
      return;
    }
    ++result_.chunks;
    if (j.contains("usage") && j["usage"].is_object()) result_.usage = j["usage"];
    if (!j.contains("choices") || !j["choices"].is_array()) return;
    for (const json& c : j["choices"]) {
      if (c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string()) {
        result_.text += c["delta"]["content"].get<std::string>();
      }
      if (c.contains("text") && c["text"].is_string()) result_.text += c["text"].get<std::string>();
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
        result_.finish_reason = c["finish_reason"].get<std::string>();
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  http::SseParser parser_;
  StreamResult result_;
  bool finished_ = false;
  int cancel_after_ = 0;
  std::chrono::steady_clock::time_point started_at_;
  std::optional<std::chrono::steady_clock::time_point> first_chunk_at_;
  std::shared_ptr<http::ClientCall> call_;
};

//! The value of an unlabelled sample `name` in a /metrics body (NaN if absent).
inline double MetricValue(const std::string& metrics, const std::string& name) {
  size_t pos = 0;
  while ((pos = metrics.find(name, pos)) != std::string::npos) {
    const bool line_start = pos == 0 || metrics[pos - 1] == '\n';
    const size_t after = pos + name.size();
    if (line_start && after < metrics.size() && metrics[after] == ' ') {
      return std::strtod(metrics.c_str() + after + 1, nullptr);
    }
    pos = after;
  }
  return std::nan("");
}

}  // namespace meridian::server::testing
