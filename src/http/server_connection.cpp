// ServerConnection: the per-connection state machine of HttpServer.
#include "http/server_connection.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <exception>

#include "core/log.h"
#include "http/status_codes.h"

namespace meridian::http::detail {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// ---- ServerCore ----

void ServerCore::Add(uint64_t id, std::shared_ptr<Connection> connection) {
  std::lock_guard lock(mutex);
  connections.emplace(id, std::move(connection));
}

bool ServerCore::Replace(uint64_t id, std::shared_ptr<Connection> connection) {
  std::shared_ptr<Connection> previous;  // released after the lock
  std::lock_guard lock(mutex);
  auto it = connections.find(id);
  if (it == connections.end()) return false;
  previous = std::move(it->second);
  it->second = std::move(connection);
  return true;
}

void ServerCore::Remove(uint64_t id) {
  bool drained = false;
  std::shared_ptr<Connection> removed;  // released after the lock
  {
    std::lock_guard lock(mutex);
    auto it = connections.find(id);
    if (it == connections.end()) return;
    removed = std::move(it->second);
    connections.erase(it);
    drained = connections.empty() && draining.load();
  }
  if (drained && on_drained) on_drained();
}

size_t ServerCore::ActiveConnections() {
  std::lock_guard lock(mutex);
  return connections.size();
}

std::vector<std::shared_ptr<Connection>> ServerCore::Snapshot() {
  std::lock_guard lock(mutex);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections.size());
  for (const auto& [id, connection] : connections) out.push_back(connection);
  return out;
}

// ---- ServerConnection ----

namespace {

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  std::string address = endpoint.address().to_string();
  if (endpoint.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(endpoint.port());
}

long long MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

ServerConnection::ServerConnection(ServerCore* core, uint64_t id, Transport transport, std::string initial_bytes)
    : core_(core),
      id_(id),
      socket_(std::move(transport)),
      read_timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()),
      parser_(RequestLimits{core->options.max_header_bytes, core->options.max_body_bytes}),
      in_(std::move(initial_bytes)) {}

void ServerConnection::Start() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->socket_.lowest_layer().set_option(tcp::no_delay(true), ec);
    auto endpoint = self->socket_.lowest_layer().remote_endpoint(ec);
    self->remote_ = ec ? std::string("unknown") : FormatEndpoint(endpoint);
    self->draining_ = self->core_->draining.load();
    if (self->draining_) {
      self->CloseNow("server is shutting down");
      return;
    }
    self->ArmReadTimer(self->core_->options.header_read_timeout, ReadTimer::kHeader);
    if (self->in_.empty()) {
      self->StartRead();
    } else {
      self->request_started_ = true;  // protocol detection read the first bytes already
      self->ProcessInput();
    }
  });
}

void ServerConnection::BeginDrain() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->draining_ = true;
    if (self->phase_ == Phase::kReading && !self->request_started_ && self->in_.empty()) {
      self->CloseNow("server is shutting down (idle connection)");
      return;
    }
    if (self->current_) self->current_->RequestCloseAfterResponse();
  });
}

void ServerConnection::ForceClose() {
  asio::post(socket_.get_executor(),
             [self = shared_from_this()] { self->CloseNow("server shutdown grace period is over"); });
}

void ServerConnection::Wake() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->Flush(); });
}

void ServerConnection::StartRead() {
  if (read_pending_ || phase_ == Phase::kClosed) return;
  // While a response is in flight, bytes of pipelined requests wait in in_; past this bound the
  // connection stops reading (back-pressure) until the response is done.
  size_t pipelined_limit = std::max<size_t>(64 * 1024, core_->options.max_header_bytes);
  if (phase_ == Phase::kHandling && in_.size() >= pipelined_limit) return;
  read_pending_ = true;
  socket_.AsyncReadSome(asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t bytes) {
                            self->OnRead(ec, bytes);
                          });
}

void ServerConnection::OnRead(const boost::system::error_code& ec, size_t bytes) {
  read_pending_ = false;
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    if (phase_ == Phase::kHandling && !discard_input_) {
      CloseNow("client closed the connection before the response was complete");
    } else {
      CloseNow(phase_ == Phase::kLingering ? "" : "client closed the connection");
    }
    return;
  }
  if (phase_ == Phase::kLingering) {
    lingered_bytes_ += bytes;
    if (lingered_bytes_ > std::max<size_t>(1 << 20, core_->options.max_body_bytes)) {
      CloseNow("");
    } else {
      StartRead();
    }
    return;
  }
  if (discard_input_) {
    StartRead();
    return;
  }
  in_.append(read_buf_.data(), bytes);
  if (phase_ == Phase::kReading) {
    if (!request_started_) {
      request_started_ = true;
      ArmReadTimer(core_->options.header_read_timeout, ReadTimer::kHeader);
    }
    ProcessInput();
  } else {
    StartRead();
  }
}

