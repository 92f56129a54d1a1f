// ConnectionSetup: TLS handshake, ALPN and h2c preface detection before a connection speaks HTTP.
#include "http/connection_setup.h"

#include <boost/asio/post.hpp>
#include <string_view>

#include "core/log.h"
#include "http/h2_server_connection.h"
#include "http/tls_context.h"

namespace meridian::http::detail {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}  // namespace

ConnectionSetup::ConnectionSetup(ServerCore* core, uint64_t id, tcp::socket socket)
    : core_(core), id_(id), timer_(socket.get_executor()) {
  if (core_->tls) {
    tls_ = std::make_unique<Transport::TlsStream>(std::move(socket), *core_->tls);
  } else {
    plain_.emplace(std::move(socket));
  }
}

void ConnectionSetup::Start() {
  asio::post(timer_.get_executor(), [self = shared_from_this()] {
    if (self->core_->draining.load()) {
      self->Close("server is shutting down");
      return;
    }
    const auto& options = self->core_->options;
    self->timer_.expires_after(self->tls_ ? options.tls_handshake_timeout : options.header_read_timeout);
    self->timer_.async_wait([self](const boost::system::error_code& ec) {
      if (ec || self->done_) return;
      self->Close(self->tls_ ? "TLS handshake timed out" : "no request within the header read timeout");
    });
    if (self->tls_) {
      self->tls_->async_handshake(asio::ssl::stream_base::server,
                                  [self](const boost::system::error_code& ec) { self->OnHandshake(ec); });
    } else {
      self->ReadPreface();
    }
  });
}

void ConnectionSetup::BeginDrain() {
  asio::post(timer_.get_executor(), [self = shared_from_this()] { self->Close("server is shutting down"); });
}

void ConnectionSetup::ForceClose() {
  BeginDrain();
}

void ConnectionSetup::OnHandshake(const boost::system::error_code& ec) {
  if (done_) return;
  if (ec) {
    Close("TLS handshake failed: " + ec.message());
    return;
  }
  HandOver(SelectedAlpn(tls_->native_handle()) == "h2");
}

void ConnectionSetup::ReadPreface() {
  plain_->async_read_some(asio::buffer(buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t bytes) {
                            self->OnPrefaceRead(ec, bytes);
                          });
}

void ConnectionSetup::OnPrefaceRead(const boost::system::error_code& ec, size_t bytes) {
  if (done_) return;
  if (ec) {
    Close("client closed the connection");
    return;
  }
  sniffed_.append(buf_.data(), bytes);
  size_t common = std::min(sniffed_.size(), kH2Preface.size());
  if (std::string_view(sniffed_).substr(0, common) != kH2Preface.substr(0, common)) {
    HandOver(false);  // not HTTP/2: the HTTP/1.1 parser gets every byte read so far
  } else if (sniffed_.size() >= kH2Preface.size()) {
    HandOver(true);
  } else {
    ReadPreface();
  }
}

void ConnectionSetup::HandOver(bool http2) {
  done_ = true;
  timer_.cancel();
  Transport transport = tls_ ? Transport(std::move(tls_)) : Transport(std::move(*plain_));
  if (http2) {
    auto connection =
        std::make_shared<H2ServerConnection>(core_, id_, std::move(transport), std::move(sniffed_));
    if (core_->Replace(id_, connection)) connection->Start();
  } else {
    auto connection =
        std::make_shared<ServerConnection>(core_, id_, std::move(transport), std::move(sniffed_));
    if (core_->Replace(id_, connection)) connection->Start();
  }
}

void ConnectionSetup::Close(const std::string& reason) {
  if (done_) return;
  done_ = true;
  timer_.cancel();
  boost::system::error_code ignored;
  tcp::socket& socket = tls_ ? tls_->next_layer() : *plain_;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  log::Debug("http connection closed before a request", {{"reason", std::string_view(reason)}});
  core_->Remove(id_);
}

}  // namespace meridian::http::detail
