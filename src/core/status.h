// Status and Result<T>: the error type of every request path (no exceptions on the data plane).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace meridian {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    //!< the caller's input is wrong (bad flag, bad request body)
  kNotFound,           //!< a file, key or tensor does not exist
  kOutOfRange,         //!< an index or size past a limit
  kDataLoss,           //!< a file is truncated or corrupt
  kResourceExhausted,  //!< out of memory, KV blocks or queue slots
  kUnavailable,        //!< not ready, try again later
  kDeadlineExceeded,
  kCancelled,
  kUnauthenticated,
  kUnimplemented,  //!< a valid input that this build does not support (e.g. an unknown dtype)
  kInternal,
};

const char* StatusCodeName(StatusCode code);

//! An error code with a message a user can act on; cheap to return when ok.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  //! "invalid_argument: message"
  std::string ToString() const;
  //! Returns a copy with "context: " prepended to the message.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

//! A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (status_.ok()) status_ = Internal("Result constructed from an ok Status without a value");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace meridian

#define MERIDIAN_CONCAT_INNER(a, b) a##b
#define MERIDIAN_CONCAT(a, b) MERIDIAN_CONCAT_INNER(a, b)

//! Returns the Status from the enclosing function if `expr` is not ok.
#define MERIDIAN_RETURN_IF_ERROR(expr)            \
  do {                                            \
    ::meridian::Status meridian_status_ = (expr); \
    if (!meridian_status_.ok()) return meridian_status_; \
  } while (0)

//! `MERIDIAN_ASSIGN_OR_RETURN(auto x, MakeX());` declares x or returns the error.
#define MERIDIAN_ASSIGN_OR_RETURN(lhs, expr) \
  MERIDIAN_ASSIGN_OR_RETURN_IMPL(MERIDIAN_CONCAT(meridian_result_, __LINE__), lhs, expr)
#define MERIDIAN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()
