// Response framing and the producer/connection hand-off for one response.
#include "http/response_stream.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>

#include "core/log.h"
#include "http/response_writer.h"
#include "http/status_codes.h"

namespace meridian::http {
namespace {

//! Fields whose framing meaning the stream owns; a handler's values for them are replaced.
bool IsFramingField(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "connection") || EqualsIgnoreCase(name, "keep-alive") ||
         EqualsIgnoreCase(name, "x-request-id");
}

void AppendHex(std::string& out, size_t value) {
  char buf[24];
  int n = std::snprintf(buf, sizeof buf, "%zx", value);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

std::string HttpDateNow() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  thread_local std::time_t cached_second = -1;
  thread_local std::string cached;
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                  kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

std::string ErrorBodyJson(int status, std::string_view message) {
  std::string out = "{\"error\":{\"message\":";
  log::AppendJsonString(out, message);
  out += ",\"type\":";
  out += status >= 500 ? "\"server_error\"" : "\"invalid_request_error\"";
  out += ",\"code\":";
  log::AppendJsonString(out, StatusErrorCode(status));
  out += "}}";
  return out;
}

ResponseStream::ResponseStream(ResponseContext context, std::weak_ptr<ResponseSink> sink)
    : context_(std::move(context)), sink_(std::move(sink)) {
  close_after_ = !context_.keep_alive;
}

std::string ResponseStream::BuildHeadLocked(int status, const Headers& headers, bool streaming,
                                            size_t content_length) {
  if (status < 100 || status > 999) {
    log::Error("http handler used an invalid status; sending 500",
               {{"status", static_cast<long long>(status)}});
    status = status::kInternalServerError;
  }
  status_ = status;
  bool forbids_body = StatusForbidsBody(status);
  discard_body_ = context_.head_request || forbids_body;
  if (auto connection = headers.Get("connection"); connection && HeaderHasToken(*connection, "close")) {
    close_after_ = true;
  }
  chunked_ = streaming && context_.version >= 11 && !context_.http2;
  if (context_.http2) {
    BuildHttp2HeadLocked(headers, streaming, content_length);
    return {};
  }
  if (streaming && !chunked_) close_after_ = true;  // HTTP/1.0: the body ends when the connection does

  std::string head;
  head.reserve(256);
  head += "HTTP/1.1 ";
  head += std::to_string(status);
  head.push_back(' ');
  head += ReasonPhrase(status);
  head += "\r\n";
  bool has_server = false;
  bool has_date = false;
  for (const auto& [name, value] : headers) {
    if (IsFramingField(name)) continue;
    if (!IsValidHeaderName(name) || !IsValidHeaderValue(value)) {
      log::Warn("http handler set an invalid header field; dropped it", {{"field", std::string_view(name)}});
      continue;
    }
    has_server = has_server || EqualsIgnoreCase(name, "server");
    has_date = has_date || EqualsIgnoreCase(name, "date");
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (!has_server) head += "Server: meridian\r\n";
  if (!has_date) {
    head += "Date: ";
    head += HttpDateNow();
    head += "\r\n";
  }
  head += "X-Request-Id: ";
  head += context_.request_id;
  head += "\r\n";
  if (!forbids_body) {
    if (chunked_) {
      head += "Transfer-Encoding: chunked\r\n";
    } else if (!streaming) {
      head += "Content-Length: ";
      head += std::to_string(content_length);
      head += "\r\n";
    }
  }
  if (close_after_) {
    head += "Connection: close\r\n";
  } else if (context_.version < 11) {
    head += "Connection: keep-alive\r\n";
  }
  head += "\r\n";
  return head;
}

void ResponseStream::BuildHttp2HeadLocked(const Headers& headers, bool streaming, size_t content_length) {
  ResponseHead head;
  head.status = status_;
  head.body_forbidden = discard_body_;
  bool has_server = false;
  bool has_date = false;
  for (const auto& [name, value] : headers) {
    // Connection-specific fields are forbidden in HTTP/2 (RFC 9113 8.2.2).
    if (IsFramingField(name) || EqualsIgnoreCase(name, "upgrade") || EqualsIgnoreCase(name, "te") ||
        EqualsIgnoreCase(name, "proxy-connection")) {
      continue;
    }
    if (!IsValidHeaderName(name) || !IsValidHeaderValue(value)) {
      log::Warn("http handler set an invalid header field; dropped it", {{"field", std::string_view(name)}});
      continue;
    }
    has_server = has_server || EqualsIgnoreCase(name, "server");
    has_date = has_date || EqualsIgnoreCase(name, "date");
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    head.fields.emplace_back(std::move(lower), value);
  }
  if (!has_server) head.fields.emplace_back("server", "meridian");
  if (!has_date) head.fields.emplace_back("date", HttpDateNow());
  head.fields.emplace_back("x-request-id", context_.request_id);
  if (!streaming && !StatusForbidsBody(status_)) {
    head.fields.emplace_back("content-length", std::to_string(content_length));
  }
  pending_head_ = std::move(head);
  WakeLocked();
}

void ResponseStream::WakeLocked() {
  if (!wake_pending_) {
    if (auto sink = sink_.lock()) {
      wake_pending_ = true;
      sink->Wake();
    }
  }
}

void ResponseStream::QueueLocked(std::string bytes) {
  if (bytes.empty()) return;
  queued_bytes_ += bytes.size();
  pending_.push_back(std::move(bytes));
  WakeLocked();
}

void ResponseStream::AbortLocked(std::string reason) {
  if (closed_) return;
  closed_ = true;
  abort_ = true;
  abort_reason_ = std::move(reason);
  pending_.clear();
  if (!wake_pending_) {
    if (auto sink = sink_.lock()) {
      wake_pending_ = true;
      sink->Wake();
    }
  }
}

bool ResponseStream::Send(int status, Headers headers, std::string body) {
  std::lock_guard lock(mutex_);
  if (closed_ || phase_ != Phase::kIdle) return false;
  std::string out = BuildHeadLocked(status, headers, /*streaming=*/false, body.size());
  phase_ = Phase::kFinished;
  if (discard_body_) {
    QueueLocked(std::move(out));
  } else {
    body_bytes_ = body.size();
    if (body.size() < 16 * 1024) {  // one buffer, one syscall for the common small response
      out += body;
      QueueLocked(std::move(out));
    } else {
      QueueLocked(std::move(out));
      QueueLocked(std::move(body));
    }
  }
  return true;
}

bool ResponseStream::BeginStream(int status, Headers headers) {
  std::lock_guard lock(mutex_);
  if (closed_ || phase_ != Phase::kIdle) return false;
  QueueLocked(BuildHeadLocked(status, headers, /*streaming=*/true, 0));
  phase_ = Phase::kStreaming;
  return true;
}

bool ResponseStream::Write(std::string_view chunk) {
  std::lock_guard lock(mutex_);
  if (closed_ || phase_ != Phase::kStreaming) return false;
  if (chunk.empty() || discard_body_) return true;  // an empty chunk would end chunked framing
  std::string framed;
  if (chunked_) {
    framed.reserve(chunk.size() + 16);
    AppendHex(framed, chunk.size());
    framed += "\r\n";
    framed.append(chunk);
    framed += "\r\n";
  } else {
    framed.assign(chunk);
  }
  // One chunk is always accepted into an empty queue, however large; past that the queue is bounded.
  if (queued_bytes_ > 0 && queued_bytes_ + framed.size() > context_.max_queued_bytes) {
    AbortLocked("client is reading too slowly: " + std::to_string(queued_bytes_) +
                " streamed bytes are still queued");
    return false;
  }
  body_bytes_ += chunk.size();
  QueueLocked(std::move(framed));
  return true;
}

bool ResponseStream::End() {
  std::lock_guard lock(mutex_);
  if (closed_ || phase_ != Phase::kStreaming) return false;
  phase_ = Phase::kFinished;
  if (chunked_ && !discard_body_) {
    QueueLocked("0\r\n\r\n");
  } else if (auto sink = sink_.lock(); sink && !wake_pending_) {
    wake_pending_ = true;  // nothing to write, but the connection must learn the response ended
    sink->Wake();
  }
  return true;
}

void ResponseStream::Abort(std::string reason) {
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::kFinished && !closed_) return;  // complete already; nothing to abort
  AbortLocked(std::move(reason));
}

bool ResponseStream::IsClosed() const {
  std::lock_guard lock(mutex_);
  return closed_ || phase_ == Phase::kFinished;
}

bool ResponseStream::HasStarted() const {
  std::lock_guard lock(mutex_);
  return phase_ != Phase::kIdle;
}

size_t ResponseStream::QueuedBytes() const {
  std::lock_guard lock(mutex_);
  return queued_bytes_;
}

void ResponseStream::OnClose(std::function<void()> callback) {
  if (!callback) return;
  {
    std::lock_guard lock(mutex_);
    if (!close_notified_) {
      on_close_.push_back(std::move(callback));
      return;
    }
    if (!closed_abnormally_) return;  // the response was delivered; there is nothing to cancel
  }
  callback();  // the connection is gone already
}

void ResponseStream::ProducerGone() {
  std::unique_lock lock(mutex_);
  if (closed_) return;
  if (phase_ == Phase::kIdle) {
    lock.unlock();
    log::Error("http handler dropped its ResponseWriter without responding; sending 500",
               {{"request_id", std::string_view(context_.request_id)}});
    Send(status::kInternalServerError, {{"Content-Type", "application/json"}},
         ErrorBodyJson(status::kInternalServerError, "the server did not produce a response"));
  } else if (phase_ == Phase::kStreaming) {
    AbortLocked("the response stream was dropped before End()");
  }
}

ResponseStream::Output ResponseStream::TakeOutput() {
  std::lock_guard lock(mutex_);
  Output out;
  wake_pending_ = false;
  if (abort_) {
    out.abort = true;
    return out;
  }
  out.head = std::move(pending_head_);
  pending_head_.reset();
  out.chunks.swap(pending_);
  if (phase_ == Phase::kFinished && !last_taken_) {
    last_taken_ = true;
    out.last = true;
  }
  return out;
}

void ResponseStream::OnWritten(size_t bytes) {
  std::lock_guard lock(mutex_);
  queued_bytes_ = bytes > queued_bytes_ ? 0 : queued_bytes_ - bytes;
}

void ResponseStream::RequestCloseAfterResponse() {
  std::lock_guard lock(mutex_);
  close_after_ = true;
}

bool ResponseStream::close_after_response() const {
  std::lock_guard lock(mutex_);
  return close_after_;
}

std::vector<std::function<void()>> ResponseStream::MarkClosed(bool response_written) {
  std::lock_guard lock(mutex_);
  closed_ = true;
  pending_.clear();
  std::vector<std::function<void()>> callbacks;
  if (!close_notified_) {
    close_notified_ = true;
    closed_abnormally_ = !response_written;
    if (!response_written) callbacks.swap(on_close_);
    on_close_.clear();
  }
  return callbacks;
}

int ResponseStream::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

uint64_t ResponseStream::body_bytes() const {
  std::lock_guard lock(mutex_);
  return body_bytes_;
}

std::string ResponseStream::abort_reason() const {
  std::lock_guard lock(mutex_);
  return abort_reason_;
}

void RunCloseCallbacks(std::vector<std::function<void()>>& callbacks) {
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& e) {
      log::Error("http OnClose callback threw", {{"error", e.what()}});
    } catch (...) {
      log::Error("http OnClose callback threw a non-standard exception");
    }
  }
}

}  // namespace meridian::http
