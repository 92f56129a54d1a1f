// H2ServerConnection: HTTP/2 framing (nghttp2) mapped onto Router, ResponseWriter and ResponseStream.
#include "http/h2_server_connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>
#include <exception>

#include "core/log.h"
#include "http/status_codes.h"

namespace meridian::http::detail {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kMaxWriteBatch = 64 * 1024;  //!< bytes of frames gathered into one socket write

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  std::string address = endpoint.address().to_string();
  if (endpoint.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(endpoint.port());
}

nghttp2_nv MakeNv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

//! One request/response exchange on the connection.
struct H2ServerConnection::Stream {
  int32_t id = 0;
  Request request;
  size_t header_bytes = 0;
  int error_status = 0;  //!< a limit was hit while reading the request: answer this, ignore the rest
  std::string error_message;
  std::shared_ptr<ResponseStream> response;  //!< set once dispatched (or answered with an error)
  std::shared_ptr<StreamSink> sink;
  std::deque<std::string> data;  //!< body bytes taken from the response, not yet in DATA frames
  size_t data_offset = 0;        //!< bytes of data.front() already sent
  bool finished = false;         //!< the response has no more body to add
  bool submitted = false;        //!< the response HEADERS were submitted
  bool deferred = false;         //!< nghttp2 waits for ReadBody to be resumed
  bool eof_sent = false;         //!< a frame with END_STREAM went out: the response is complete
  bool logged = false;
  std::string method = "-";  //!< for the access log (the Request is moved to the handler)
  std::string path = "-";
  Clock::time_point start = Clock::now();
};

//! Forwards a ResponseStream's wake-ups to the connection's strand.
class H2ServerConnection::StreamSink : public ResponseSink {
 public:
  StreamSink(std::weak_ptr<H2ServerConnection> connection, int32_t stream_id)
      : connection_(std::move(connection)), stream_id_(stream_id) {}
  void Wake() override {
    if (auto connection = connection_.lock()) connection->WakeStream(stream_id_);
  }

 private:
  std::weak_ptr<H2ServerConnection> connection_;
  int32_t stream_id_;
};

H2ServerConnection::H2ServerConnection(ServerCore* core, uint64_t id, Transport transport,
                                       std::string initial_bytes)
    : core_(core),
      id_(id),
      socket_(std::move(transport)),
      idle_timer_(socket_.get_executor()),
      write_timer_(socket_.get_executor()),
      initial_(std::move(initial_bytes)) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameRecv);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSend);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunkRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Bounds the HPACK dynamic table a client can make us keep.
  nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
  nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
}

H2ServerConnection::~H2ServerConnection() {
  if (session_) nghttp2_session_del(session_);
}

void H2ServerConnection::Start() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->socket_.lowest_layer().set_option(tcp::no_delay(true), ec);
    auto endpoint = self->socket_.lowest_layer().remote_endpoint(ec);
    self->remote_ = ec ? std::string("unknown") : FormatEndpoint(endpoint);
    if (!self->session_) {
      self->CloseNow("could not create the HTTP/2 session");
      return;
    }
    const auto& options = self->core_->options;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options.http2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    if (nghttp2_submit_settings(self->session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) != 0) {
      self->CloseNow("could not queue the HTTP/2 settings");
      return;
    }
    self->draining_ = self->core_->draining.load();
    if (self->draining_) {
      nghttp2_session_terminate_session(self->session_, NGHTTP2_NO_ERROR);
    }
    std::string initial;
    initial.swap(self->initial_);
    if (!initial.empty()) {
      self->Feed(initial.data(), initial.size());
    } else {
      self->Flush();
    }
    if (!self->closed_) {
      self->CheckIdle();
      self->StartRead();
    }
  });
}

void H2ServerConnection::BeginDrain() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->draining_) return;
    self->draining_ = true;
    int32_t last = nghttp2_session_get_last_proc_stream_id(self->session_);
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
    self->Flush();
  });
}

