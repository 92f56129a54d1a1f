// OpenAiCall: request, timing and classification of one call.
#include "loadgen/openai_call.h"

#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>

#include "http/sse.h"

namespace meridian::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

//! State of one call; the client runs its callbacks one at a time, so no lock is needed.
struct CallState {
  Clock::time_point start = Clock::now();
  RequestRecord record;
  bool stream = true;
  std::string body;  //!< non-streamed or error bodies
  bool done_seen = false;
  bool sse_overflow = false;
  std::unique_ptr<http::SseParser> parser;
  std::function<void(RequestRecord)> done;
  int text_chunks = 0;

  double Now() const { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

  void OnEvent(const http::SseEvent& event) {
    if (event.data == "[DONE]") {
      done_seen = true;
      return;
    }
    auto json = nlohmann::json::parse(event.data, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded() || !json.is_object()) {
      if (record.error == ErrorKind::kNone) {
        record.error = ErrorKind::kBadResponse;
        record.error_message = "a stream chunk is not a JSON object";
      }
      return;
    }
    if (json.contains("error")) {
      record.error = ErrorKind::kStreamError;
      const auto& e = json["error"];
      record.error_message = e.is_object() && e.contains("message") && e["message"].is_string()
                                 ? e["message"].get<std::string>()
                                 : std::string("an error event in the stream");
      return;
    }
    ReadUsage(json);
    auto choices = json.find("choices");
    if (choices == json.end() || !choices->is_array()) return;
    for (const auto& choice : *choices) {
      std::string text;
      if (auto delta = choice.find("delta"); delta != choice.end() && delta->is_object()) {
        if (auto c = delta->find("content"); c != delta->end() && c->is_string()) text = c->get<std::string>();
      } else if (auto t = choice.find("text"); t != choice.end() && t->is_string()) {
        text = t->get<std::string>();
      }
      if (!text.empty()) {
        const double now = Now();
        if (record.token_ms.empty()) record.ttft_ms = now;
        record.token_ms.push_back(now);
        ++text_chunks;
      }
    }
  }

  void ReadUsage(const nlohmann::json& json) {
    auto usage = json.find("usage");
    if (usage == json.end() || !usage->is_object()) return;
    if (auto c = usage->find("completion_tokens"); c != usage->end() && c->is_number_integer())
      record.output_tokens = c->get<int>();
    if (auto p = usage->find("prompt_tokens"); p != usage->end() && p->is_number_integer())
      record.prompt_tokens = p->get<int>();
  }

  void Finish(const Status& status) {
    record.e2e_ms = Now();
    const bool got_head = record.http_status != 0;
    if (record.error != ErrorKind::kNone) {
      // Already classified from the body (stream error, bad chunk).
    } else if (!status.ok() && !(status.code() == StatusCode::kCancelled && sse_overflow)) {
      record.error = ClassifyTransportFailure(status, got_head, record.http_status);
      record.error_message = status.message();
    } else if (sse_overflow) {
      record.error = ErrorKind::kBadResponse;
      record.error_message = "an SSE line longer than 1 MiB";
    } else if (ErrorKind kind = ClassifyHttpStatus(record.http_status); kind != ErrorKind::kNone) {
      record.error = kind;
      record.error_message = "HTTP " + std::to_string(record.http_status) + ": " + body.substr(0, 300);
    } else if (stream) {
      if (!done_seen) {
        record.error = ErrorKind::kMidStreamClose;
        record.error_message = "the stream ended without data: [DONE]";
      }
      if (record.output_tokens == 0) record.output_tokens = text_chunks;
    } else {
      auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      if (json.is_discarded() || !json.is_object() || !json.contains("choices")) {
        record.error = ErrorKind::kBadResponse;
        record.error_message = "the response body is not a completion object";
      } else {
        ReadUsage(json);
        record.ttft_ms = record.e2e_ms;  // a non-streamed answer arrives at once
      }
    }
    auto callback = std::move(done);
    callback(std::move(record));
  }
};

}  // namespace

ErrorKind ClassifyHttpStatus(int http_status) {
  if (http_status >= 200 && http_status < 300) return ErrorKind::kNone;
  if (http_status == 429) return ErrorKind::kHttp429;
  if (http_status >= 500) return ErrorKind::kHttp5xx;
  if (http_status >= 400) return ErrorKind::kHttp4xx;
  return ErrorKind::kBadResponse;  // 1xx/3xx: not an answer a completion client can use
}

ErrorKind ClassifyTransportFailure(const Status& status, bool got_head, int http_status) {
  const std::string& m = status.message();
  if (status.code() == StatusCode::kDeadlineExceeded) return ErrorKind::kTimeout;
  if (got_head) {
    if (http_status >= 200 && http_status < 300) return ErrorKind::kMidStreamClose;
    if (ErrorKind k = ClassifyHttpStatus(http_status); k != ErrorKind::kNone) return k;
  }
  if (m.find("cannot connect") != std::string::npos || m.find("cannot resolve") != std::string::npos) {
    return m.find("refused") != std::string::npos ? ErrorKind::kConnectRefused : ErrorKind::kConnectError;
  }
  if (m.find("bad response") != std::string::npos) return ErrorKind::kBadResponse;
  if (status.code() == StatusCode::kUnavailable) return ErrorKind::kConnectionClosed;
  return ErrorKind::kOther;
}

std::shared_ptr<http::ClientCall> StartOpenAiCall(http::HttpClient& client, const CallOptions& options,
                                                  std::string body, std::function<void(RequestRecord)> done) {
  auto state = std::make_shared<CallState>();
  state->stream = options.stream;
  state->done = std::move(done);
  state->parser = std::make_unique<http::SseParser>([raw = state.get()](const http::SseEvent& e) { raw->OnEvent(e); });
  http::ClientRequest request;
  request.method = "POST";
  request.url = options.url;
  request.headers.Add("Content-Type", "application/json");
  if (options.stream) request.headers.Add("Accept", "text/event-stream");
  if (!options.api_key.empty()) request.headers.Add("Authorization", "Bearer " + options.api_key);
  if (options.cold) request.headers.Add("Connection", "close");
  request.body = std::move(body);
  http::ClientCallbacks callbacks;
  callbacks.on_headers = [state](const http::ClientResponse& head) {
    state->record.http_status = head.status;
    state->record.first_byte_ms = state->Now();
    state->record.reused_connection = head.reused_connection;
  };
  callbacks.on_body = [state](std::string_view piece) {
    const bool success = state->record.http_status >= 200 && state->record.http_status < 300;
    if (state->stream && success) {
      if (!state->parser->Feed(piece)) {
        state->sse_overflow = true;
        return false;
      }
    } else if (state->body.size() < (16u << 20)) {
      state->body.append(piece);
    }
    return true;
  };
  callbacks.on_complete = [state](const Status& status) { state->Finish(status); };
  state->start = Clock::now();
  return client.Start(std::move(request), std::move(callbacks));
}

}  // namespace meridian::loadgen
