// RequestRecord: what the load generator measured for one request, and how it failed if it did.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meridian::loadgen {

//! Why a request failed. Names (ErrorKindName) are what tables and JSON show.
enum class ErrorKind {
  kNone = 0,
  kConnectRefused,    //!< nothing listens at the address
  kConnectError,      //!< other connect/resolve failure
  kConnectionClosed,  //!< the connection closed or reset before any response byte
  kTimeout,           //!< connect, first byte or idle timeout
  kHttp429,           //!< rate limited / queue full
  kHttp4xx,           //!< another 4xx (a bad request: check the bench flags)
  kHttp5xx,           //!< a server error status
  kMidStreamClose,    //!< a 200 stream that ended (closed, reset, cut) without [DONE]
  kStreamError,       //!< an SSE error event inside a 200 stream
  kBadResponse,       //!< unparseable body or chunk
  kOther,
};

const char* ErrorKindName(ErrorKind kind);

//! Times are milliseconds from the moment the request was started.
struct RequestRecord {
  ErrorKind error = ErrorKind::kNone;
  std::string error_message;  //!< empty when ok
  int http_status = 0;        //!< 0 when no response head arrived
  double first_byte_ms = -1;  //!< response head arrived; -1 never
  double ttft_ms = -1;        //!< first token with text (non-streamed: the whole body); -1 never
  double e2e_ms = -1;         //!< the call ended (ok or not)
  std::vector<double> token_ms;  //!< arrival of each chunk that carried text, in order
  int output_tokens = 0;         //!< usage.completion_tokens when reported, else text chunks
  int prompt_tokens = 0;         //!< usage.prompt_tokens when reported, else 0
  bool reused_connection = false;
  double start_s = 0;  //!< when it started, seconds from the run's start (for time series)

  bool ok() const { return error == ErrorKind::kNone; }
  //! True once a token arrived: a failure after that cut a stream the user was already reading.
  bool started_streaming() const { return !token_ms.empty(); }
  //! Gaps between consecutive text chunks.
  std::vector<double> InterTokenMs() const;
  //! Mean inter-token gap (time per output token after the first); -1 with fewer than 2 tokens.
  double MeanItlMs() const;
};

}  // namespace meridian::loadgen
