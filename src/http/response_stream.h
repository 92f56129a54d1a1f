// The state one response shares between its producer (a handler or the engine, on any thread) and
// its connection (on the connection's strand): response framing (Content-Length, chunked, HEAD,
// HTTP/1.0), the bounded output queue, and close notification. Socket-free, so unit-testable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/headers.h"

namespace meridian::http {

//! Implemented by the server connection; lets a producer on another thread wake it up.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  //! Output or an abort is waiting. Called with the stream's lock held: must only post work to
  //! the connection's strand (never run it inline, never block, never take other locks).
  virtual void Wake() = 0;
};

//! What the stream needs to know about the request it answers.
struct ResponseContext {
  bool head_request = false;  //!< HEAD: send the head, never a body
  int version = 11;           //!< the request's version: 10 disables chunked encoding
  bool keep_alive = true;     //!< false: the connection closes after this response
  std::string request_id;     //!< sent as X-Request-Id
  size_t max_queued_bytes =
      1 << 20;  //!< streamed bytes not yet written past which the client counts as too slow
  //! An HTTP/2 stream: no HTTP/1 framing (no chunk sizes, no Connection field); the head goes
  //! out as Output::head (lower-case field names, Content-Length only for whole responses).
  bool http2 = false;
};

//! A response head as fields, for a connection that frames it itself (HTTP/2).
struct ResponseHead {
  int status = 0;
  std::vector<Headers::Field> fields;  //!< lower-case names, valid values, no hop-by-hop fields
  bool body_forbidden = false;         //!< HEAD request or a status that has no body
};

//! Thread-safety: the producer-side methods may be called from any thread, concurrently with the
//! connection-side methods, which the connection calls only from its strand. One mutex guards
//! everything; no callback runs under it.
class ResponseStream {
 public:
  ResponseStream(ResponseContext context, std::weak_ptr<ResponseSink> sink);

  // ---- producer side (any thread); see ResponseWriter for the contract ----
  bool Send(int status, Headers headers, std::string body);
  bool BeginStream(int status, Headers headers);
  bool Write(std::string_view chunk);
  bool End();
  void Abort(std::string reason);
  bool IsClosed() const;
  bool HasStarted() const;
  size_t QueuedBytes() const;
  void OnClose(std::function<void()> callback);
  //! The last ResponseWriter is gone: a response never started becomes a 500, an unfinished stream
  //! is aborted (the client sees a truncated body, not a clean end).
  void ProducerGone();

  // ---- connection side (its strand) ----
  struct Output {
    std::optional<ResponseHead> head;  //!< HTTP/2 only: the head, sent before `chunks`
    std::vector<std::string> chunks;   //!< bytes to write, in order (HTTP/2: body bytes only)
    bool last = false;                //!< once these are written, the response is complete
    bool abort = false;               //!< close the connection now; the response will not complete
  };
  //! Moves out every queued byte.
  Output TakeOutput();
  //! `bytes` queued bytes reached the socket.
  void OnWritten(size_t bytes);
  //! The server is draining: a head not yet sent says "Connection: close", and the connection
  //! closes after this response.
  void RequestCloseAfterResponse();
  //! Whether the connection must close once this response is written.
  bool close_after_response() const;
  //! The connection is closed. If the response was not completely written, returns the close
  //! callbacks (to run outside any lock, exactly once); later OnClose calls run at once.
  std::vector<std::function<void()>> MarkClosed(bool response_written);

  int status() const;                //!< 0 until a head is queued
  uint64_t body_bytes() const;       //!< body bytes queued so far (excluding chunk framing)
  std::string abort_reason() const;  //!< why the response was aborted; empty if it was not

 private:
  enum class Phase { kIdle, kStreaming, kFinished };
  std::string BuildHeadLocked(int status, const Headers& headers, bool streaming, size_t content_length);
  void QueueLocked(std::string bytes);
  void WakeLocked();
  void BuildHttp2HeadLocked(const Headers& headers, bool streaming, size_t content_length);
  void AbortLocked(std::string reason);

  const ResponseContext context_;
  const std::weak_ptr<ResponseSink> sink_;
  mutable std::mutex mutex_;
  Phase phase_ = Phase::kIdle;
  bool closed_ = false;             //!< no more output will be accepted (connection gone or abort)
  bool abort_ = false;              //!< the connection must close without completing the response
  bool close_notified_ = false;     //!< MarkClosed ran
  bool closed_abnormally_ = false;  //!< MarkClosed ran before the response was completely written
  bool last_taken_ = false;
  bool wake_pending_ = false;
  bool chunked_ = false;       //!< streaming with chunked framing (HTTP/1.1)
  bool discard_body_ = false;  //!< HEAD request or a status without a body
  bool close_after_ = false;
  int status_ = 0;
  uint64_t body_bytes_ = 0;
  size_t queued_bytes_ = 0;
  std::vector<std::string> pending_;
  std::optional<ResponseHead> pending_head_;  //!< HTTP/2: the head not yet taken
  std::vector<std::function<void()>> on_close_;
  std::string abort_reason_;
};

//! The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for the Date header.
std::string HttpDateNow();

//! Runs the callbacks MarkClosed returned; one that throws is logged and the rest still run.
void RunCloseCallbacks(std::vector<std::function<void()>>& callbacks);

}  // namespace meridian::http
