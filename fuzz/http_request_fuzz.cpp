// libFuzzer target for the HTTP parsing paths that read untrusted bytes, without a network:
//  - mode 0/1 (most inputs): the server's RequestParser with small limits, fed in pieces the way a
//    connection feeds it (pipelined requests included). Every request it accepts is echoed through
//    the Router and a ResponseStream (its headers as response headers, its body as the body), and
//    the serialized response must parse back with ResponseParser to the expected status (200, or
//    405 for a wrong method on /echo) and body: no header injection, no framing mistakes.
//  - mode 2: the client's ResponseParser on the bytes as a response.
//  - mode 3: SseParser on the bytes as an event stream.
// The first input byte picks the mode (low 2 bits) and the piece size (the rest).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/log.h"
#include "http/request_parser.h"
#include "http/response_parser.h"
#include "http/response_stream.h"
#include "http/response_writer.h"
#include "http/router.h"
#include "http/sse.h"

namespace {

using namespace meridian::http;

void Check(bool ok) {
  if (!ok) std::abort();
}

class NullSink : public ResponseSink {
 public:
  void Wake() override {}
};

//! Echoes `request` through a router and checks that the wire bytes parse back.
void EchoAndVerify(Request request) {
  static const Router* router = [] {
    auto* r = new Router();
    r->Post("/echo", [](Request req, std::shared_ptr<ResponseWriter> w) {
      Headers out;
      for (const auto& [name, value] : req.headers) out.Add("X-Echo-" + name, value);
      w->Send(200, std::move(out), std::move(req.body));
    });
    r->SetFallback([](Request req, std::shared_ptr<ResponseWriter> w) {
      Headers out;
      for (const auto& [name, value] : req.headers) out.Add(name, value);
      w->Send(200, std::move(out), std::move(req.body));
    });
    return r;
  }();
  std::string expected_body = request.body;
  // /echo has only a POST route: any other method there must get 405 with an Allow header.
  bool expect_405 = request.path == "/echo" && request.method != "POST";
  ResponseContext context;
  context.head_request = request.method == "HEAD";
  context.version = request.version;
  context.keep_alive = request.keep_alive;
  context.request_id = "fuzz";
  auto sink = std::make_shared<NullSink>();
  auto stream = std::make_shared<ResponseStream>(context, sink);
  bool head = context.head_request;
  router->Dispatch(std::move(request), std::make_shared<ResponseWriter>(stream, "fuzz"));
  auto output = stream->TakeOutput();
  Check(!output.abort && output.last);
  std::string wire;
  for (const auto& chunk : output.chunks) wire += chunk;

  ResponseParser parser(1 << 20, head);
  std::string body;
  auto on_body = [&](std::string_view piece) { body.append(piece); };
  size_t used = parser.Feed(wire, on_body);
  Check(parser.state() == ResponseParser::State::kHeaderDone);
  used += parser.Feed(std::string_view(wire).substr(used), on_body);
  Check(parser.state() == ResponseParser::State::kComplete);
  Check(used == wire.size());
  if (expect_405) {
    Check(parser.status() == 405);
    Check(parser.headers().Get("allow") == std::string_view("POST"));
  } else {
    Check(parser.status() == 200);
    Check(head ? body.empty() : body == expected_body);
  }
  Check(parser.headers().Count("content-length") == 1);
  Check(parser.headers().Get("x-request-id") == std::string_view("fuzz"));
}

void FuzzRequests(std::string_view data, size_t piece) {
  RequestParser parser(RequestLimits{2048, 8192});
  std::string buffer;
  size_t offset = 0;
  for (int steps = 0; steps < 100000; ++steps) {
    size_t used = parser.Feed(buffer);
    Check(used <= buffer.size());
    buffer.erase(0, used);
    switch (parser.state()) {
      case RequestParser::State::kHeaderDone: continue;
      case RequestParser::State::kComplete: {
        Request request;
        parser.TakeRequest(&request);
        Check(!request.method.empty());
        Check(request.path == "*" || (!request.path.empty() && request.path[0] == '/'));
        Check(request.body.size() <= 8192);
        (void)request.QueryParam("a");
        EchoAndVerify(std::move(request));
        parser.Reset();
        continue;
      }
      case RequestParser::State::kError:
        Check(parser.error().status >= 400 && parser.error().status <= 505);
        Check(!parser.error().message.empty());
        return;
      case RequestParser::State::kNeedMore:
        // The connection buffers at most a header's worth of unparsed bytes plus one read.
        Check(buffer.size() <= 2048 + piece);
        if (offset >= data.size()) return;
        size_t n = std::min(piece, data.size() - offset);
        buffer.append(data.substr(offset, n));
        offset += n;
        continue;
    }
  }
}

void FuzzResponse(std::string_view data, size_t piece) {
  ResponseParser parser(4096, false);
  std::string buffer;
  size_t offset = 0;
  size_t body = 0;
  auto on_body = [&](std::string_view p) { body += p.size(); };
  for (int steps = 0; steps < 100000; ++steps) {
    size_t used = parser.Feed(buffer, on_body);
    Check(used <= buffer.size());
    buffer.erase(0, used);
    auto state = parser.state();
    if (state == ResponseParser::State::kHeaderDone) continue;
    if (state != ResponseParser::State::kNeedMore) break;
    if (offset >= data.size()) {
      parser.FeedEof();
      break;
    }
    size_t n = std::min(piece, data.size() - offset);
    buffer.append(data.substr(offset, n));
    offset += n;
  }
  Check(body <= data.size());
}

void FuzzSse(std::string_view data, size_t piece) {
  size_t events = 0;
  SseParser parser([&](const SseEvent& e) { events += 1 + e.data.size(); }, 1024);
  for (size_t offset = 0; offset < data.size(); offset += piece) {
    if (!parser.Feed(data.substr(offset, piece))) break;
  }
  // Formatting any data and parsing it back yields the same data.
  std::string payload(data.substr(0, 256));
  std::string formatted = FormatSseEvent(payload, "e");
  std::string got;
  int count = 0;
  SseParser round([&](const SseEvent& e) {
    got = e.data;
    ++count;
  });
  Check(round.Feed(formatted));
  Check(count == 1);
  std::string normalized;  // CRLF and CR become LF in SSE data
  for (size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] == '\r') {
      normalized.push_back('\n');
      if (i + 1 < payload.size() && payload[i + 1] == '\n') ++i;
    } else {
      normalized.push_back(payload[i]);
    }
  }
  Check(got == normalized);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {
    meridian::log::SetLevel(meridian::log::Level::kError);
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  unsigned mode = data[0] & 3u;
  size_t piece = 1 + (data[0] >> 2);  // 1..64 bytes per read
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 0:
    case 1: FuzzRequests(input, mode == 1 ? piece * 64 : piece); break;
    case 2: FuzzResponse(input, piece); break;
    case 3: FuzzSse(input, piece); break;
  }
  return 0;
}
