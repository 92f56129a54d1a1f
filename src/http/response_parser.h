// Incremental, socket-free HTTP/1.x response parsing for the client: status and headers, then the
// body piece by piece as it is decoded (chunked, Content-Length or until close), never buffered.
// Interim 1xx responses are skipped. Boost.Beast stays inside the .cpp.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/headers.h"

namespace meridian::http {

//! Not thread-safe (one per exchange).
class ResponseParser {
 public:
  enum class State {
    kNeedMore,    //!< feed more bytes (or FeedEof when the connection closed)
    kHeaderDone,  //!< the final header is here (reported once); read status()/headers(), feed on
    kComplete,    //!< the response is complete
    kError,       //!< malformed or truncated: see error()
  };
  using BodyCallback = std::function<void(std::string_view piece)>;

  //! `head_request`: the response to a HEAD request has no body whatever its headers say.
  ResponseParser(size_t max_header_bytes, bool head_request);
  ~ResponseParser();
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  //! Parses a prefix of `data`, passing decoded body bytes to `on_body`, and returns how many
  //! bytes it used; unused bytes must be offered again with more appended.
  size_t Feed(std::string_view data, const BodyCallback& on_body);
  //! The connection closed: completes a body delimited by the close; otherwise an error.
  void FeedEof();

  State state() const { return state_; }
  int status() const { return status_; }
  int version() const { return version_; }
  const Headers& headers() const { return headers_; }
  //! Whether the connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  const std::string& error() const { return error_; }

 private:
  struct Impl;
  void NewMessage();
  size_t FeedHeader(std::string_view data);
  size_t FeedBody(std::string_view data, const BodyCallback& on_body);
  void Fail(std::string message);

  size_t max_header_bytes_;
  bool head_request_;
  std::unique_ptr<Impl> impl_;
  State state_ = State::kNeedMore;
  bool header_reported_ = false;
  size_t header_bytes_ = 0;   //!< header bytes consumed for the current message
  size_t stalled_bytes_ = 0;  //!< unconsumed body bytes when Beast last asked for more
  int status_ = 0;
  int version_ = 11;
  bool keep_alive_ = false;
  Headers headers_;
  std::string error_;
};

}  // namespace meridian::http
