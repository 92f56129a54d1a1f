// HttpServer: listening, accepting, the connection limit, graceful shutdown and signals.
#include "http/http_server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <future>
#include <optional>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "core/log.h"
#include "http/connection_setup.h"
#include "http/server_connection.h"
#include "http/tls_context.h"
#include "http/status_codes.h"

namespace meridian::http {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using detail::ConnectionSetup;
using detail::ServerConnection;
using detail::ServerCore;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, Router router)
      : accept_strand_(asio::make_strand(io_)),
        acceptor_(accept_strand_),
        accept_retry_timer_(accept_strand_),
        grace_timer_(accept_strand_) {
    core_.options = std::move(options);
    core_.router = std::move(router);
    core_.on_drained = [this] { asio::post(accept_strand_, [this] { CheckDrained(); }); };
  }

  Status Start();
  void Shutdown(std::chrono::milliseconds grace);
  Status InstallSignalHandlers(std::chrono::milliseconds grace);
  void Wait();
  uint16_t port() const { return port_.load(); }
  bool draining() const { return core_.draining.load(); }
  HttpServerStats Stats();

 private:
  Status ValidateOptions() const;
  void DoAccept();
  void OnAccept(const boost::system::error_code& ec, tcp::socket socket);
  void RejectConnection(tcp::socket socket);
  void DoShutdown(std::chrono::milliseconds grace);
  void CheckDrained();
  void WaitForSignal();

  // Declaration order matters: the io_context outlives the io objects below it, and the core
  // (which connections point to) outlives the io_context.
  ServerCore core_;
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_timer_;
  asio::steady_timer grace_timer_;
  std::optional<asio::signal_set> signals_;
  std::chrono::milliseconds signal_grace_{0};
  int signals_seen_ = 0;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::mutex lifecycle_mutex_;  //!< guards started_, joining_, joined_ and threads_
  std::condition_variable joined_cv_;
  bool started_ = false;
  bool joining_ = false;
  bool joined_ = false;
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> next_connection_id_{1};
  std::atomic<size_t> rejecting_{0};
  // Accept strand only:
  bool shutting_down_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point grace_deadline_{};
};

Status HttpServer::Impl::ValidateOptions() const {
  const auto& o = core_.options;
  if (o.io_threads == 0 || o.io_threads > 256) return InvalidArgument("http io_threads must be 1..256");
  if (o.max_header_bytes < 256) return InvalidArgument("http max_header_bytes must be at least 256");
  if (o.max_connections == 0) return InvalidArgument("http max_connections must be at least 1");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate chain file and a private key file (--tls-cert and --tls-key)");
  }
  if (o.http2_max_concurrent_streams == 0) {
    return InvalidArgument("http2_max_concurrent_streams must be at least 1");
  }
  if (o.max_queued_bytes_per_response < 1024) {
    return InvalidArgument("http max_queued_bytes_per_response must be at least 1024");
  }
  using std::chrono::milliseconds;
  for (auto [name, value] :
       {std::pair{"header_read_timeout", o.header_read_timeout},
        std::pair{"body_read_timeout", o.body_read_timeout}, std::pair{"idle_timeout", o.idle_timeout},
        std::pair{"write_timeout", o.write_timeout}, std::pair{"linger_timeout", o.linger_timeout},
        std::pair{"tls_handshake_timeout", o.tls_handshake_timeout}}) {
    if (value <= milliseconds(0)) return InvalidArgument(std::string("http ") + name + " must be positive");
  }
  return Status::Ok();
}