void H2ServerConnection::ForceClose() {
  asio::post(socket_.get_executor(),
             [self = shared_from_this()] { self->CloseNow("server shutdown grace period is over"); });
}

void H2ServerConnection::WakeStream(int32_t stream_id) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), stream_id] { self->Pump(stream_id); });
}

H2ServerConnection::Stream* H2ServerConnection::FindStream(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

// ---- reading ----

void H2ServerConnection::StartRead() {
  if (read_pending_ || closed_) return;
  read_pending_ = true;
  socket_.AsyncReadSome(asio::buffer(read_buf_),
                        [self = shared_from_this()](const boost::system::error_code& ec, size_t bytes) {
                          self->OnRead(ec, bytes);
                        });
}

void H2ServerConnection::OnRead(const boost::system::error_code& ec, size_t bytes) {
  read_pending_ = false;
  if (closed_) return;
  if (ec) {
    CloseNow(streams_.empty() ? "client closed the connection"
                              : "client closed the connection with streams in flight");
    return;
  }
  Feed(read_buf_.data(), bytes);
  if (!closed_ && !failed_) StartRead();
}

void H2ServerConnection::Feed(const char* data, size_t size) {
  ssize_t used = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), size);
  if (used < 0) {
    log::Debug("http2 protocol error from client",
               {{"remote", std::string_view(remote_)}, {"error", nghttp2_strerror(static_cast<int>(used))}});
    // Send GOAWAY (and whatever is queued), then close: Flush closes once nothing is left to send.
    failed_ = true;
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    RunDeferred();
    Flush();
    return;
  }
  RunDeferred();
  Flush();
}

void H2ServerConnection::RunDeferred() {
  // Dispatch outside nghttp2's callbacks: a handler may answer synchronously, which submits frames.
  while (!ready_.empty() || !deferred_.empty()) {
    std::vector<int32_t> ready;
    ready.swap(ready_);
    for (int32_t id : ready) {
      if (closed_) break;
      if (Stream* stream = FindStream(id)) Dispatch(*stream);
    }
    RunCallbacks();
    if (closed_) ready_.clear();
  }
}

void H2ServerConnection::RunCallbacks() {
  // OnClose callbacks only cancel producers; ResponseWriter calls they make never re-enter the
  // connection synchronously (a ResponseStream wakes the connection by posting).
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(deferred_);
  RunCloseCallbacks(callbacks);
}

int H2ServerConnection::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto stream = std::make_unique<Stream>();
  stream->id = frame->hd.stream_id;
  stream->request.version = 20;
  stream->request.remote_address = self->remote_;
  self->streams_[stream->id] = std::move(stream);
  ++self->idle_generation_;  // a stream is open: the connection is not idle
  self->idle_timer_.cancel();
  return 0;
}

int H2ServerConnection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                                 size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                                 void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers
  Stream* stream = self->FindStream(frame->hd.stream_id);
  if (!stream || stream->error_status != 0) return 0;
  // Counted like an HTTP/1.1 field line ("name: value\r\n"), so one limit means the same on both.
  stream->header_bytes += namelen + valuelen + 4;
  if (stream->header_bytes > self->core_->options.max_header_bytes) {
    stream->error_status = status::kRequestHeaderFieldsTooLarge;
    stream->error_message =
        "request header fields exceed " + std::to_string(self->core_->options.max_header_bytes) + " bytes";
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  Request& request = stream->request;
  if (!n.empty() && n[0] == ':') {
    if (n == ":method") {
      request.method.assign(v);
    } else if (n == ":path") {
      request.target.assign(v);
      size_t q = v.find('?');
      request.path.assign(v.substr(0, q));
      request.query.assign(q == std::string_view::npos ? std::string_view() : v.substr(q + 1));
    } else if (n == ":authority") {
      if (!request.headers.Has("host")) request.headers.Add("host", std::string(v));
    }
    return 0;  // :scheme and anything else nghttp2 accepted
  }
  if (n == "host") {
    request.headers.Set("host", std::string(v));
  } else {
    request.headers.Add(std::string(n), std::string(v));
  }
  return 0;
}

