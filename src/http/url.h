// http:// URL parsing for the client (scheme, host, port, request target).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::http {

struct Url {
  std::string scheme;  //!< "http" (https is recognised and refused until TLS exists)
  std::string host;    //!< without brackets for IPv6 literals: "::1"
  uint16_t port = 80;
  std::string target = "/";  //!< path and query, never empty, e.g. "/v1/models?x=1"

  //! The Host header value: "example.com", "example.com:8080", "[::1]:8080".
  std::string HostHeader() const;
  //! "host:port", the connection pool key.
  std::string Authority() const;
};

//! Parses "http://host[:port][/path][?query]". The fragment is dropped. InvalidArgument names the
//! problem (no scheme, bad port, spaces or control characters, userinfo, https).
Result<Url> ParseUrl(std::string_view text);

}  // namespace meridian::http
