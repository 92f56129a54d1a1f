// URL parsing.
#include "http/url.h"

#include <charconv>

#include "http/headers.h"

namespace meridian::http {

std::string Url::HostHeader() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port == 80) return host_part;
  return host_part + ":" + std::to_string(port);
}

std::string Url::Authority() const {
  std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return host_part + ":" + std::to_string(port);
}

Result<Url> ParseUrl(std::string_view text) {
  std::string shown(text.substr(0, 200));
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return InvalidArgument("URL contains a space or control character: " + shown);
  }
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos)
    return InvalidArgument("URL needs a scheme, e.g. http://host/path: " + shown);
  Url url;
  std::string_view scheme = text.substr(0, scheme_end);
  if (EqualsIgnoreCase(scheme, "https")) {
    return Unimplemented("https URLs are not supported yet (no TLS in this build): " + shown);
  }
  if (!EqualsIgnoreCase(scheme, "http")) return InvalidArgument("URL scheme must be http: " + shown);
  url.scheme = "http";
  std::string_view rest = text.substr(scheme_end + 3);
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("URL user information (user@host) is not supported: " + shown);
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("URL has an unclosed IPv6 bracket: " + shown);
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidArgument("URL has junk after the IPv6 address: " + shown);
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return InvalidArgument("URL has no host: " + shown);
  url.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return InvalidArgument("URL port must be 1..65535: " + shown);
    }
    url.port = static_cast<uint16_t>(value);
  }
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

}  // namespace meridian::http