int H2ServerConnection::OnDataChunkRecv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                                        size_t len, void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  Stream* stream = self->FindStream(stream_id);
  if (!stream || stream->error_status != 0 || stream->response) return 0;  // already answered: ignore
  size_t limit = self->core_->options.max_body_bytes;
  if (stream->request.body.size() + len > limit) {
    stream->error_status = status::kPayloadTooLarge;
    stream->error_message = "request body exceeds " + std::to_string(limit) + " bytes";
    stream->request.body.clear();
    self->ready_.push_back(stream_id);  // answer now rather than after the whole upload
    return 0;
  }
  stream->request.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int H2ServerConnection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* stream = self->FindStream(frame->hd.stream_id);
  if (!stream || stream->response) return 0;
  bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
      stream->error_status == 0) {
    if (auto length = stream->request.headers.Get("content-length")) {
      try {
        if (std::stoull(std::string(*length)) > self->core_->options.max_body_bytes) {
          stream->error_status = status::kPayloadTooLarge;
          stream->error_message =
              "request body exceeds " + std::to_string(self->core_->options.max_body_bytes) + " bytes";
        }
      } catch (const std::exception&) {  // nghttp2 validated it already; keep reading
      }
    }
  }
  if (end_stream || stream->error_status != 0) self->ready_.push_back(stream->id);
  return 0;
}

int H2ServerConnection::OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  Stream* stream = self->FindStream(frame->hd.stream_id);
  if (!stream) return 0;
  if (frame->hd.type == NGHTTP2_DATA && stream->response) stream->response->OnWritten(frame->hd.length);
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) stream->eof_sent = true;
  return 0;
}

int H2ServerConnection::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                                      void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  std::unique_ptr<Stream> stream = std::move(it->second);
  self->streams_.erase(it);
  self->ready_.erase(std::remove(self->ready_.begin(), self->ready_.end(), stream_id), self->ready_.end());
  if (stream->response) {
    bool written = stream->eof_sent;
    auto callbacks = stream->response->MarkClosed(written);
    if (!written) {
      log::Debug("http2 stream closed with a response in flight",
                 {{"request_id", std::string_view(stream->request.request_id)},
                  {"error_code", static_cast<long long>(error_code)}});
    }
    self->LogStream(*stream, written ? "complete" : "aborted");
    for (auto& callback : callbacks) self->deferred_.push_back(std::move(callback));
  }
  return 0;
}

// ---- answering ----

std::shared_ptr<ResponseStream> H2ServerConnection::NewResponse(Stream& stream) {
  ResponseContext context;
  context.head_request = stream.request.method == "HEAD";
  context.version = 20;
  context.keep_alive = true;
  context.request_id = stream.request.request_id;
  context.max_queued_bytes = core_->options.max_queued_bytes_per_response;
  context.http2 = true;
  stream.sink = std::make_shared<StreamSink>(weak_from_this(), stream.id);
  stream.start = Clock::now();
  return std::make_shared<ResponseStream>(std::move(context), stream.sink);
}

void H2ServerConnection::RespondError(Stream& stream, int status, const std::string& message) {
  core_->requests_rejected.fetch_add(1, std::memory_order_relaxed);
  if (stream.request.request_id.empty()) stream.request.request_id = NewRequestId();
  stream.response = NewResponse(stream);
  log::Info("http request refused", {{"status", static_cast<long long>(status)},
                                     {"reason", std::string_view(message)},
                                     {"remote", std::string_view(remote_)},
                                     {"protocol", "h2"}});
  stream.response->Send(status, {{"Content-Type", "application/json"}}, ErrorBodyJson(status, message));
  Pump(stream.id);
}

