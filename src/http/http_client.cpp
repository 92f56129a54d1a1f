// HttpClient: pooled HTTP/1.1 calls over Asio, one strand per call.
#include "http/http_client.h"

#include <sys/socket.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/log.h"
#include "http/response_parser.h"
#include "http/url.h"

namespace meridian::http {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Call;

bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

//! True if a pooled socket still looks usable: not closed by the peer, no unexpected bytes.
bool LooksAlive(tcp::socket& socket) {
  char byte;
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  return false;  // 0: the peer closed; >0: bytes nobody asked for
}

}  // namespace

namespace detail {

//! The client's io threads, connection pool and live calls; shared by the calls.
class ClientCore {
 public:
  explicit ClientCore(HttpClientOptions opts) : options(std::move(opts)), work(io.get_executor()) {
    if (options.io_threads == 0) options.io_threads = 1;
    for (size_t i = 0; i < options.io_threads; ++i) {
      threads.emplace_back([this] {
        while (true) {
          try {
            io.run();
            return;
          } catch (const std::exception& e) {
            log::Error("http client io thread caught an exception", {{"error", e.what()}});
          } catch (...) {
            log::Error("http client io thread caught a non-standard exception");
          }
        }
      });
    }
  }

  void Close();
  std::optional<tcp::socket> Checkout(const std::string& key);
  void Return(const std::string& key, tcp::socket socket);
  bool Register(uint64_t id, const std::shared_ptr<Call>& call);
  void Unregister(uint64_t id);

  struct Idle {
    tcp::socket socket;
    std::chrono::steady_clock::time_point since;
  };

  HttpClientOptions options;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  mutable std::mutex mutex;  //!< guards pool, calls, closing
  std::unordered_map<std::string, std::vector<Idle>> pool;
  std::unordered_map<uint64_t, std::weak_ptr<Call>> calls;
  bool closing = false;
  std::atomic<uint64_t> next_call_id{1};
};

}  // namespace detail

namespace {

//! One request/response exchange. Everything after construction runs on strand_.
class Call : public ClientCall, public std::enable_shared_from_this<Call> {
 public:
  using Impl = detail::ClientCore;
  Call(std::shared_ptr<Impl> impl, uint64_t id, ClientRequest request, ClientCallbacks callbacks)
      : impl_(std::move(impl)),
        id_(id),
        strand_(asio::make_strand(impl_->io)),
        request_(std::move(request)),
        callbacks_(std::move(callbacks)),
        resolver_(strand_),
        timer_(strand_) {}

  void Begin() {
    asio::post(strand_, [self = shared_from_this()] { self->Run(); });
  }

  void Cancel() override {
    asio::post(strand_, [self = shared_from_this()] {
      self->Finish(Status(StatusCode::kCancelled, "call cancelled"));
    });
  }

 private:
  enum class TimerKind { kConnect, kFirstByte, kIdle };

  static std::chrono::milliseconds Pick(std::chrono::milliseconds call, std::chrono::milliseconds client) {
    return call.count() > 0 ? call : client;
  }

  void Run() {
    if (done_) return;
    auto url = ParseUrl(request_.url);
    if (!url.ok()) {
      Finish(url.status());
      return;
    }
    url_ = std::move(url).value();
    pool_key_ = url_.Authority();
    Status built = BuildWire();
    if (!built.ok()) {
      Finish(built);
      return;
    }
    Acquire();
  }

  Status BuildWire() {
    const std::string& method = request_.method;
    if (!IsValidHeaderName(method))
      return InvalidArgument("invalid HTTP method '" + method.substr(0, 32) + "'");
    wire_.clear();
    wire_.reserve(256 + request_.body.size());
    wire_ += method + " " + url_.target + " HTTP/1.1\r\n";
    if (!request_.headers.Has("host")) wire_ += "Host: " + url_.HostHeader() + "\r\n";
    for (const auto& [name, value] : request_.headers) {
      if (!IsValidHeaderName(name) || !IsValidHeaderValue(value)) {
        return InvalidArgument("invalid request header field '" + name.substr(0, 64) + "'");
      }
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) continue;
      if (EqualsIgnoreCase(name, "connection") && HeaderHasToken(value, "close")) close_requested_ = true;
      wire_ += name + ": " + value + "\r\n";
    }
    if (!request_.headers.Has("user-agent")) wire_ += "User-Agent: meridian\r\n";
    if (!request_.body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      wire_ += "Content-Length: " + std::to_string(request_.body.size()) + "\r\n";
    }
    wire_ += "\r\n";
    wire_ += request_.body;
    request_.body.clear();
    request_.body.shrink_to_fit();
    return Status::Ok();
  }

