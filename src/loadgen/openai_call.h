// OpenAiCall: one OpenAI request over the http library's client, timed: response head, each
// streamed token (SSE parsed with http::SseParser), the end; and its failure classified.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "http/http_client.h"
#include "loadgen/request_record.h"

namespace meridian::loadgen {

struct CallOptions {
  std::string url;      //!< full URL of the endpoint, e.g. http://127.0.0.1:8080/v1/chat/completions
  std::string api_key;  //!< sent as a bearer token when non-empty
  bool stream = true;   //!< the body asks for a stream (decides how the response is read)
  bool cold = false;    //!< "Connection: close": a new connection per request (pays its handshake)
};

//! Starts the call and returns at once; `done` runs exactly once, on one of the client's io
//! threads, with the record. The returned handle may be used to cancel.
std::shared_ptr<http::ClientCall> StartOpenAiCall(http::HttpClient& client, const CallOptions& options,
                                                  std::string body, std::function<void(RequestRecord)> done);

//! The error kind of a call that ended with `status` (not ok), given what had arrived. Exposed
//! for tests.
ErrorKind ClassifyTransportFailure(const Status& status, bool got_head, int http_status);
//! The error kind of a complete response with a non-2xx status; kNone for 2xx.
ErrorKind ClassifyHttpStatus(int http_status);

}  // namespace meridian::loadgen