void H2ServerConnection::Dispatch(Stream& stream) {
  if (stream.response) return;
  Request& request = stream.request;
  auto client_id = request.headers.Get("x-request-id");
  request.request_id = client_id && IsSaneRequestId(*client_id) ? std::string(*client_id) : NewRequestId();
  if (stream.error_status != 0) {
    RespondError(stream, stream.error_status, stream.error_message);
    return;
  }
  request.received_at = Clock::now();
  request.keep_alive = !draining_;
  stream.method = request.method;
  stream.path = request.path;
  stream.response = NewResponse(stream);
  core_->requests.fetch_add(1, std::memory_order_relaxed);
  int32_t id = stream.id;
  std::string request_id = request.request_id;
  auto writer = std::make_shared<ResponseWriter>(stream.response, request_id);
  try {
    core_->router.Dispatch(std::move(request), writer);
  } catch (const std::exception& e) {
    log::Error("http handler threw", {{"request_id", std::string_view(request_id)}, {"error", e.what()}});
    if (!writer->HasStarted()) {
      writer->SendError(status::kInternalServerError, "internal error while handling the request");
    } else {
      writer->Abort();
    }
  } catch (...) {
    log::Error("http handler threw a non-standard exception", {{"request_id", std::string_view(request_id)}});
    if (!writer->HasStarted()) {
      writer->SendError(status::kInternalServerError, "internal error while handling the request");
    } else {
      writer->Abort();
    }
  }
  writer.reset();  // a handler that kept no copy and answered nothing gets a 500
  Pump(id);        // send a synchronous answer now rather than after the posted wake-up
}

ssize_t H2ServerConnection::ReadBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                                     uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
  auto* self = static_cast<H2ServerConnection*>(user_data);
  Stream* stream = self->FindStream(stream_id);
  if (!stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  size_t copied = 0;
  while (copied < length && !stream->data.empty()) {
    const std::string& front = stream->data.front();
    size_t n = std::min(length - copied, front.size() - stream->data_offset);
    std::memcpy(buf + copied, front.data() + stream->data_offset, n);
    copied += n;
    stream->data_offset += n;
    if (stream->data_offset == front.size()) {
      stream->data.pop_front();
      stream->data_offset = 0;
    }
  }
  if (stream->data.empty() && stream->finished) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  } else if (copied == 0) {
    stream->deferred = true;  // resumed by Pump when the producer writes
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(copied);
}

void H2ServerConnection::Pump(int32_t stream_id) {
  if (closed_) return;
  Stream* stream = FindStream(stream_id);
  if (!stream || !stream->response) return;
  ResponseStream::Output output = stream->response->TakeOutput();
  if (output.abort) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
    Flush();
    return;
  }
  for (auto& chunk : output.chunks) {
    if (!chunk.empty()) stream->data.push_back(std::move(chunk));
  }
  if (output.last) stream->finished = true;
  if (output.head && !stream->submitted) {
    const ResponseHead& head = *output.head;
    std::string status = std::to_string(head.status);
    static const std::string kStatus = ":status";
    std::vector<nghttp2_nv> nva;
    nva.reserve(head.fields.size() + 1);
    nva.push_back(MakeNv(kStatus, status));
    for (const auto& [name, value] : head.fields) nva.push_back(MakeNv(name, value));
    if (head.body_forbidden) stream->data.clear();
    bool no_body = head.body_forbidden ? stream->finished : (stream->finished && stream->data.empty());
    nghttp2_data_provider provider{};
    provider.read_callback = ReadBody;
    int rv =
        nghttp2_submit_response(session_, stream_id, nva.data(), nva.size(), no_body ? nullptr : &provider);
    if (rv != 0) {
      log::Warn("http2 could not submit a response", {{"error", nghttp2_strerror(rv)}});
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_INTERNAL_ERROR);
    }
    stream->submitted = true;
  } else if (stream->submitted && stream->deferred && (!stream->data.empty() || stream->finished)) {
    stream->deferred = false;
    nghttp2_session_resume_data(session_, stream_id);
  }
  Flush();
}

