// RequestParser: Boost.Beast's request_parser with our limits, plus the checks Beast leaves to the
// server (HTTP version, Host, Transfer-Encoding, Expect, request-target form).
#include "http/request_parser.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <limits>
#include <optional>

#include "http/status_codes.h"

namespace meridian::http {
namespace beast_http = boost::beast::http;

struct RequestParser::Impl {
  std::optional<beast_http::request_parser<beast_http::string_body>> parser;
  bool consumed_any = false;
  size_t header_bytes = 0;   //!< header bytes Beast consumed so far for this request
  size_t stalled_bytes = 0;  //!< unconsumed body bytes Beast last asked more for
};

namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

//! A message for a Beast syntax error, phrased for the client.
std::string SyntaxMessage(const boost::system::error_code& ec) {
  using E = beast_http::error;
  if (ec == E::bad_method || ec == E::bad_target || ec == E::bad_version) {
    return "malformed request line (" + ec.message() + "); expected e.g. 'GET /path HTTP/1.1'";
  }
  if (ec == E::bad_content_length) return "invalid or conflicting Content-Length header";
  if (ec == E::bad_transfer_encoding) {
    return "invalid Transfer-Encoding (repeated, or sent together with Content-Length)";
  }
  if (ec == E::bad_chunk || ec == E::bad_chunk_extension) return "malformed chunked request body";
  if (ec == E::bad_field || ec == E::bad_value || ec == E::bad_obs_fold) {
    return "malformed header field (" + ec.message() + ")";
  }
  if (ec == E::bad_line_ending) return "malformed request: lines must end with CRLF";
  return "malformed request (" + ec.message() + ")";
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

//! For "METHOD TARGET HTTP/x.y\r\n" (exactly two spaces) with a version other than 1.0 and
//! 1.1 ("HTTP/2.0", "HTTP/3"), the version; otherwise nullopt (a malformed line: 400).
std::optional<std::string> WellFormedOtherVersion(std::string_view data) {
  size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) return std::nullopt;
  std::string_view line = data.substr(0, eol);
  size_t first = line.find(' ');
  size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
    return std::nullopt;
  if (first == 0 || second == first + 1) return std::nullopt;
  std::string_view version = line.substr(second + 1);
  if (version.size() < 6 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5])) return std::nullopt;
  bool minor = version.size() == 8 && version[6] == '.' && IsDigit(version[7]);
  if (version.size() != 6 && !minor) return std::nullopt;
  if (version == "HTTP/1.0" || version == "HTTP/1.1") return std::nullopt;
  return std::string(version);
}

}  // namespace

bool BeastMayResume(size_t stalled_bytes, std::string_view available) {
  if (stalled_bytes == 0) return true;
  if (available.size() <= stalled_bytes) return false;  // nothing new: Beast would ask again
  // Beast 1.74 asserts (in builds with assertions) when it resumes a chunked body whose final
  // chunk line ("0\r\n") is complete with fewer than 5 bytes. The body still needs at least
  // "0\r\n\r\n" from there, so waiting for 5 bytes cannot stall a valid body.
  size_t i = available.substr(0, 2) == "\r\n" ? 2 : 0;
  size_t zeros = 0;
  while (i < available.size() && available[i] == '0') {
    ++i;
    ++zeros;
  }
  bool hex_follows = i < available.size() && std::isxdigit(static_cast<unsigned char>(available[i]));
  bool final_chunk_line = zeros > 0 && !hex_follows && available.find('\n', i) != std::string_view::npos;
  return !final_chunk_line || available.size() >= 5;
}

RequestParser::RequestParser(RequestLimits limits) : limits_(limits), impl_(std::make_unique<Impl>()) {
  Reset();
}

RequestParser::~RequestParser() = default;

void RequestParser::Reset() {
  impl_->parser.reset();
  impl_->parser.emplace();
  auto& p = *impl_->parser;
  constexpr size_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
  p.header_limit(static_cast<std::uint32_t>(std::min(limits_.max_header_bytes, kMaxU32)));
  p.body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
  p.eager(false);
  impl_->consumed_any = false;
  impl_->header_bytes = 0;
  impl_->stalled_bytes = 0;
  state_ = State::kNeedMore;
  header_reported_ = false;
  expects_continue_ = false;
  error_ = {};
}

