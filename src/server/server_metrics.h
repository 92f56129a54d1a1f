// The region server's Prometheus metrics (vLLM's names with a `meridian:` prefix) and the one
// JSON log line written per request. docs/server.md lists every metric.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "engine/scheduler/scheduler.h"

namespace meridian::server {

//! What is known about one request when it is answered; feeds the log line and the metrics.
struct RequestRecord {
  std::string request_id;
  std::string_view method;
  std::string_view path;
  std::string_view endpoint;  //!< "chat", "completions", "models", "tokenize", ...: a metrics label
  std::string remote;
  int status = 0;               //!< HTTP status sent; 499 when the client left before any
  std::string_view error_code;  //!< the ApiError code, if any (never the message: it may quote input)
  bool generation = false;      //!< a completion request that reached the engine
  bool stream = false;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  std::string_view finish_reason;  //!< "stop", "length", "abort", "timeout", "error"
  double queue_seconds = -1;       //!< < 0: unknown (not logged)
  double ttft_seconds = -1;
  double total_seconds = 0;
};

//! Thread-safety: all methods may be called from any thread (metric updates are atomics).
class ServerMetrics {
 public:
  explicit ServerMetrics(metrics::Registry& registry);

  //! Counts a finished request (status, finish reason, tokens, latency histograms).
  void RecordRequest(const RequestRecord& record);
  //! One token was generated `seconds` after the previous one of the same request.
  void ObserveInterTokenLatency(double seconds) { inter_token_latency_.Observe(seconds); }
  //! Copies the scheduler's load report into the gauges (called before each scrape).
  void UpdateLoad(const engine::LoadReport& load, bool model_loaded);

  metrics::Registry& registry() { return registry_; }

 private:
  metrics::Registry& registry_;
  metrics::CounterFamily& requests_;
  metrics::CounterFamily& finished_;
  metrics::Counter& prompt_tokens_;
  metrics::Counter& generation_tokens_;
  metrics::Histogram& time_to_first_token_;
  metrics::Histogram& inter_token_latency_;
  metrics::Histogram& e2e_latency_;
  metrics::Histogram& queue_time_;
  metrics::Histogram& request_prompt_tokens_;
  metrics::Histogram& request_generation_tokens_;
  metrics::Gauge& running_;
  metrics::Gauge& waiting_;
  metrics::Gauge& kv_usage_;
  metrics::Gauge& kv_blocks_free_;
  metrics::Gauge& kv_blocks_total_;
  metrics::Gauge& queue_wait_;
  metrics::Gauge& prefill_rate_;
  metrics::Gauge& decode_rate_;
  metrics::Gauge& model_loaded_;
};

//! Writes the request's JSON log line (info level; warn for 5xx). Never prompt text, completion
//! text, keys or the `user` field.
void LogRequest(const RequestRecord& record);

}  // namespace meridian::server
