// ResponseWriter: how a handler (or the engine, later, from its own thread) answers one request,
// either whole (Send) or streamed (BeginStream/Write/End, SSE via WriteEvent), without ever
// waiting on the socket.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/headers.h"

namespace meridian::http {

class ResponseStream;

//! {"error":{"message":...,"type":"invalid_request_error"|"server_error","code":"not_found"}}:
//! the OpenAI-style error body this library sends with its own error statuses.
std::string ErrorBodyJson(int status, std::string_view message);

//! The answer to one request. Thread-safety: every method may be called from any thread, also
//! concurrently; calls never block on the network (output is queued and written by the
//! connection's io thread). Keep it in a std::shared_ptr as the handler received it; when the last
//! copy is destroyed without a response, the client gets a 500, and an unfinished stream is cut
//! off (the client sees a truncated body, never a clean end it did not get).
class ResponseWriter {
 public:
  //! Made by the server for each request (and by tests over a bare ResponseStream).
  ResponseWriter(std::shared_ptr<ResponseStream> stream, std::string request_id);
  ~ResponseWriter();
  ResponseWriter(const ResponseWriter&) = delete;
  ResponseWriter& operator=(const ResponseWriter&) = delete;

  //! Sends a complete response with Content-Length. The library adds Server, Date, X-Request-Id
  //! and Connection, and owns framing: Content-Length / Transfer-Encoding / Connection values
  //! in `headers` are replaced (a "Connection: close" is honoured: the connection closes after).
  //! Fields with invalid names or values (CR, LF) are dropped. False if a response was already
  //! started or the connection is closed.
  bool Send(int status, Headers headers, std::string body);
  //! Send with "Content-Type: application/json".
  bool SendJson(int status, std::string json);
  //! Sends this library's JSON error body: {"error":{"message":..,"type":..,"code":..}}.
  bool SendError(int status, std::string_view message);

  //! Starts a streamed response: chunked for HTTP/1.1, raw until close for HTTP/1.0. False if a
  //! response was already started or the connection is closed.
  bool BeginStream(int status, Headers headers);
  //! BeginStream(200) for Server-Sent Events: Content-Type: text/event-stream, Cache-Control:
  //! no-cache, X-Accel-Buffering: no (so proxies do not buffer), plus `headers`.
  bool BeginEventStream(Headers headers = {});
  //! Queues one piece of the body (sent as one chunk; empty pieces are skipped). Returns false
  //! once no more output can go out: the response ended, the client disconnected, or the client
  //! reads so slowly that the queue passed HttpServerOptions::max_queued_bytes_per_response (the
  //! connection is then closed). A producer that gets false should stop and free its resources.
  bool Write(std::string_view chunk);
  //! Writes one SSE event (see FormatSseEvent).
  bool WriteEvent(std::string_view data, std::string_view event = {});
  //! Finishes a streamed response. False if no stream was started or the connection is closed.
  bool End();
  //! Closes the connection without completing the response (the client sees it cut off).
  void Abort();

  //! True once output is no longer accepted (response finished, or connection closed).
  bool IsClosed() const;
  //! True once Send or BeginStream succeeded.
  bool HasStarted() const;
  //! Queued bytes not yet written to the socket: a producer can pace itself by it.
  size_t QueuedBytes() const;
  //! Registers `callback` to run once if the connection closes before the response was completely
  //! written: client disconnect (noticed while the handler or stream is still running), slow
  //! client, Abort, or shutdown past its grace period. It runs on an io thread and must not block
  //! (post a cancellation to the engine's queue). Registered after such a close, it runs at once
  //! on the calling thread; after a normal completion it never runs.
  void OnClose(std::function<void()> callback);
  //! The request id (also sent as X-Request-Id).
  const std::string& request_id() const { return request_id_; }

 private:
  std::shared_ptr<ResponseStream> stream_;
  std::string request_id_;
};

}  // namespace meridian::http