void RequestParser::Fail(int status, std::string message) {
  state_ = State::kError;
  error_ = {status, std::move(message)};
}

size_t RequestParser::Feed(std::string_view data) {
  if (state_ == State::kComplete || state_ == State::kError) return 0;
  return header_reported_ ? FeedBody(data) : FeedHeader(data);
}

size_t RequestParser::FeedHeader(std::string_view data) {
  size_t skipped = 0;
  if (!impl_->consumed_any) {
    // RFC 9112 section 2.2: ignore empty lines before the request line (some clients send a
    // CRLF after a POST body).
    while (skipped < data.size() && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
    data.remove_prefix(skipped);
  }
  if (data.empty()) {
    state_ = State::kNeedMore;
    return skipped;
  }
  auto& p = *impl_->parser;
  boost::system::error_code ec;
  size_t used = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
  // Beast consumes the request line and complete fields before the header is complete, and then
  // applies its header_limit only to what is left; count the whole header here.
  bool line_done = impl_->header_bytes > 0 || used > 0;
  impl_->header_bytes += used;
  if (used > 0) impl_->consumed_any = true;
  if (ec == beast_http::error::need_more &&
      impl_->header_bytes + (data.size() - used) >= limits_.max_header_bytes) {
    ec = beast_http::error::header_limit;
  }
  if (!ec && p.is_header_done() && impl_->header_bytes > limits_.max_header_bytes) {
    ec = beast_http::error::header_limit;
  }
  if (ec == beast_http::error::need_more) {
    state_ = State::kNeedMore;
    return skipped + used;
  }
  if (ec == beast_http::error::header_limit) {
    // The request line alone does not fit: 414 says what to fix.
    if (!line_done && data.substr(0, limits_.max_header_bytes).find('\n') == std::string_view::npos) {
      Fail(status::kUriTooLong, "request line is longer than the " +
                                    std::to_string(limits_.max_header_bytes) +
                                    "-byte header limit; shorten the URL");
    } else {
      Fail(status::kRequestHeaderFieldsTooLarge,
           "request header is larger than the " + std::to_string(limits_.max_header_bytes) + "-byte limit");
    }
    return skipped + used;
  }
  if (ec == beast_http::error::body_limit) {
    Fail(status::kPayloadTooLarge,
         "request body is larger than the " + std::to_string(limits_.max_body_bytes) + "-byte limit");
    return skipped + used;
  }
  if (ec == beast_http::error::bad_version && !line_done) {
    // Beast refuses every version but 1.0 and 1.1 as malformed; a well-formed other version
    // (an HTTP/2 preface, HTTP/3.0) deserves 505.
    if (auto version = WellFormedOtherVersion(data)) {
      Fail(status::kVersionNotSupported, "HTTP version '" + *version + "' is not supported; use HTTP/1.1");
      return skipped + used;
    }
  }
  if (ec) {
    Fail(status::kBadRequest, SyntaxMessage(ec));
    return skipped + used;
  }
  if (!p.is_header_done()) {  // cannot happen without an error code; stay safe on untrusted input
    state_ = State::kNeedMore;
    return skipped + used;
  }
  ValidateHeader();
  if (state_ != State::kError) {
    header_reported_ = true;
    state_ = State::kHeaderDone;
  }
  return skipped + used;
}

void RequestParser::ValidateHeader() {
  auto& p = *impl_->parser;
  const auto& msg = p.get();
  unsigned version = msg.version();
  if (version != 10 && version != 11) {
    Fail(status::kVersionNotSupported, "HTTP/" + std::to_string(version / 10) + "." +
                                           std::to_string(version % 10) + " is not supported; use HTTP/1.1");
    return;
  }
  size_t hosts = 0;
  size_t transfer_encodings = 0;
  std::string_view transfer_encoding;
  std::string_view expect;
  size_t expects = 0;
  for (const auto& field : msg) {
    std::string_view name(field.name_string().data(), field.name_string().size());
    std::string_view value(field.value().data(), field.value().size());
    if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      ++transfer_encodings;
      transfer_encoding = value;
    } else if (EqualsIgnoreCase(name, "expect")) {
      ++expects;
      expect = value;
    }
  }
  if (version == 11 && hosts != 1) {
    Fail(status::kBadRequest,
         hosts == 0 ? "HTTP/1.1 request without a Host header" : "request has more than one Host header");
    return;
  }
  if (transfer_encodings > 0) {
    if (version == 10) {
      Fail(status::kBadRequest, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
      return;
    }
    // Beast decodes only "chunked"; any other coding (or "x, chunked") would leave the body
    // undecoded, and a non-chunked final coding makes the body length unknowable (RFC 9112 6.3).
    if (transfer_encodings != 1 || !EqualsIgnoreCase(TrimSpaces(transfer_encoding), "chunked")) {
      Fail(status::kNotImplemented, "Transfer-Encoding '" + std::string(transfer_encoding).substr(0, 64) +
                                        "' is not supported; send the body with Content-Length or "
                                        "'Transfer-Encoding: chunked'");
      return;
    }
  }
  bool has_body = p.chunked() || (p.content_length() && *p.content_length() > 0);
  if (expects > 0) {
    if (expects != 1 || !EqualsIgnoreCase(TrimSpaces(expect), "100-continue")) {
      Fail(status::kExpectationFailed, "only 'Expect: 100-continue' is supported");
      return;
    }
    expects_continue_ = version == 11 && has_body;
  }
  std::string_view target(msg.target().data(), msg.target().size());
  std::string path, query;
  if (!SplitTarget(target, &path, &query)) {
    Fail(status::kBadRequest, "request target must be a path starting with '/'");
    return;
  }
  if (path == "*" && msg.method_string() != "OPTIONS") {
    Fail(status::kBadRequest, "request target '*' is only valid with OPTIONS");
  }
}

size_t RequestParser::FeedBody(std::string_view data) {
  auto& p = *impl_->parser;
  if (p.is_done()) {
    state_ = State::kComplete;
    return 0;
  }
  if (data.empty() || !BeastMayResume(impl_->stalled_bytes, data)) {
    state_ = State::kNeedMore;
    return 0;
  }
  p.eager(true);
  boost::system::error_code ec;
  size_t used = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
  impl_->stalled_bytes = ec == beast_http::error::need_more ? data.size() - used : 0;
  if (ec == beast_http::error::need_more) {
    ec = {};
    // Beast bounds neither a chunk-size line (with extensions) nor the trailer section: without
    // this check a client could make the connection buffer grow without end.
    if (data.size() - used >= limits_.max_header_bytes) {
      Fail(status::kBadRequest, "a chunk-size line or the trailer section is longer than " +
                                    std::to_string(limits_.max_header_bytes) + " bytes");
      return used;
    }
  }
  if (ec == beast_http::error::body_limit) {
    Fail(status::kPayloadTooLarge,
         "request body is larger than the " + std::to_string(limits_.max_body_bytes) + "-byte limit");
  } else if (ec) {
    Fail(status::kBadRequest, SyntaxMessage(ec));
  } else {
    state_ = p.is_done() ? State::kComplete : State::kNeedMore;
  }
  return used;
}

void RequestParser::TakeRequest(Request* out) {
  if (state_ != State::kComplete) return;
  auto& p = *impl_->parser;
  auto msg = p.release();
  out->method = std::string(msg.method_string());
  out->target = std::string(msg.target());
  out->path.clear();
  out->query.clear();
  SplitTarget(out->target, &out->path, &out->query);
  out->version = static_cast<int>(msg.version());
  out->keep_alive = msg.keep_alive();
  out->headers = Headers();
  for (const auto& field : msg) {
    out->headers.Add(std::string(field.name_string()), std::string(field.value()));
  }
  out->body = std::move(msg.body());
}

bool SplitTarget(std::string_view target, std::string* path, std::string* query) {
  if (target == "*") {
    *path = "*";
    query->clear();
    return true;
  }
  if (StartsWithIgnoreCase(target, "http://") || StartsWithIgnoreCase(target, "https://")) {
    size_t authority = target.find("//") + 2;
    size_t slash = target.find_first_of("/?", authority);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    if (target.front() == '?') {
      *path = "/";
      *query = std::string(target.substr(1));
      return true;
    }
  }
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  *path = std::string(target.substr(0, q));
  *query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  return true;
}

}  // namespace meridian::http
