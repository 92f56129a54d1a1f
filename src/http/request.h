// The server-side view of one HTTP request (method, target, headers, body, peer, request id),
// plus request-id generation and query-string helpers.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http/headers.h"

namespace meridian::http {

//! One complete request as a handler sees it. A value type: the handler owns it.
struct Request {
  std::string method;  //!< as sent, case-sensitive ("GET", "POST", ...)
  std::string target;  //!< the raw request-target, e.g. "/v1/models?limit=2"
  std::string path;    //!< the target's path, not percent-decoded, e.g. "/v1/models"
  std::string query;   //!< after '?', raw; empty when absent
  int version = 11;    //!< 10 for HTTP/1.0, 11 for HTTP/1.1, 20 for HTTP/2
  Headers headers;
  std::string body;            //!< de-chunked; at most HttpServerOptions::max_body_bytes
  std::string remote_address;  //!< the peer, "127.0.0.1:54321" or "[::1]:54321"
  std::string request_id;      //!< the client's sane X-Request-Id, else a generated one
  bool keep_alive = true;      //!< whether the client allows the connection to stay open (HTTP/2: true)
  std::chrono::steady_clock::time_point received_at{};  //!< when the last request byte arrived

  //! The percent-decoded value of the first query parameter `name` ('+' reads as a space);
  //! nullopt if absent or badly encoded.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

//! Decodes %XX escapes (and '+' as a space when `plus_as_space`); nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_as_space);

//! True if a client-sent X-Request-Id may be echoed back and logged: 1..128 characters from
//! [A-Za-z0-9._:-] (no spaces, quotes or control characters that could corrupt logs or headers).
bool IsSaneRequestId(std::string_view id);

//! A new random request id: 32 lowercase hex digits (128 bits). Thread-safe.
std::string NewRequestId();

}  // namespace meridian::http
