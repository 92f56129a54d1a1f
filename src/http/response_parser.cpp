// ResponseParser over Boost.Beast's response_parser<buffer_body>: decoded body bytes land in a
// small scratch buffer and go straight to the callback.
#include "http/response_parser.h"

#include <array>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <limits>
#include <optional>

#include "http/request_parser.h"

namespace meridian::http {
namespace beast_http = boost::beast::http;

struct ResponseParser::Impl {
  std::optional<beast_http::response_parser<beast_http::buffer_body>> parser;
  std::array<char, 16 * 1024> scratch;
};

ResponseParser::ResponseParser(size_t max_header_bytes, bool head_request)
    : max_header_bytes_(max_header_bytes), head_request_(head_request), impl_(std::make_unique<Impl>()) {
  NewMessage();
}

ResponseParser::~ResponseParser() = default;

void ResponseParser::NewMessage() {
  impl_->parser.reset();
  impl_->parser.emplace();
  auto& p = *impl_->parser;
  constexpr size_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
  p.header_limit(static_cast<std::uint32_t>(std::min(max_header_bytes_, kMaxU32)));
  // Bodies stream through and the caller bounds what it keeps. (Not boost::none: Beast 1.74
  // compares the Content-Length against the optional and refuses every length then.)
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(false);
  if (head_request_) p.skip(true);
  header_bytes_ = 0;
  stalled_bytes_ = 0;
}

void ResponseParser::Fail(std::string message) {
  state_ = State::kError;
  error_ = std::move(message);
}

size_t ResponseParser::Feed(std::string_view data, const BodyCallback& on_body) {
  if (state_ == State::kComplete || state_ == State::kError) return 0;
  if (header_reported_) return FeedBody(data, on_body);
  size_t used = 0;
  while (true) {
    size_t n = FeedHeader(data);
    used += n;
    data.remove_prefix(n);
    if (state_ != State::kNeedMore) return used;  // the final header, or an error
    if (n == 0 || data.empty()) return used;      // wait for more bytes
    // An interim 1xx response was consumed: the final one may already be in `data`.
  }
}

size_t ResponseParser::FeedHeader(std::string_view data) {
  if (data.empty()) return 0;
  auto& p = *impl_->parser;
  boost::system::error_code ec;
  size_t used = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
  // Beast consumes complete header lines early and limits only the rest: count the whole header.
  header_bytes_ += used;
  if (ec == beast_http::error::need_more && header_bytes_ + (data.size() - used) >= max_header_bytes_) {
    ec = beast_http::error::header_limit;
  }
  if (!ec && p.is_header_done() && header_bytes_ > max_header_bytes_) ec = beast_http::error::header_limit;
  if (ec == beast_http::error::need_more) return used;
  if (ec == beast_http::error::header_limit) {
    Fail("response header is larger than " + std::to_string(max_header_bytes_) + " bytes");
    return used;
  }
  if (ec) {
    Fail("malformed response header: " + ec.message());
    return used;
  }
  if (!p.is_header_done()) return used;
  const auto& msg = p.get();
  int status = static_cast<int>(msg.result_int());
  if (status >= 100 && status < 200 && status != 101) {
    NewMessage();  // an interim response (100 Continue, 103 Early Hints): the real one follows
    return used;
  }
  status_ = status;
  version_ = static_cast<int>(msg.version());
  headers_ = Headers();
  for (const auto& field : msg) headers_.Add(std::string(field.name_string()), std::string(field.value()));
  keep_alive_ = p.keep_alive() && status != 101;
  header_reported_ = true;
  state_ = State::kHeaderDone;
  return used;
}

size_t ResponseParser::FeedBody(std::string_view data, const BodyCallback& on_body) {
  auto& p = *impl_->parser;
  auto& scratch = impl_->scratch;
  size_t used = 0;
  state_ = State::kNeedMore;
  p.eager(true);
  while (true) {
    if (p.is_done()) {
      state_ = State::kComplete;
      return used;
    }
    if (data.empty() || !BeastMayResume(stalled_bytes_, data)) return used;
    p.get().body().data = scratch.data();
    p.get().body().size = scratch.size();
    p.get().body().more = true;
    boost::system::error_code ec;
    size_t n = p.put(boost::asio::const_buffer(data.data(), data.size()), ec);
    used += n;
    data.remove_prefix(n);
    stalled_bytes_ = ec == beast_http::error::need_more ? data.size() : 0;
    size_t produced = scratch.size() - p.get().body().size;
    if (produced > 0 && on_body) on_body(std::string_view(scratch.data(), produced));
    if (ec == beast_http::error::need_buffer) continue;  // scratch full: hand it over, go on
    if (ec == beast_http::error::need_more) {
      // Beast bounds neither chunk-size lines nor trailers; the caller's buffer must not grow.
      if (data.size() >= max_header_bytes_) Fail("a chunk-size line or the trailers are too long");
      return used;
    }
    if (ec) {
      Fail("malformed response body: " + ec.message());
      return used;
    }
    if (n == 0 && produced == 0 && !p.is_done()) return used;  // no progress: wait for more bytes
  }
}

void ResponseParser::FeedEof() {
  if (state_ == State::kComplete || state_ == State::kError) return;
  if (!header_reported_) {  // (Beast would call an empty stream a complete message)
    Fail("connection closed before a complete response header arrived");
    return;
  }
  auto& p = *impl_->parser;
  boost::system::error_code ec;
  p.get().body().data = impl_->scratch.data();
  p.get().body().size = impl_->scratch.size();
  p.put_eof(ec);
  if (ec || !p.is_done()) {
    Fail("connection closed before the response body was complete");
    return;
  }
  state_ = State::kComplete;
}

}  // namespace meridian::http