void ServerConnection::ProcessInput() {
  while (phase_ == Phase::kReading) {
    size_t used = parser_.Feed(in_);
    in_.erase(0, used);
    switch (parser_.state()) {
      case RequestParser::State::kNeedMore: StartRead(); return;
      case RequestParser::State::kHeaderDone:
        ArmReadTimer(core_->options.body_read_timeout, ReadTimer::kBody);
        if (parser_.expects_continue()) {
          raw_out_.push_back("HTTP/1.1 100 Continue\r\n\r\n");
          Flush();
        }
        continue;
      case RequestParser::State::kComplete: Dispatch(); return;
      case RequestParser::State::kError:
        RespondError(parser_.error().status, parser_.error().message);
        return;
    }
  }
}

void ServerConnection::Dispatch() {
  Request request;
  parser_.TakeRequest(&request);
  parser_.Reset();
  CancelReadTimer();
  phase_ = Phase::kHandling;
  request_started_ = false;
  request.remote_address = remote_;
  request.received_at = Clock::now();
  auto client_id = request.headers.Get("x-request-id");
  request.request_id = client_id && IsSaneRequestId(*client_id) ? std::string(*client_id) : NewRequestId();

  ResponseContext context;
  context.head_request = request.method == "HEAD";
  context.version = request.version;
  context.keep_alive = request.keep_alive && !draining_;
  context.request_id = request.request_id;
  context.max_queued_bytes = core_->options.max_queued_bytes_per_response;
  current_ = std::make_shared<ResponseStream>(std::move(context), weak_from_this());
  current_method_ = request.method;
  current_path_ = request.path;
  current_request_id_ = request.request_id;
  current_start_ = Clock::now();
  core_->requests.fetch_add(1, std::memory_order_relaxed);

  // Keep a read pending while the handler and the response run: it completes with an error as
  // soon as the client disconnects, and the close callbacks then cancel the producer.
  StartRead();

  auto writer = std::make_shared<ResponseWriter>(current_, request.request_id);
  try {
    core_->router.Dispatch(std::move(request), writer);
  } catch (const std::exception& e) {
    log::Error("http handler threw", {{"request_id", std::string_view(current_request_id_)},
                                      {"path", std::string_view(current_path_)},
                                      {"error", e.what()}});
    if (!writer->HasStarted()) {
      writer->SendError(status::kInternalServerError, "internal error while handling the request");
    } else {
      writer->Abort();
    }
  } catch (...) {
    log::Error("http handler threw a non-standard exception",
               {{"request_id", std::string_view(current_request_id_)}});
    if (!writer->HasStarted()) {
      writer->SendError(status::kInternalServerError, "internal error while handling the request");
    } else {
      writer->Abort();
    }
  }
  // If the handler kept no copy of the writer and answered nothing, this sends a 500.
  writer.reset();
  Flush();  // write a synchronous answer now rather than after the posted wake-up
}

void ServerConnection::RespondError(int status, const std::string& message) {
  CancelReadTimer();
  phase_ = Phase::kHandling;
  discard_input_ = true;  // the rest of this connection's input is not parsed any more
  in_.clear();
  request_started_ = false;
  core_->requests_rejected.fetch_add(1, std::memory_order_relaxed);
  ResponseContext context;
  context.keep_alive = false;
  context.request_id = NewRequestId();
  current_request_id_ = context.request_id;
  current_ = std::make_shared<ResponseStream>(std::move(context), weak_from_this());
  current_method_ = "-";
  current_path_ = "-";
  current_start_ = Clock::now();
  log::Info("http request refused", {{"status", static_cast<long long>(status)},
                                     {"reason", std::string_view(message)},
                                     {"remote", std::string_view(remote_)}});
  if (!current_->Send(status, {{"Content-Type", "application/json"}}, ErrorBodyJson(status, message))) {
    CloseNow("could not queue the error response");
    return;
  }
  StartRead();  // notices a client that goes away instead of reading the answer
}

void ServerConnection::Flush() {
  if (phase_ == Phase::kClosed || write_pending_) return;
  std::vector<std::string> chunks;
  chunks.swap(raw_out_);
  size_t stream_bytes = 0;
  bool last = false;
  if (current_) {
    ResponseStream::Output output = current_->TakeOutput();
    if (output.abort) {
      CloseNow(current_->abort_reason());
      return;
    }
    for (auto& chunk : output.chunks) {
      stream_bytes += chunk.size();
      chunks.push_back(std::move(chunk));
    }
    last = output.last;
  }
  if (chunks.empty()) {
    if (last) OnResponseComplete();
    return;
  }
  out_ = std::move(chunks);
  out_stream_bytes_ = stream_bytes;
  out_last_ = last;
  write_pending_ = true;
  uint64_t generation = ++write_timer_generation_;
  write_timer_.expires_after(core_->options.write_timeout);
  write_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || generation != self->write_timer_generation_ || !self->write_pending_) return;
    self->CloseNow("write timed out: the client is not reading");
  });
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(out_.size());
  for (const auto& chunk : out_) buffers.emplace_back(chunk.data(), chunk.size());
  socket_.AsyncWrite(buffers,
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t bytes) {
                      self->OnWrite(ec, bytes);
                    });
}

