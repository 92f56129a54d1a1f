// One HTTP/2 connection of HttpServer (internal), over TLS (ALPN "h2") or cleartext (h2c with prior
// knowledge), driven by nghttp2. Each stream becomes a Request for the same Router, answered through
// the same ResponseWriter / ResponseStream as HTTP/1.1: whole responses, streamed bodies and SSE
// go out as DATA frames as soon as they are written (within flow control), a stream reset by the
// client fires the writer's OnClose callbacks, and draining sends GOAWAY.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/request.h"
#include "http/response_stream.h"
#include "http/server_connection.h"
#include "http/transport.h"

namespace meridian::http::detail {

//! Thread-safety: every member function except WakeStream, BeginDrain and ForceClose runs on the
//! connection's strand (the executor of its socket); those three only post to it. The nghttp2
//! session is used from that strand only.
class H2ServerConnection : public Connection, public std::enable_shared_from_this<H2ServerConnection> {
 public:
  //! `initial_bytes`: input already read (the client preface, for h2c).
  H2ServerConnection(ServerCore* core, uint64_t id, Transport transport, std::string initial_bytes);
  ~H2ServerConnection() override;
  H2ServerConnection(const H2ServerConnection&) = delete;
  H2ServerConnection& operator=(const H2ServerConnection&) = delete;

  //! Sends the server SETTINGS and starts reading; call once after registering the connection.
  void Start();
  //! Sends GOAWAY: streams already started finish, new ones are refused; closes when none is left.
  void BeginDrain() override;
  void ForceClose() override;
  //! Stream `stream_id` has output or an abort waiting (called by its ResponseStream's sink).
  void WakeStream(int32_t stream_id);

 private:
  using Clock = std::chrono::steady_clock;
  struct Stream;
  class StreamSink;

  // nghttp2 callbacks; user_data is the connection.
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user_data);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunkRecv(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                             size_t len, void* user_data);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data);
  static ssize_t ReadBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  Stream* FindStream(int32_t stream_id);
  void Feed(const char* data, size_t size);
  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t bytes);
  void Flush();
  void OnWrite(const boost::system::error_code& ec);
  void Dispatch(Stream& stream);
  void RespondError(Stream& stream, int status, const std::string& message);
  std::shared_ptr<ResponseStream> NewResponse(Stream& stream);
  void Pump(int32_t stream_id);
  void RunDeferred();
  void RunCallbacks();
  void CheckIdle();
  void CloseNow(const std::string& reason);
  void LogStream(Stream& stream, const char* outcome);

  ServerCore* const core_;
  const uint64_t id_;
  Transport socket_;
  nghttp2_session* session_ = nullptr;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer write_timer_;
  uint64_t idle_generation_ = 0;
  uint64_t write_generation_ = 0;
  std::string remote_;
  std::string initial_;  //!< bytes to feed before the first read
  bool closed_ = false;
  bool draining_ = false;
  bool failed_ = false;  //!< the client broke the protocol: GOAWAY goes out, then the connection closes
  bool read_pending_ = false;
  bool write_pending_ = false;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> ready_;                   //!< complete requests to dispatch after nghttp2 returns
  std::vector<std::function<void()>> deferred_;  //!< close callbacks to run after nghttp2 returns
  std::string out_;                              //!< the write in flight
  std::array<char, 16 * 1024> read_buf_;
};

}  // namespace meridian::http::detail
