// Incremental, socket-free HTTP/1.x request parsing with the server's limits: turns bytes into a
// Request or into the error status to answer (400, 413, 414, 417, 431, 501, 505). The server's
// connections and the fuzz target drive the same code. Boost.Beast stays inside the .cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "http/request.h"

namespace meridian::http {

//! Limits on one request.
struct RequestLimits {
  size_t max_header_bytes = 16 * 1024;      //!< request line + header fields; past it: 431 (414)
  size_t max_body_bytes = 4 * 1024 * 1024;  //!< de-chunked body; past it: 413
};

//! Why a request is refused: the status to answer, and a message the client can act on.
struct RequestError {
  int status = 400;
  std::string message;
};

//! Parses one request at a time. Not thread-safe (one per connection).
class RequestParser {
 public:
  enum class State {
    kNeedMore,    //!< feed more bytes
    kHeaderDone,  //!< the header is complete and valid (reported once per request); feed again
    kComplete,    //!< the whole request is parsed: TakeRequest, then Reset
    kError,       //!< the request is refused: see error(); the connection must close after answering
  };

  explicit RequestParser(RequestLimits limits);
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  //! Gets ready for the next request on the same connection.
  void Reset();

  //! Parses a prefix of `data` and returns how many bytes it used; the caller keeps the rest
  //! (bytes of an incomplete header are not used until the header is complete, so the caller
  //! must offer them again with more appended; bytes after a complete request belong to the next
  //! pipelined request). Then state() says what to do.
  size_t Feed(std::string_view data);

  State state() const { return state_; }
  //! From kHeaderDone: the client sent "Expect: 100-continue" and a body follows, so the server
  //! should send "100 Continue" before reading the body.
  bool expects_continue() const { return expects_continue_; }
  //! In kError: the status and message to answer with.
  const RequestError& error() const { return error_; }
  //! In kComplete: moves the request line, headers, body and keep-alive flag into `out`.
  void TakeRequest(Request* out);

 private:
  struct Impl;
  size_t FeedHeader(std::string_view data);
  size_t FeedBody(std::string_view data);
  void Fail(int status, std::string message);
  void ValidateHeader();

  RequestLimits limits_;
  std::unique_ptr<Impl> impl_;
  State state_ = State::kNeedMore;
  bool header_reported_ = false;
  bool expects_continue_ = false;
  RequestError error_;
};

//! Whether Beast may be handed the unconsumed body bytes `available` after it last asked for
//! more with `stalled_bytes` of them unconsumed (0: it made full progress). Works around a Beast
//! 1.74 assertion on resuming a chunked body's final chunk with fewer than 5 bytes. Shared with
//! ResponseParser.
bool BeastMayResume(size_t stalled_bytes, std::string_view available);

//! Splits a request-target into path and query. Accepts origin-form ("/a?b") and absolute-form
//! ("http://host/a?b"); "*" gives path "*". False for anything else.
bool SplitTarget(std::string_view target, std::string* path, std::string* query);

}  // namespace meridian::http