Status HttpServer::Impl::Start() {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) return InvalidArgument("http server already started");
  MERIDIAN_RETURN_IF_ERROR(ValidateOptions());
  const auto& o = core_.options;
  if (!o.tls_cert_file.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(core_.tls, MakeServerTlsContext({o.tls_cert_file, o.tls_key_file, o.http2}));
  }
  std::string where = o.host + ":" + std::to_string(o.port);
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  auto endpoints = resolver.resolve(o.host, std::to_string(o.port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Unavailable("cannot resolve listen address " + where + ": " + (ec ? ec.message() : "no address"));
  }
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec && o.tcp_fast_open_queue > 0) {
    int queue = o.tcp_fast_open_queue;
    if (::setsockopt(acceptor_.native_handle(), IPPROTO_TCP, TCP_FASTOPEN, &queue, sizeof queue) != 0) {
      log::Debug("TCP Fast Open not enabled on the listener", {{"error", std::strerror(errno)}});
    }
  }
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  started_ = true;
  work_.emplace(io_.get_executor());
  for (size_t i = 0; i < o.io_threads; ++i) {
    threads_.emplace_back([this] {
      while (true) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {  // handlers catch their own; this is a last resort
          log::Error("http io thread caught an exception", {{"error", e.what()}});
        } catch (...) {
          log::Error("http io thread caught a non-standard exception");
        }
      }
    });
  }
  log::Info("http server listening", {{"host", std::string_view(o.host)},
                                      {"port", static_cast<long long>(port_.load())},
                                      {"io_threads", static_cast<long long>(o.io_threads)},
                                      {"tls", core_.tls != nullptr},
                                      {"http2", o.http2}});
  asio::post(accept_strand_, [this] { DoAccept(); });
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  if (shutting_down_ || !acceptor_.is_open()) return;
  acceptor_.async_accept(
      asio::make_strand(io_),
      asio::bind_executor(accept_strand_, [this](const boost::system::error_code& ec, tcp::socket socket) {
        OnAccept(ec, std::move(socket));
      }));
}

void HttpServer::Impl::OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (shutting_down_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory: wait a little instead of spinning on the same error.
    log::Warn("http accept failed", {{"error", ec.message()}});
    accept_retry_timer_.expires_after(std::chrono::milliseconds(100));
    accept_retry_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
      if (!wait_ec) DoAccept();
    });
    return;
  }
  if (core_.ActiveConnections() >= core_.options.max_connections) {
    RejectConnection(std::move(socket));
  } else {
    core_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    uint64_t id = next_connection_id_.fetch_add(1);
    boost::system::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    if (core_.tls || core_.options.http2) {  // TLS handshake or h2c preface detection first
      auto setup = std::make_shared<ConnectionSetup>(&core_, id, std::move(socket));
      core_.Add(id, setup);
      setup->Start();
    } else {
      auto connection = std::make_shared<ServerConnection>(&core_, id, detail::Transport(std::move(socket)));
      core_.Add(id, connection);
      connection->Start();
    }
  }
  DoAccept();
}

void HttpServer::Impl::RejectConnection(tcp::socket socket) {
  core_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
  // At most max_connections rejections are in flight; past that, close without a word.
  if (rejecting_.load() >= core_.options.max_connections) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  struct Rejection {
    explicit Rejection(tcp::socket s) : socket(std::move(s)), timer(socket.get_executor()) {}
    tcp::socket socket;
    asio::steady_timer timer;
    std::string response;
  };
  auto rejection = std::make_shared<Rejection>(std::move(socket));
  std::string body =
      ErrorBodyJson(status::kServiceUnavailable, "the server is at its connection limit; retry later");
  rejection->response =
      "HTTP/1.1 503 Service Unavailable\r\nServer: meridian\r\nRetry-After: 1\r\n"
      "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  rejecting_.fetch_add(1);
  auto finish = [this, rejection] {
    boost::system::error_code ignored;
    rejection->timer.cancel();
    rejection->socket.close(ignored);
  };
  rejection->timer.expires_after(core_.options.linger_timeout);
  rejection->timer.async_wait([rejection](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    if (!ec) rejection->socket.close(ignored);
  });
  asio::async_write(rejection->socket, asio::buffer(rejection->response),
                    [this, rejection, finish](const boost::system::error_code& ec, size_t) {
                      boost::system::error_code ignored;
                      if (!ec) rejection->socket.shutdown(tcp::socket::shutdown_send, ignored);
                      finish();
                      if (rejecting_.fetch_sub(1) == 1)
                        asio::post(accept_strand_, [this] { CheckDrained(); });
                    });
}

void HttpServer::Impl::Shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(lifecycle_mutex_);
    if (!started_) return;
  }
  if (grace < std::chrono::milliseconds(0)) grace = std::chrono::milliseconds(0);
  core_.draining = true;  // visible at once (draining(), new connections); the rest runs on the strand
  asio::post(accept_strand_, [this, grace] { DoShutdown(grace); });
}

