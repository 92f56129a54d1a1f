// HttpServer: the HTTP/1.1 server of `meridian serve` and the gateway. Keep-alive, chunked and SSE
// responses, request limits (431/413/408), connection limits, and graceful shutdown on SIGTERM.
// Handlers never wait on sockets and sockets never wait on handlers: see ResponseWriter.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/router.h"

namespace meridian::http {

struct HttpServerOptions {
  std::string host = "127.0.0.1";           //!< address to listen on ("0.0.0.0", "::", a name)
  uint16_t port = 0;                        //!< 0 picks a free port; see HttpServer::port()
  size_t io_threads = 2;                    //!< threads running sockets and handlers
  size_t max_header_bytes = 16 * 1024;      //!< request line + headers; past it: 431 (414 for the line)
  size_t max_body_bytes = 4 * 1024 * 1024;  //!< request body; past it: 413
  //! From a connection's first byte of a request (or its accept) to the end of the request header;
  //! past it a started request gets 408 and the connection closes (slowloris defence).
  std::chrono::milliseconds header_read_timeout{10'000};
  //! From the end of the header to the end of the body; past it: 408 and close.
  std::chrono::milliseconds body_read_timeout{60'000};
  //! How long a kept-alive connection may wait for its next request before it is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  //! How long one write of queued output may take; past it the client counts as gone.
  std::chrono::milliseconds write_timeout{30'000};
  //! After a final response with "Connection: close", how long unread request bytes are drained
  //! before closing (so the client reads the response instead of a TCP reset).
  std::chrono::milliseconds linger_timeout{2'000};
  //! Open connections at most; past it new connections get 503 with Retry-After and are closed.
  size_t max_connections = 4096;
  //! Streamed bytes queued for one response and not yet written, past which the client is too
  //! slow: the connection is closed and ResponseWriter::Write returns false.
  size_t max_queued_bytes_per_response = 1 << 20;
  //! One JSON log line per request (method, path, status, bytes, duration, request id).
  bool access_log = true;

  // ---- protocols (docs/http.md) ----
  //! PEM certificate chain (leaf first) and private key: when both are set the listener speaks
  //! TLS only (1.2 minimum, 1.3 when the client has it). Start fails with a message naming the
  //! file when either is unreadable, not PEM, or the key does not match the certificate.
  std::string tls_cert_file;
  std::string tls_key_file;
  //! A TLS handshake not finished within this is dropped (the connection is closed).
  std::chrono::milliseconds tls_handshake_timeout{10'000};
  //! HTTP/2: over TLS, ALPN offers "h2" before "http/1.1"; on a cleartext listener a connection
  //! that starts with the HTTP/2 client preface is served as h2c (prior knowledge). HTTP/1.1
  //! clients are served as before either way.
  bool http2 = false;
  //! SETTINGS_MAX_CONCURRENT_STREAMS: streams one HTTP/2 connection may have open; more are refused.
  uint32_t http2_max_concurrent_streams = 100;
  //! TCP Fast Open on the listener (queue of this many pending TFO requests; 0 disables). Where the
  //! kernel refuses it, the server starts anyway and logs it at debug level.
  int tcp_fast_open_queue = 256;
};

//! Counters since Start; safe to read from any thread.
struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  //!< 503 because max_connections was reached
  uint64_t requests = 0;              //!< requests handed to the router
  uint64_t requests_rejected = 0;     //!< answered by the server itself (400, 408, 413, 431, ...)
  uint64_t active_connections = 0;
};

//! Thread-safety: Start, Shutdown, port, draining and Stats may be called from any thread;
//! Wait from any thread except the server's own io threads (a handler must not call it).
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, Router router);
  //! Shuts down with no grace period (if still running) and waits.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  //! Binds, listens and starts the io threads; returns at once. Fails with InvalidArgument for bad
  //! options and Unavailable when the address cannot be bound.
  Status Start();
  //! The bound port (useful with port 0); 0 before Start.
  uint16_t port() const;

  //! Starts a graceful shutdown; returns at once. Stops accepting, closes idle keep-alive
  //! connections, lets in-flight requests and streams finish (each answered with
  //! "Connection: close"), and after `grace` closes what is left (their OnClose callbacks run so
  //! producers cancel). A second call may shorten the grace period, never lengthen it.
  void Shutdown(std::chrono::milliseconds grace);
  //! Installs SIGTERM and SIGINT handling: the first signal calls Shutdown(grace), a second one
  //! Shutdown(0). Default signal behaviour returns once the server has stopped. Call after Start
  //! (InvalidArgument otherwise); on return the handlers are in place.
  Status InstallSignalHandlers(std::chrono::milliseconds grace);
  //! Blocks until the server has stopped (after Shutdown) and its threads are joined; returns
  //! at once if it never started. `meridian serve` runs Start, InstallSignalHandlers, Wait, and
  //! exits 0.
  void Wait();
  //! True once Shutdown began (a /ready handler should then answer 503).
  bool draining() const;
  HttpServerStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