  void Acquire() {
    if (!retried_) {
      if (auto pooled = impl_->Checkout(pool_key_)) {
        socket_.emplace(std::move(*pooled));
        reused_ = true;
        Exchange();
        return;
      }
    }
    reused_ = false;
    ArmTimer(Pick(request_.connect_timeout, impl_->options.connect_timeout), TimerKind::kConnect);
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        tcp::resolver::results_type results) {
                              self->OnResolved(ec, std::move(results));
                            });
  }

  void OnResolved(const boost::system::error_code& ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec) {
      Finish(Unavailable("cannot resolve " + url_.host + ": " + ec.message()));
      return;
    }
    socket_.emplace(impl_->io);
    asio::async_connect(*socket_, results,
                        asio::bind_executor(strand_, [self = shared_from_this()](
                                                         const boost::system::error_code& ec,
                                                         const tcp::endpoint&) { self->OnConnected(ec); }));
  }

  void OnConnected(const boost::system::error_code& ec) {
    if (done_) return;
    if (ec) {
      Finish(Unavailable("cannot connect to " + url_.Authority() + ": " + ec.message()));
      return;
    }
    boost::system::error_code ignored;
    socket_->set_option(tcp::no_delay(true), ignored);
    Exchange();
  }

  void Exchange() {
    ++connection_;
    parser_ =
        std::make_unique<ResponseParser>(impl_->options.max_response_header_bytes, request_.method == "HEAD");
    in_.clear();
    got_bytes_ = false;
    write_done_ = false;
    header_seen_ = false;
    ArmTimer(Pick(request_.first_byte_timeout, impl_->options.first_byte_timeout), TimerKind::kFirstByte);
    exchange_start_ = std::chrono::steady_clock::now();
    write_pending_ = true;
    asio::async_write(*socket_, asio::buffer(wire_),
                      asio::bind_executor(strand_, [self = shared_from_this(), connection = connection_](
                                                       const boost::system::error_code& ec, size_t) {
                        self->OnWrite(ec, connection);
                      }));
    ReadMore();
  }

  void OnWrite(const boost::system::error_code& ec, uint64_t connection) {
    if (connection != connection_) return;  // a write on a connection given up for a retry
    write_pending_ = false;
    if (done_) return;
    // On a write error keep reading: a server that refuses a body (413) answers and closes while
    // the body is still going out, and its answer is what the caller needs.
    write_done_ = !ec;
  }

  void ReadMore() {
    if (done_ || read_pending_) return;
    read_pending_ = true;
    socket_->async_read_some(
        asio::buffer(buf_),
        asio::bind_executor(strand_, [self = shared_from_this(), connection = connection_](
                                         const boost::system::error_code& ec, size_t bytes) {
          self->OnRead(ec, bytes, connection);
        }));
  }

  void OnRead(const boost::system::error_code& ec, size_t bytes, uint64_t connection) {
    if (connection != connection_) return;
    read_pending_ = false;
    if (done_) return;
    if (ec == asio::error::eof) {
      parser_->FeedEof();
      if (parser_->state() == ResponseParser::State::kComplete) {
        ReportHeaderIfNeeded();
        Finish(Status::Ok(), /*reusable=*/false);
      } else {
        FailTransport(parser_->error());
      }
      return;
    }
    if (ec) {
      FailTransport(ec.message());
      return;
    }
    got_bytes_ = true;
    ArmTimer(Pick(request_.read_idle_timeout, impl_->options.read_idle_timeout), TimerKind::kIdle);
    in_.append(buf_.data(), bytes);
    Parse();
  }

  void Parse() {
    auto on_piece = [this](std::string_view piece) {
      if (stop_body_) return;
      if (callbacks_.on_body && !callbacks_.on_body(piece)) stop_body_ = true;
    };
    while (!done_) {
      size_t used = parser_->Feed(in_, on_piece);
      in_.erase(0, used);
      if (stop_body_) {
        Finish(Status(StatusCode::kCancelled, "the body callback stopped the call"));
        return;
      }
      switch (parser_->state()) {
        case ResponseParser::State::kHeaderDone: ReportHeaderIfNeeded(); continue;
        case ResponseParser::State::kNeedMore: ReadMore(); return;
        case ResponseParser::State::kComplete: {
          ReportHeaderIfNeeded();
          bool reusable =
              parser_->keep_alive() && write_done_ && !write_pending_ && in_.empty() && !close_requested_;
          Finish(Status::Ok(), reusable);
          return;
        }
        case ResponseParser::State::kError:
          Finish(Unavailable("bad response from " + url_.Authority() + ": " + parser_->error()));
          return;
      }
    }
  }

  void ReportHeaderIfNeeded() {
    if (header_seen_) return;
    header_seen_ = true;
    ClientResponse head;
    head.status = parser_->status();
    head.version = parser_->version();
    head.headers = parser_->headers();
    head.reused_connection = reused_;
    head.head_latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - exchange_start_);
    if (callbacks_.on_headers) callbacks_.on_headers(head);
  }

  void FailTransport(const std::string& what) {
    if (reused_ && !got_bytes_ && !retried_ && (IsIdempotent(request_.method) || request_.retry_stale_pooled)) {
      // The server probably closed this pooled connection while it sat idle: try a fresh one.
      retried_ = true;
      CloseSocket();
      read_pending_ = false;
      write_pending_ = false;
      Acquire();
      return;
    }
    Finish(Unavailable("request to " + url_.Authority() + " failed: " + what));
  }

  void ArmTimer(std::chrono::milliseconds after, TimerKind kind) {
    uint64_t generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait(
        [self = shared_from_this(), generation, kind, after](const boost::system::error_code& ec) {
          if (ec || generation != self->timer_generation_ || self->done_) return;
          std::string ms = std::to_string(after.count()) + " ms";
          switch (kind) {
            case TimerKind::kConnect:
              self->Finish(Status(StatusCode::kDeadlineExceeded,
                                  "connecting to " + self->url_.Authority() + " took longer than " + ms));
              return;
            case TimerKind::kFirstByte:
              self->Finish(Status(StatusCode::kDeadlineExceeded,
                                  "no response from " + self->url_.Authority() + " within " + ms));
              return;
            case TimerKind::kIdle:
              self->Finish(Status(StatusCode::kDeadlineExceeded,
                                  "response from " + self->url_.Authority() + " stalled for " + ms));
              return;
          }
        });
  }

  void CloseSocket() {
    if (!socket_) return;
    boost::system::error_code ignored;
    socket_->shutdown(tcp::socket::shutdown_both, ignored);
    socket_->close(ignored);
  }

  void Finish(Status status, bool reusable = false) {
    if (done_) return;
    done_ = true;
    ++timer_generation_;
    timer_.cancel();
    resolver_.cancel();
    if (socket_) {
      if (reusable && status.ok()) {
        impl_->Return(pool_key_, std::move(*socket_));
      } else {
        CloseSocket();
      }
    }
    impl_->Unregister(id_);
    auto on_complete = std::move(callbacks_.on_complete);
    callbacks_ = ClientCallbacks();
    if (!on_complete) return;
    try {
      on_complete(status);
    } catch (const std::exception& e) {
      log::Error("http client on_complete threw", {{"error", e.what()}});
    } catch (...) {
      log::Error("http client on_complete threw a non-standard exception");
    }
  }

  std::shared_ptr<Impl> impl_;
  const uint64_t id_;
  asio::strand<asio::io_context::executor_type> strand_;
  ClientRequest request_;
  ClientCallbacks callbacks_;
  Url url_;
  std::string pool_key_;
  std::string wire_;
  std::optional<tcp::socket> socket_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  std::chrono::steady_clock::time_point exchange_start_{};
  uint64_t connection_ = 0;  //!< bumped per exchange, so handlers of an abandoned socket are ignored
  std::unique_ptr<ResponseParser> parser_;
  std::string in_;
  std::array<char, 16 * 1024> buf_;
  bool done_ = false;
  bool reused_ = false;
  bool retried_ = false;
  bool got_bytes_ = false;
  bool write_done_ = false;
  bool write_pending_ = false;
  bool read_pending_ = false;
  bool header_seen_ = false;
  bool stop_body_ = false;
  bool close_requested_ = false;
};

}  // namespace

