// One accepted HTTP/1.1 connection of HttpServer (internal): reads and parses requests one at a
// time, enforces timeouts, dispatches to the router, writes queued response output, notices the
// client going away while a response is in flight, and closes gracefully or hard.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/http_server.h"
#include "http/request_parser.h"
#include "http/response_stream.h"
#include "http/transport.h"

namespace boost::asio::ssl {
class context;
}

namespace meridian::http::detail {

//! One accepted connection as the server's registry sees it: HTTP/1.1, HTTP/2, or one still in
//! its TLS handshake or protocol detection. Both methods only post to the connection's strand.
class Connection {
 public:
  virtual ~Connection() = default;
  //! The server is draining: close if idle, else close after the current responses.
  virtual void BeginDrain() = 0;
  //! The grace period is over: close now.
  virtual void ForceClose() = 0;
};

//! What connections share with their server. Outlives every connection's activity: the server
//! stops only when the registry is empty.
struct ServerCore {
  HttpServerOptions options;
  Router router;
  //! Set when the server terminates TLS (HttpServerOptions::tls_cert_file); immutable after Start.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> requests_rejected{0};

  std::mutex mutex;  //!< guards `connections`
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> connections;
  //! Called (from any io thread, no lock held) when the last connection left while draining.
  std::function<void()> on_drained;

  void Add(uint64_t id, std::shared_ptr<Connection> connection);
  //! Hands the registry slot `id` to the connection that takes over the socket (after the TLS
  //! handshake or protocol detection); false if the slot is gone.
  bool Replace(uint64_t id, std::shared_ptr<Connection> connection);
  void Remove(uint64_t id);
  size_t ActiveConnections();
  std::vector<std::shared_ptr<Connection>> Snapshot();
};

//! Thread-safety: every member function except Wake, BeginDrain and ForceClose runs on the
//! connection's strand (the executor of its socket); those three only post to it.
class ServerConnection : public Connection,
                         public ResponseSink,
                         public std::enable_shared_from_this<ServerConnection> {
 public:
  //! `initial_bytes`: input already read from the transport (by protocol detection).
  ServerConnection(ServerCore* core, uint64_t id, Transport transport, std::string initial_bytes = {});

  //! Starts reading; call once after registering the connection.
  void Start();
  void BeginDrain() override;
  void ForceClose() override;
  void Wake() override;

 private:
  enum class Phase { kReading, kHandling, kLingering, kClosed };
  enum class ReadTimer { kIdle, kHeader, kBody, kLinger };
  using Clock = std::chrono::steady_clock;

  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void ProcessInput();
  void Dispatch();
  void RespondError(int status, const std::string& message);
  void Flush();
  void OnWrite(const boost::system::error_code& ec, size_t bytes);
  void OnResponseComplete();
  void BeginLinger();
  void CloseNow(const std::string& reason);
  void ArmReadTimer(std::chrono::milliseconds after, ReadTimer kind);
  void CancelReadTimer();
  void OnReadTimeout(ReadTimer kind);
  void LogRequest(const char* outcome);

  ServerCore* const core_;
  const uint64_t id_;
  Transport socket_;
  boost::asio::steady_timer read_timer_;
  boost::asio::steady_timer write_timer_;
  uint64_t read_timer_generation_ = 0;
  uint64_t write_timer_generation_ = 0;
  std::string remote_;
  RequestParser parser_;
  Phase phase_ = Phase::kReading;
  bool read_pending_ = false;
  bool write_pending_ = false;
  bool request_started_ = false;  //!< bytes of a not yet complete request arrived
  bool discard_input_ = false;    //!< an error response is going out; later bytes are ignored
  bool draining_ = false;
  size_t lingered_bytes_ = 0;
  std::string in_;  //!< received bytes not yet parsed
  std::array<char, 16 * 1024> read_buf_;
  std::vector<std::string> raw_out_;  //!< "100 Continue" lines, written before stream output
  std::vector<std::string> out_;      //!< the write in flight
  size_t out_stream_bytes_ = 0;       //!< bytes of out_ that came from current_
  bool out_last_ = false;             //!< out_ ends the current response

  // The request being answered.
  std::shared_ptr<ResponseStream> current_;
  std::string current_method_;
  std::string current_path_;
  std::string current_request_id_;
  Clock::time_point current_start_;
};

}  // namespace meridian::http::detail
