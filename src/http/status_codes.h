// HTTP status codes: the constants this library emits and their reason phrases.
#pragma once

#include <string_view>

namespace meridian::http {

//! The status codes the server library itself produces (handlers may send any 100..999 code).
namespace status {
inline constexpr int kContinue = 100;
inline constexpr int kOk = 200;
inline constexpr int kNoContent = 204;
inline constexpr int kNotModified = 304;
inline constexpr int kBadRequest = 400;
inline constexpr int kNotFound = 404;
inline constexpr int kMethodNotAllowed = 405;
inline constexpr int kRequestTimeout = 408;
inline constexpr int kPayloadTooLarge = 413;
inline constexpr int kUriTooLong = 414;
inline constexpr int kExpectationFailed = 417;
inline constexpr int kTooManyRequests = 429;
inline constexpr int kRequestHeaderFieldsTooLarge = 431;
inline constexpr int kInternalServerError = 500;
inline constexpr int kNotImplemented = 501;
inline constexpr int kServiceUnavailable = 503;
inline constexpr int kVersionNotSupported = 505;
}  // namespace status

//! "OK", "Not Found", ...; "Unknown" for codes without a registered phrase.
std::string_view ReasonPhrase(int status);

//! "not_found", "payload_too_large", ...: the reason phrase as a snake_case error code.
std::string_view StatusErrorCode(int status);

//! True if a response with this status never has a body (1xx, 204, 304).
inline bool StatusForbidsBody(int status) {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace meridian::http
