// RequestRecord helpers and error-kind names.
#include "loadgen/request_record.h"

namespace meridian::loadgen {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNone: return "ok";
    case ErrorKind::kConnectRefused: return "connect_refused";
    case ErrorKind::kConnectError: return "connect_error";
    case ErrorKind::kConnectionClosed: return "connection_closed";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kHttp429: return "http_429";
    case ErrorKind::kHttp4xx: return "http_4xx";
    case ErrorKind::kHttp5xx: return "http_5xx";
    case ErrorKind::kMidStreamClose: return "mid_stream_close";
    case ErrorKind::kStreamError: return "stream_error";
    case ErrorKind::kBadResponse: return "bad_response";
    case ErrorKind::kOther: return "other";
  }
  return "other";
}

std::vector<double> RequestRecord::InterTokenMs() const {
  std::vector<double> gaps;
  for (size_t i = 1; i < token_ms.size(); ++i) gaps.push_back(token_ms[i] - token_ms[i - 1]);
  return gaps;
}

double RequestRecord::MeanItlMs() const {
  if (token_ms.size() < 2) return -1;
  return (token_ms.back() - token_ms.front()) / static_cast<double>(token_ms.size() - 1);
}

}  // namespace meridian::loadgen
