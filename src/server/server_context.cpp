// Shared handler state and the answer-and-record helpers.
#include "server/server_context.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace meridian::server {

ServerContext::ServerContext(ServeOptions options, ApiKeys keys)
    : options_(std::move(options)), keys_(std::move(keys)), metrics_(registry_) {
  std::random_device rd;
  seed_state_.store((static_cast<uint64_t>(rd()) << 32) ^ rd());
}

uint64_t ServerContext::NextSeed() {
  // SplitMix64 over an atomic counter: distinct, well-mixed seeds without a lock.
  uint64_t z =
      seed_state_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

RequestInfo RequestInfo::From(const http::Request& request, std::string endpoint) {
  RequestInfo info;
  info.request_id = request.request_id;
  info.method = request.method;
  info.path = request.path;
  info.remote = request.remote_address;
  info.endpoint = std::move(endpoint);
  info.received_at = request.received_at == std::chrono::steady_clock::time_point{}
                         ? std::chrono::steady_clock::now()
                         : request.received_at;
  return info;
}

double RequestInfo::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - received_at).count();
}

RequestRecord RequestInfo::Record(int status) const {
  RequestRecord r;
  r.request_id = request_id;
  r.method = method;
  r.path = path;
  r.endpoint = endpoint;
  r.remote = remote;
  r.status = status;
  r.total_seconds = Elapsed();
  return r;
}

void Answer(ServerContext& ctx, const RequestInfo& info, http::ResponseWriter& writer, int status,
            std::string body, http::Headers headers) {
  if (!headers.Has("content-type")) headers.Add("Content-Type", "application/json");
  // Recorded before the send, so that a client reading /metrics after its answer sees it counted.
  const RequestRecord rec = info.Record(status);
  ctx.metrics().RecordRequest(rec);
  LogRequest(rec);
  writer.Send(status, std::move(headers), std::move(body));
}

void AnswerError(ServerContext& ctx, const RequestInfo& info, http::ResponseWriter& writer,
                 const ApiError& error, http::Headers headers) {
  headers.Set("Content-Type", "application/json");
  RequestRecord rec = info.Record(error.status);
  rec.error_code = error.code.empty() ? std::string_view(error.type) : std::string_view(error.code);
  ctx.metrics().RecordRequest(rec);
  LogRequest(rec);
  writer.Send(error.status, std::move(headers), ApiErrorJson(error));
}

int RetryAfterSeconds(const ServingEngine* engine) {
  if (!engine) return 1;
  const double wait_s = engine->scheduler().Load().estimated_queue_wait_ms / 1000.0;
  return static_cast<int>(std::clamp(std::ceil(wait_s), 1.0, 60.0));
}

}  // namespace meridian::server