void ServerConnection::OnWrite(const boost::system::error_code& ec, size_t bytes) {
  write_pending_ = false;
  ++write_timer_generation_;
  write_timer_.cancel();
  if (phase_ == Phase::kClosed) return;
  if (ec) {
    CloseNow("write failed: " + ec.message());
    return;
  }
  if (current_) current_->OnWritten(out_stream_bytes_);
  out_.clear();
  out_stream_bytes_ = 0;
  if (out_last_) {
    out_last_ = false;
    OnResponseComplete();
    return;
  }
  Flush();  // output queued while this write was in flight
}

void ServerConnection::OnResponseComplete() {
  if (!current_) return;
  LogRequest("complete");
  bool close = current_->close_after_response() || draining_;
  (void)current_->MarkClosed(/*response_written=*/true);
  current_.reset();
  if (close || discard_input_) {
    BeginLinger();
    return;
  }
  phase_ = Phase::kReading;
  if (in_.empty()) {
    ArmReadTimer(core_->options.idle_timeout, ReadTimer::kIdle);
  } else {
    request_started_ = true;  // a pipelined request is waiting
    ArmReadTimer(core_->options.header_read_timeout, ReadTimer::kHeader);
  }
  ProcessInput();
}

void ServerConnection::BeginLinger() {
  phase_ = Phase::kLingering;
  in_.clear();
  boost::system::error_code ec;
  socket_.ShutdownSend(ec);
  if (ec) {
    CloseNow("");
    return;
  }
  ArmReadTimer(core_->options.linger_timeout, ReadTimer::kLinger);
  StartRead();
}

void ServerConnection::CloseNow(const std::string& reason) {
  if (phase_ == Phase::kClosed) return;
  bool response_in_flight = current_ != nullptr;
  phase_ = Phase::kClosed;
  CancelReadTimer();
  ++write_timer_generation_;
  write_timer_.cancel();
  socket_.Close();
  std::vector<std::function<void()>> callbacks;
  if (response_in_flight) {
    callbacks = current_->MarkClosed(/*response_written=*/false);
    log::Debug("http connection closed with a response in flight",
               {{"request_id", std::string_view(current_request_id_)}, {"reason", std::string_view(reason)}});
    LogRequest("aborted");
    current_.reset();
  } else if (!reason.empty()) {
    log::Debug("http connection closed",
               {{"remote", std::string_view(remote_)}, {"reason", std::string_view(reason)}});
  }
  RunCloseCallbacks(callbacks);
  core_->Remove(id_);
}

void ServerConnection::ArmReadTimer(std::chrono::milliseconds after, ReadTimer kind) {
  uint64_t generation = ++read_timer_generation_;
  read_timer_.expires_after(after);
  read_timer_.async_wait([self = shared_from_this(), generation, kind](const boost::system::error_code& ec) {
    if (ec || generation != self->read_timer_generation_ || self->phase_ == Phase::kClosed) return;
    self->OnReadTimeout(kind);
  });
}

void ServerConnection::CancelReadTimer() {
  ++read_timer_generation_;
  read_timer_.cancel();
}

void ServerConnection::OnReadTimeout(ReadTimer kind) {
  const auto& options = core_->options;
  switch (kind) {
    case ReadTimer::kIdle: CloseNow("keep-alive idle timeout"); return;
    case ReadTimer::kHeader:
      if (phase_ != Phase::kReading) return;
      if (!request_started_ && in_.empty()) {
        CloseNow("no request within the header read timeout");
        return;
      }
      RespondError(status::kRequestTimeout, "request header not received within " +
                                                std::to_string(options.header_read_timeout.count()) + " ms");
      return;
    case ReadTimer::kBody:
      if (phase_ != Phase::kReading) return;
      RespondError(status::kRequestTimeout, "request body not received within " +
                                                std::to_string(options.body_read_timeout.count()) + " ms");
      return;
    case ReadTimer::kLinger: CloseNow(""); return;
  }
}

void ServerConnection::LogRequest(const char* outcome) {
  if (!core_->options.access_log || !current_) return;
  log::Info("http request", {{"method", std::string_view(current_method_)},
                             {"path", std::string_view(current_path_)},
                             {"status", static_cast<long long>(current_->status())},
                             {"bytes", static_cast<long long>(current_->body_bytes())},
                             {"duration_ms", MillisSince(current_start_)},
                             {"request_id", std::string_view(current_request_id_)},
                             {"remote", std::string_view(remote_)},
                             {"outcome", outcome}});
}

}  // namespace meridian::http::detail