void HttpServer::Impl::DoShutdown(std::chrono::milliseconds grace) {
  if (stopped_) return;
  auto deadline = std::chrono::steady_clock::now() + grace;
  if (shutting_down_ && deadline >= grace_deadline_) return;
  bool first = !shutting_down_;
  shutting_down_ = true;
  grace_deadline_ = deadline;
  if (first) {
    core_.draining = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
    auto connections = core_.Snapshot();
    log::Info("http server shutting down",
              {{"grace_ms", static_cast<long long>(grace.count())},
               {"open_connections", static_cast<long long>(connections.size())}});
    for (auto& connection : connections) connection->BeginDrain();
  }
  grace_timer_.expires_at(grace_deadline_);
  grace_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto connections = core_.Snapshot();
    if (!connections.empty()) {
      log::Warn("http shutdown grace period over; closing open connections",
                {{"open_connections", static_cast<long long>(connections.size())}});
    }
    for (auto& connection : connections) connection->ForceClose();
  });
  CheckDrained();
}

void HttpServer::Impl::CheckDrained() {
  if (!shutting_down_ || stopped_) return;
  if (core_.ActiveConnections() != 0 || rejecting_.load() != 0) return;
  stopped_ = true;
  grace_timer_.cancel();
  if (signals_) {
    boost::system::error_code ignored;
    signals_->cancel(ignored);
    signals_->clear(ignored);  // later signals get their default behaviour again
  }
  log::Info("http server stopped");
  work_.reset();
  io_.stop();
}

Status HttpServer::Impl::InstallSignalHandlers(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(lifecycle_mutex_);
    if (!started_) return InvalidArgument("install signal handlers after HttpServer::Start");
  }
  auto installed = std::make_shared<std::promise<void>>();
  auto done = installed->get_future();
  asio::post(accept_strand_, [this, grace, installed] {
    if (!stopped_ && !signals_) {
      signal_grace_ = grace;
      signals_.emplace(accept_strand_, SIGINT, SIGTERM);
      WaitForSignal();
    }
    installed->set_value();
  });
  // Wait, so that a signal raised after this returns is certainly handled (unless called from an
  // io thread, where waiting would deadlock; the handlers are then installed just after). A
  // server that already stopped never runs the task: do not wait for it then.
  if (!io_.get_executor().running_in_this_thread()) {
    while (done.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
      if (io_.stopped()) break;
    }
  }
  return Status::Ok();
}

void HttpServer::Impl::WaitForSignal() {
  signals_->async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec || stopped_) return;
    ++signals_seen_;
    auto grace = signals_seen_ == 1 ? signal_grace_ : std::chrono::milliseconds(0);
    log::Info("http server got a signal", {{"signal", static_cast<long long>(signal_number)},
                                           {"grace_ms", static_cast<long long>(grace.count())}});
    DoShutdown(grace);
    if (!stopped_) WaitForSignal();
  });
}

void HttpServer::Impl::Wait() {
  std::unique_lock lock(lifecycle_mutex_);
  if (!started_) return;
  if (joining_) {  // another thread joins; wait for it to finish
    joined_cv_.wait(lock, [this] { return joined_; });
    return;
  }
  joining_ = true;
  std::vector<std::thread> threads;
  threads.swap(threads_);
  lock.unlock();
  for (auto& thread : threads) thread.join();
  lock.lock();
  joined_ = true;
  joined_cv_.notify_all();
}

HttpServerStats HttpServer::Impl::Stats() {
  HttpServerStats stats;
  stats.connections_accepted = core_.connections_accepted.load();
  stats.connections_rejected = core_.connections_rejected.load();
  stats.requests = core_.requests.load();
  stats.requests_rejected = core_.requests_rejected.load();
  stats.active_connections = core_.ActiveConnections();
  return stats;
}

HttpServer::HttpServer(HttpServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

HttpServer::~HttpServer() {
  impl_->Shutdown(std::chrono::milliseconds(0));
  impl_->Wait();
}

Status HttpServer::Start() {
  return impl_->Start();
}
uint16_t HttpServer::port() const {
  return impl_->port();
}
void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  impl_->Shutdown(grace);
}
Status HttpServer::InstallSignalHandlers(std::chrono::milliseconds grace) {
  return impl_->InstallSignalHandlers(grace);
}
void HttpServer::Wait() {
  impl_->Wait();
}
bool HttpServer::draining() const {
  return impl_->draining();
}
HttpServerStats HttpServer::Stats() const {
  return impl_->Stats();
}

}  // namespace meridian::http