// ---- writing ----

void H2ServerConnection::Flush() {
  if (closed_ || write_pending_) return;
  out_.clear();
  while (out_.size() < kMaxWriteBatch) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      CloseNow(std::string("http2 send failed: ") + nghttp2_strerror(static_cast<int>(n)));
      return;
    }
    if (n == 0) break;
    out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  RunCallbacks();  // stream close callbacks from mem_send (never dispatches: that re-enters Flush)
  if (closed_) return;
  if (out_.empty()) {
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      CloseNow("");
    } else if (draining_ && streams_.empty()) {
      CloseNow("server is shutting down");
    } else {
      CheckIdle();
    }
    return;
  }
  write_pending_ = true;
  uint64_t generation = ++write_generation_;
  write_timer_.expires_after(core_->options.write_timeout);
  write_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || generation != self->write_generation_ || !self->write_pending_) return;
    self->CloseNow("write timed out: the client is not reading");
  });
  socket_.AsyncWrite(asio::buffer(out_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                     size_t) { self->OnWrite(ec); });
}

void H2ServerConnection::OnWrite(const boost::system::error_code& ec) {
  write_pending_ = false;
  ++write_generation_;
  write_timer_.cancel();
  if (closed_) return;
  if (ec) {
    CloseNow("write failed: " + ec.message());
    return;
  }
  Flush();
}

void H2ServerConnection::CheckIdle() {
  if (closed_ || !streams_.empty()) return;
  uint64_t generation = ++idle_generation_;
  idle_timer_.expires_after(core_->options.idle_timeout);
  idle_timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || generation != self->idle_generation_ || self->closed_ || !self->streams_.empty()) return;
    nghttp2_session_terminate_session(self->session_, NGHTTP2_NO_ERROR);  // GOAWAY, then close
    self->Flush();
    if (!self->closed_ && !self->write_pending_) self->CloseNow("keep-alive idle timeout");
  });
}

void H2ServerConnection::CloseNow(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  ++idle_generation_;
  idle_timer_.cancel();
  ++write_generation_;
  write_timer_.cancel();
  socket_.Close();
  std::vector<std::function<void()>> callbacks;
  callbacks.swap(deferred_);
  size_t in_flight = 0;
  for (auto& [id, stream] : streams_) {
    if (!stream->response) continue;
    bool written = stream->eof_sent;
    auto stream_callbacks = stream->response->MarkClosed(written);
    if (!written) ++in_flight;
    LogStream(*stream, written ? "complete" : "aborted");
    for (auto& callback : stream_callbacks) callbacks.push_back(std::move(callback));
  }
  streams_.clear();
  ready_.clear();
  if (!reason.empty()) {
    log::Debug("http2 connection closed", {{"remote", std::string_view(remote_)},
                                           {"reason", std::string_view(reason)},
                                           {"streams_in_flight", static_cast<long long>(in_flight)}});
  }
  RunCloseCallbacks(callbacks);
  core_->Remove(id_);
}

void H2ServerConnection::LogStream(Stream& stream, const char* outcome) {
  if (!core_->options.access_log || !stream.response || stream.logged) return;
  stream.logged = true;
  log::Info(
      "http request",
      {{"method", std::string_view(stream.method)},
       {"path", std::string_view(stream.path)},
       {"status", static_cast<long long>(stream.response->status())},
       {"bytes", static_cast<long long>(stream.response->body_bytes())},
       {"duration_ms",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stream.start).count())},
       {"request_id", std::string_view(stream.request.request_id)},
       {"remote", std::string_view(remote_)},
       {"protocol", "h2"},
       {"outcome", outcome}});
}

}  // namespace meridian::http::detail
