// TLS context set-up for HttpServer: certificate chain, key, protocol versions and ALPN.
#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace meridian::http {
namespace ssl = boost::asio::ssl;
namespace {

//! OpenSSL's error queue as one line (and cleared), e.g. "error:0A000065:SSL routines::...".
std::string DrainOpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

Status CheckReadable(const std::string& path, const char* what) {
  if (path.empty()) return InvalidArgument(std::string("TLS ") + what + " file is not set");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    return InvalidArgument(std::string("cannot read TLS ") + what + " file '" + path +
                           "': " + std::strerror(errno));
  }
  std::fclose(f);
  return Status::Ok();
}

//! Client protocol list in wire format (length-prefixed); picks h2 first when allowed.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  bool offer_h2 = arg != nullptr;
  const unsigned char* http11 = nullptr;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    std::string_view name(reinterpret_cast<const char*>(in + i + 1), len);
    if (offer_h2 && name == "h2") {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    if (name == "http/1.1" && !http11) http11 = in + i + 1;
    i += 1 + len;
  }
  if (http11) {
    *out = http11;
    *outlen = 8;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN (HTTP/1.1)
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const TlsServerConfig& config) {
  MERIDIAN_RETURN_IF_ERROR(CheckReadable(config.cert_chain_file, "certificate chain"));
  MERIDIAN_RETURN_IF_ERROR(CheckReadable(config.key_file, "private key"));
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  ERR_clear_error();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native,
                      SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // A client that closes without close_notify is a normal end of the connection, not an error.
  SSL_CTX_set_options(native, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_use_certificate_chain_file(native, config.cert_chain_file.c_str()) != 1) {
    return InvalidArgument("cannot load TLS certificate chain '" + config.cert_chain_file +
                           "' (expected PEM): " + DrainOpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(native, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      return InvalidArgument("TLS private key '" + config.key_file + "' does not match the certificate in '" +
                             config.cert_chain_file + "': " + DrainOpenSslErrors());
    }
    return InvalidArgument("cannot load TLS private key '" + config.key_file +
                           "' (expected PEM): " + DrainOpenSslErrors());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("TLS private key '" + config.key_file + "' does not match the certificate in '" +
                           config.cert_chain_file + "': " + DrainOpenSslErrors());
  }
  SSL_CTX_set_alpn_select_cb(native, SelectAlpn, config.offer_h2 ? reinterpret_cast<void*>(1) : nullptr);
  return context;
}

std::string_view SelectedAlpn(const void* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(static_cast<const SSL*>(ssl), &data, &len);
  return data ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

}  // namespace meridian::http
