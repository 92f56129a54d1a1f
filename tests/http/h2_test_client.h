// A minimal blocking HTTP/2 (h2c, prior knowledge) client over loopback for the tests that real
// command-line clients cannot drive: resetting one stream mid-response, watching GOAWAY, and
// holding several streams open on one connection. Built on nghttp2's client session.
#pragma once

#include <nghttp2/nghttp2.h>
#include <poll.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "test_util.h"

namespace meridian::http::testing {

class H2TestClient {
 public:
  struct StreamState {
    int status = 0;
    std::string body;
    bool closed = false;
    uint32_t error_code = 0;
  };

  explicit H2TestClient(uint16_t port) : connection_(port) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, OnFrame);
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2TestClient() { nghttp2_session_del(session_); }

  bool connected() const { return connection_.connected(); }

  //! Queues a GET (sent by the next Run); returns the stream id.
  int32_t Get(const std::string& path) {
    std::string method = "GET", scheme = "http", authority = "127.0.0.1";
    std::vector<nghttp2_nv> nva = {Nv(":method", method), Nv(":scheme", scheme), Nv(":authority", authority),
                                   Nv(":path", path)};
    int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    streams_[id];
    return id;
  }
  //! Queues RST_STREAM(CANCEL) for `id`.
  void Reset(int32_t id) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }

  //! Sends what is queued and processes input until `done()` holds, the peer closes, or `timeout`.
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      if (!SendPending()) return done();
      if (done()) return true;
      if (peer_closed_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      std::string in = connection_.ReadUntil([](const std::string& b) { return !b.empty(); },
                                             std::chrono::milliseconds(std::min<long long>(left, 50)));
      if (connection_.peer_closed()) peer_closed_ = true;
      if (!in.empty()) {
        connection_.ClearBuffer();
        if (nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(in.data()), in.size()) < 0) {
          peer_closed_ = true;
        }
      }
    }
  }
  //! Sends what is queued (e.g. a reset) without waiting for anything.
  bool SendPending() {
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      if (!connection_.Send(std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n)))) {
        return false;
      }
    }
    return n == 0;
  }

  StreamState& stream(int32_t id) { return streams_[id]; }
  bool goaway_received() const { return goaway_received_; }
  bool peer_closed() const { return peer_closed_; }

 private:
  static nghttp2_nv Nv(const char* name, const std::string& value) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), std::strlen(name),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  }
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    auto* self = static_cast<H2TestClient*>(user);
    if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
      self->streams_[frame->hd.stream_id].status =
          std::atoi(std::string(reinterpret_cast<const char*>(value), valuelen).c_str());
    }
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
    static_cast<H2TestClient*>(user)->streams_[id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t error_code, void* user) {
    auto& s = static_cast<H2TestClient*>(user)->streams_[id];
    s.closed = true;
    s.error_code = error_code;
    return 0;
  }
  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_GOAWAY) static_cast<H2TestClient*>(user)->goaway_received_ = true;
    return 0;
  }

  RawConnection connection_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, StreamState> streams_;
  bool goaway_received_ = false;
  bool peer_closed_ = false;
};

}  // namespace meridian::http::testing
