// The server's TLS configuration: an OpenSSL context (via boost::asio::ssl) with the certificate
// chain and key of HttpServerOptions, TLS 1.2 as the minimum (1.3 negotiated whenever the client
// has it), and ALPN choosing "h2" (when HTTP/2 is enabled) or "http/1.1".
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::http {

//! How MakeServerTlsContext sets up the context.
struct TlsServerConfig {
  std::string cert_chain_file;  //!< PEM: the leaf certificate first, then intermediates
  std::string key_file;         //!< PEM private key matching the leaf certificate
  bool offer_h2 = false;        //!< ALPN: prefer "h2" over "http/1.1" when the client offers both
};

//! Loads the certificate chain and key and checks that they match. Fails with InvalidArgument and
//! a message naming the file and OpenSSL's reason (unreadable, not PEM, key does not match).
//! The context is immutable afterwards and may be shared by every connection (thread-safe).
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(const TlsServerConfig& config);

//! The ALPN protocol the handshake on `ssl` selected ("h2", "http/1.1"), or "" if none.
std::string_view SelectedAlpn(const void* ssl);

}  // namespace meridian::http
