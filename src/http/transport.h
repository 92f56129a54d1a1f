// Transport: the byte stream under one server connection, either a plain TCP socket or TLS over
// it (boost::asio::ssl with OpenSSL), so that the HTTP/1.1 and HTTP/2 connections read and write
// the same way over both.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace meridian::http::detail {

//! Thread-safety: none; use it from its executor's strand only (as a socket is used).
class Transport {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsStream = boost::asio::ssl::stream<Socket>;

  explicit Transport(Socket socket) : plain_(std::move(socket)) {}
  //! A TLS stream whose handshake is complete.
  explicit Transport(std::unique_ptr<TlsStream> tls) : tls_(std::move(tls)) {}
  Transport(Transport&&) = default;
  Transport& operator=(Transport&&) = default;

  Socket::executor_type get_executor() { return lowest_layer().get_executor(); }
  Socket& lowest_layer() { return tls_ ? tls_->next_layer() : *plain_; }
  bool is_tls() const { return tls_ != nullptr; }

  template <typename Buffers, typename Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      plain_->async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  //! Writes every byte of `buffers` (asio::async_write semantics).
  template <typename Buffers, typename Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
      boost::asio::async_write(*plain_, buffers, std::forward<Handler>(handler));
    }
  }

  //! Half-closes the sending side of the TCP connection. Over TLS no close_notify is sent: every
  //! response this library writes is framed (Content-Length, chunked or HTTP/2), so a truncation
  //! cannot pass for a complete response.
  void ShutdownSend(boost::system::error_code& ec) { lowest_layer().shutdown(Socket::shutdown_send, ec); }
  //! Shuts down both directions and closes; pending operations complete with an error.
  void Close() {
    boost::system::error_code ignored;
    lowest_layer().shutdown(Socket::shutdown_both, ignored);
    lowest_layer().close(ignored);
  }

 private:
  std::optional<Socket> plain_;
  std::unique_ptr<TlsStream> tls_;
};

}  // namespace meridian::http::detail
