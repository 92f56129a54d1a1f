// HttpClient: an HTTP/1.1 client with keep-alive connection pooling per host:port, timeouts
// (connect, first byte, idle between bytes), streamed response bodies and cancellation. Used by
// tests now, and by the gateway (upstream calls) and bench later.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/headers.h"

namespace meridian::http {

struct HttpClientOptions {
  size_t io_threads = 1;                                 //!< threads running sockets and callbacks
  std::chrono::milliseconds connect_timeout{5'000};      //!< resolve + TCP connect
  std::chrono::milliseconds first_byte_timeout{60'000};  //!< request sent -> first response byte
  std::chrono::milliseconds read_idle_timeout{60'000};   //!< longest gap between response bytes
  //! A pooled idle connection older than this is not reused (keep it below the server's
  //! idle timeout so the client never picks a connection the server is closing).
  std::chrono::milliseconds pool_idle_timeout{30'000};
  size_t max_idle_per_host = 16;                 //!< pooled idle connections per host:port
  size_t max_response_header_bytes = 64 * 1024;  //!< past it the call fails
  size_t max_buffered_body_bytes = 64 << 20;     //!< Fetch only (streaming has no limit)
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  //!< "http://host:port/path?query"
  Headers headers;  //!< Host, Content-Length and User-Agent are added unless present
  std::string body;
  //! Per-call overrides of HttpClientOptions' timeouts (zero: the client's option).
  std::chrono::milliseconds connect_timeout{0};
  std::chrono::milliseconds first_byte_timeout{0};
  std::chrono::milliseconds read_idle_timeout{0};
  //! Also retry a non-idempotent request once on a fresh connection when a pooled connection
  //! failed before any response byte (safe when the caller knows the server did not act on it, or
  //! does not mind: the gateway's upstream calls).
  bool retry_stale_pooled = false;
};

struct ClientResponse {
  int status = 0;
  int version = 11;  //!< 10 or 11
  Headers headers;
  std::string body;                //!< empty when the body was streamed to a callback
  bool reused_connection = false;  //!< the request went over a pooled connection
  //! How long the exchange took from sending the request to the response head (excludes connect).
  std::chrono::microseconds head_latency{0};
};

//! Callbacks of one asynchronous call. They run on one of the client's io threads, one at a time
//! per call, and must not block (and must not call Fetch).
struct ClientCallbacks {
  //! The final status line and headers arrived (before any body piece).
  std::function<void(const ClientResponse& head)> on_headers;
  //! One decoded piece of the body, as it arrived (chunk framing removed). Return false to stop:
  //! the call then ends with Cancelled and its connection is closed.
  std::function<bool(std::string_view piece)> on_body;
  //! Runs exactly once, last: Ok, or why the call failed: InvalidArgument (bad URL or request),
  //! Unavailable (connect/read/write error, malformed response), DeadlineExceeded (a timeout),
  //! Cancelled (Cancel, on_body returned false, or the client is being destroyed).
  std::function<void(const Status& status)> on_complete;
};

namespace detail {
class ClientCore;
}  // namespace detail

//! A call in progress.
class ClientCall {
 public:
  virtual ~ClientCall() = default;
  //! Stops the call from any thread: its connection is closed (never pooled) and on_complete gets
  //! Cancelled unless it already ran. Idempotent.
  virtual void Cancel() = 0;
};

//! Thread-safety: all methods may be called from any thread, except that the blocking Fetch
//! calls must not run on the client's own io threads (it refuses, to avoid a deadlock).
//! Destruction cancels calls still running (their on_complete gets Cancelled) and waits for them.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  //! Starts a call; returns at once. A pooled connection that fails before any response byte is
  //! retried once on a new connection when the method is idempotent (GET, HEAD, PUT, DELETE,
  //! OPTIONS): the server may have closed it while idle.
  std::shared_ptr<ClientCall> Start(ClientRequest request, ClientCallbacks callbacks);
  //! Blocks until the whole response is here (body kept up to max_buffered_body_bytes, else
  //! ResourceExhausted). A non-2xx status is a successful result: check response.status.
  Result<ClientResponse> Fetch(ClientRequest request);
  //! Blocks; the body goes to `on_body` (on an io thread) piece by piece instead of being kept.
  Result<ClientResponse> FetchStreaming(ClientRequest request, std::function<bool(std::string_view)> on_body);
  //! Idle pooled connections, all hosts together.
  size_t IdleConnections() const;

 private:
  std::shared_ptr<detail::ClientCore> impl_;
};

}  // namespace meridian::http