void detail::ClientCore::Close() {
  std::vector<std::shared_ptr<Call>> live;
  {
    std::lock_guard lock(mutex);
    closing = true;
    for (auto& [id, weak] : calls) {
      if (auto call = weak.lock()) live.push_back(std::move(call));
    }
    for (auto& [key, idle] : pool) {
      for (auto& entry : idle) {
        boost::system::error_code ignored;
        entry.socket.close(ignored);
      }
    }
    pool.clear();
  }
  for (auto& call : live) call->Cancel();
  live.clear();
  work.reset();
  for (auto& thread : threads) thread.join();
  threads.clear();
}

std::optional<tcp::socket> detail::ClientCore::Checkout(const std::string& key) {
  std::lock_guard lock(mutex);
  auto it = pool.find(key);
  if (it == pool.end()) return std::nullopt;
  auto& idle = it->second;
  auto now = std::chrono::steady_clock::now();
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    if (now - entry.since <= options.pool_idle_timeout && LooksAlive(entry.socket)) {
      return std::move(entry.socket);
    }
    boost::system::error_code ignored;
    entry.socket.close(ignored);
  }
  return std::nullopt;
}

void detail::ClientCore::Return(const std::string& key, tcp::socket socket) {
  std::lock_guard lock(mutex);
  auto& idle = pool[key];
  if (closing || idle.size() >= options.max_idle_per_host) {
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  idle.push_back(Idle{std::move(socket), std::chrono::steady_clock::now()});
}

bool detail::ClientCore::Register(uint64_t id, const std::shared_ptr<Call>& call) {
  std::lock_guard lock(mutex);
  if (closing) return false;
  calls.emplace(id, call);
  return true;
}

void detail::ClientCore::Unregister(uint64_t id) {
  std::lock_guard lock(mutex);
  calls.erase(id);
}

HttpClient::HttpClient(HttpClientOptions options)
    : impl_(std::make_shared<detail::ClientCore>(std::move(options))) {}

HttpClient::~HttpClient() {
  impl_->Close();
}

std::shared_ptr<ClientCall> HttpClient::Start(ClientRequest request, ClientCallbacks callbacks) {
  uint64_t id = impl_->next_call_id.fetch_add(1);
  auto call = std::make_shared<Call>(impl_, id, std::move(request), std::move(callbacks));
  if (!impl_->Register(id, call)) {
    call->Cancel();  // the client is closing: on_complete gets Cancelled
    return call;
  }
  call->Begin();
  return call;
}

Result<ClientResponse> HttpClient::FetchStreaming(ClientRequest request,
                                                  std::function<bool(std::string_view)> on_body) {
  if (impl_->io.get_executor().running_in_this_thread()) {
    return InvalidArgument(
        "HttpClient::Fetch called on the client's own io thread would deadlock; use Start");
  }
  ClientResponse response;
  std::promise<Status> done;
  auto finished = done.get_future();
  ClientCallbacks callbacks;
  callbacks.on_headers = [&response](const ClientResponse& head) {
    response.status = head.status;
    response.version = head.version;
    response.headers = head.headers;
    response.reused_connection = head.reused_connection;
  };
  callbacks.on_body = std::move(on_body);
  callbacks.on_complete = [&done](const Status& status) { done.set_value(status); };
  Start(std::move(request), std::move(callbacks));
  Status status = finished.get();
  if (!status.ok()) return status;
  return response;
}

Result<ClientResponse> HttpClient::Fetch(ClientRequest request) {
  std::string body;
  bool too_big = false;
  size_t limit = impl_->options.max_buffered_body_bytes;
  auto response = FetchStreaming(std::move(request), [&](std::string_view piece) {
    if (body.size() + piece.size() > limit) {
      too_big = true;
      return false;
    }
    body.append(piece);
    return true;
  });
  if (too_big) {
    return ResourceExhausted("response body is larger than max_buffered_body_bytes (" +
                             std::to_string(limit) + "); use FetchStreaming");
  }
  if (!response.ok()) return response.status();
  response->body = std::move(body);
  return response;
}

size_t HttpClient::IdleConnections() const {
  std::lock_guard lock(impl_->mutex);
  size_t n = 0;
  for (const auto& [key, idle] : impl_->pool) n += idle.size();
  return n;
}

}  // namespace meridian::http
