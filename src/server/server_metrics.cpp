// Registration and recording of the region server's metrics, and the per-request log line.
#include "server/server_metrics.h"

#include <vector>

#include "core/log.h"

namespace meridian::server {

namespace {
// vLLM's buckets, extended downwards: a CPU engine on a small model answers in milliseconds.
const std::vector<double> kTtftBuckets = {0.001, 0.0025, 0.005, 0.01, 0.02,  0.04, 0.06, 0.08,
                                          0.1,   0.25,   0.5,   0.75, 1.0,   2.5,  5.0,  7.5,
                                          10.0,  20.0,   40.0,  80.0, 160.0, 640.0};
const std::vector<double> kItlBuckets = {0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02,
                                         0.025, 0.05,   0.075, 0.1,    0.15, 0.2,   0.3,
                                         0.4,   0.5,    0.75,  1.0,    2.5,  5.0,   10.0};
const std::vector<double> kLatencyBuckets = {0.005, 0.01, 0.025, 0.05,  0.1,   0.3,  0.5,  0.8,
                                             1.0,   1.5,  2.0,   2.5,   5.0,   10.0, 15.0, 20.0,
                                             30.0,  60.0, 120.0, 240.0, 480.0, 960.0};
const std::vector<double> kTokenBuckets = {1,   2,    5,    10,   20,    50,    100,   200,
                                           500, 1000, 2000, 5000, 10000, 20000, 50000, 100000};
}  // namespace

ServerMetrics::ServerMetrics(metrics::Registry& r)
    : registry_(r),
      requests_(r.AddCounter("meridian:requests_total", "API requests answered, by endpoint and HTTP status.",
                             {"endpoint", "status"})),
      finished_(r.AddCounter("meridian:request_success_total",
                             "Generation requests finished, by reason (stop, length, abort, timeout, error).",
                             {"finished_reason"})),
      prompt_tokens_(r.AddCounter("meridian:prompt_tokens_total", "Prompt tokens processed.").Get()),
      generation_tokens_(r.AddCounter("meridian:generation_tokens_total", "Tokens generated.").Get()),
      time_to_first_token_(r.AddHistogram("meridian:time_to_first_token_seconds",
                                          "From the request's arrival to its first generated token.",
                                          kTtftBuckets)
                               .Get()),
      inter_token_latency_(r.AddHistogram("meridian:inter_token_latency_seconds",
                                          "Between consecutive generated tokens of a request.", kItlBuckets)
                               .Get()),
      e2e_latency_(r.AddHistogram("meridian:e2e_request_latency_seconds",
                                  "From the request's arrival to its last token.", kLatencyBuckets)
                       .Get()),
      queue_time_(r.AddHistogram("meridian:request_queue_time_seconds",
                                 "Time a request waited in the scheduler's queue.", kLatencyBuckets)
                      .Get()),
      request_prompt_tokens_(
          r.AddHistogram("meridian:request_prompt_tokens", "Prompt tokens per request.", kTokenBuckets)
              .Get()),
      request_generation_tokens_(
          r.AddHistogram("meridian:request_generation_tokens", "Generated tokens per request.", kTokenBuckets)
              .Get()),
      running_(r.AddGauge("meridian:num_requests_running", "Requests decoding or prefilling in the engine.")
                   .Get()),
      waiting_(
          r.AddGauge("meridian:num_requests_waiting", "Requests waiting in the scheduler's queue.").Get()),
      kv_usage_(
          r.AddGauge("meridian:kv_cache_usage_perc", "Fraction of KV cache blocks in use (0 to 1).").Get()),
      kv_blocks_free_(r.AddGauge("meridian:kv_cache_blocks_free", "KV cache blocks free.").Get()),
      kv_blocks_total_(r.AddGauge("meridian:kv_cache_blocks_total", "KV cache blocks in all.").Get()),
      queue_wait_(r.AddGauge("meridian:estimated_queue_wait_seconds",
                             "Estimated wait of a request arriving now before its prefill starts.")
                      .Get()),
      prefill_rate_(r.AddGauge("meridian:prefill_tokens_per_second", "Recent prefill throughput.").Get()),
      decode_rate_(r.AddGauge("meridian:decode_tokens_per_second", "Recent decode throughput.").Get()),
      model_loaded_(r.AddGauge("meridian:model_loaded", "1 once the model is loaded and serving.").Get()) {}

void ServerMetrics::RecordRequest(const RequestRecord& rec) {
  requests_.WithLabels({rec.endpoint, std::to_string(rec.status)}).Inc();
  if (!rec.generation) return;
  if (!rec.finish_reason.empty()) finished_.WithLabels({rec.finish_reason}).Inc();
  prompt_tokens_.Inc(rec.prompt_tokens);
  generation_tokens_.Inc(rec.completion_tokens);
  request_prompt_tokens_.Observe(rec.prompt_tokens);
  request_generation_tokens_.Observe(rec.completion_tokens);
  if (rec.ttft_seconds >= 0) time_to_first_token_.Observe(rec.ttft_seconds);
  if (rec.queue_seconds >= 0) queue_time_.Observe(rec.queue_seconds);
  e2e_latency_.Observe(rec.total_seconds);
}

void ServerMetrics::UpdateLoad(const engine::LoadReport& load, bool model_loaded) {
  running_.Set(load.running);
  waiting_.Set(load.waiting);
  kv_blocks_free_.Set(load.kv_blocks_free);
  kv_blocks_total_.Set(load.kv_blocks_total);
  kv_usage_.Set(load.kv_blocks_total > 0
                    ? static_cast<double>(load.kv_blocks_total - load.kv_blocks_free) / load.kv_blocks_total
                    : 0.0);
  queue_wait_.Set(load.estimated_queue_wait_ms / 1000.0);
  prefill_rate_.Set(load.prefill_tok_s);
  decode_rate_.Set(load.decode_tok_s);
  model_loaded_.Set(model_loaded ? 1 : 0);
}

void LogRequest(const RequestRecord& r) {
  auto ms = [](double s) { return static_cast<double>(static_cast<long long>(s * 1e4)) / 10.0; };
  const log::Level level = r.status >= 500 && r.status != 503 ? log::Level::kWarn : log::Level::kInfo;
  if (!r.generation) {
    log::Write(level, "request",
               {{"request_id", std::string_view(r.request_id)},
                {"method", r.method},
                {"path", r.path},
                {"status", static_cast<long long>(r.status)},
                {"error", r.error_code},
                {"remote", std::string_view(r.remote)},
                {"total_ms", ms(r.total_seconds)}});
    return;
  }
  log::Write(level, "request",
             {{"request_id", std::string_view(r.request_id)},
              {"method", r.method},
              {"path", r.path},
              {"status", static_cast<long long>(r.status)},
              {"error", r.error_code},
              {"remote", std::string_view(r.remote)},
              {"stream", r.stream},
              {"prompt_tokens", static_cast<long long>(r.prompt_tokens)},
              {"completion_tokens", static_cast<long long>(r.completion_tokens)},
              {"finish_reason", r.finish_reason},
              {"queue_ms", r.queue_seconds >= 0 ? ms(r.queue_seconds) : -1.0},
              {"ttft_ms", r.ttft_seconds >= 0 ? ms(r.ttft_seconds) : -1.0},
              {"total_ms", ms(r.total_seconds)}});
}

}  // namespace meridian::server
