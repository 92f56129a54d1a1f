// ConnectionSetup: what an accepted connection goes through before it speaks HTTP (internal):
// the TLS handshake (bounded by HttpServerOptions::tls_handshake_timeout) with ALPN choosing h2
// or http/1.1, or, on a cleartext listener with HTTP/2 enabled, detection of the HTTP/2 client
// connection preface (h2c with prior knowledge). It then hands the socket to a ServerConnection
// (HTTP/1.1) or an H2ServerConnection, which takes over its registry slot.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "http/server_connection.h"
#include "http/transport.h"

namespace meridian::http::detail {

//! Thread-safety: like ServerConnection, everything runs on the socket's strand; BeginDrain and
//! ForceClose only post to it.
class ConnectionSetup : public Connection, public std::enable_shared_from_this<ConnectionSetup> {
 public:
  //! Registered by the server under `id` before Start.
  ConnectionSetup(ServerCore* core, uint64_t id, boost::asio::ip::tcp::socket socket);
  //! Starts the handshake (TLS) or the preface detection (cleartext with HTTP/2 enabled).
  void Start();
  //! Nothing was requested yet: draining closes at once.
  void BeginDrain() override;
  void ForceClose() override;

 private:
  void OnHandshake(const boost::system::error_code& ec);
  void ReadPreface();
  void OnPrefaceRead(const boost::system::error_code& ec, size_t bytes);
  void HandOver(bool http2);
  void Close(const std::string& reason);

  ServerCore* const core_;
  const uint64_t id_;
  std::unique_ptr<Transport::TlsStream> tls_;          //!< TLS listener: the stream in handshake
  std::optional<boost::asio::ip::tcp::socket> plain_;  //!< cleartext listener
  boost::asio::steady_timer timer_;
  bool done_ = false;    //!< handed over or closed
  std::string sniffed_;  //!< bytes read while looking for the HTTP/2 preface
  std::array<char, 1024> buf_;
};

}  // namespace meridian::http::detail
