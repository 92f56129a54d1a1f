// The server's metric names (vLLM's with a meridian: prefix) and what one request records.
#include "server/server_metrics.h"

#include <gtest/gtest.h>

namespace meridian::server {
namespace {

TEST(ServerMetrics, RecordsRequestsAndLoad) {
  metrics::Registry registry;
  ServerMetrics m(registry);
  RequestRecord rec;
  rec.endpoint = "chat";
  rec.status = 200;
  rec.generation = true;
  rec.prompt_tokens = 12;
  rec.completion_tokens = 5;
  rec.finish_reason = "length";
  rec.queue_seconds = 0.002;
  rec.ttft_seconds = 0.03;
  rec.total_seconds = 0.2;
  m.RecordRequest(rec);
  m.ObserveInterTokenLatency(0.004);
  RequestRecord rejected;
  rejected.endpoint = "completions";
  rejected.status = 429;
  m.RecordRequest(rejected);
  engine::LoadReport load;
  load.running = 3;
  load.waiting = 2;
  load.kv_blocks_total = 100;
  load.kv_blocks_free = 75;
  load.estimated_queue_wait_ms = 1500;
  m.UpdateLoad(load, true);

  const std::string text = registry.Expose();
  for (const char* line : {
           "meridian:requests_total{endpoint=\"chat\",status=\"200\"} 1\n",
           "meridian:requests_total{endpoint=\"completions\",status=\"429\"} 1\n",
           "meridian:request_success_total{finished_reason=\"length\"} 1\n",
           "meridian:prompt_tokens_total 12\n",
           "meridian:generation_tokens_total 5\n",
           "meridian:time_to_first_token_seconds_count 1\n",
           "meridian:time_to_first_token_seconds_bucket{le=\"0.04\"} 1\n",
           "meridian:time_to_first_token_seconds_bucket{le=\"0.02\"} 0\n",
           "meridian:inter_token_latency_seconds_count 1\n",
           "meridian:e2e_request_latency_seconds_count 1\n",
           "meridian:request_queue_time_seconds_count 1\n",
           "meridian:request_prompt_tokens_sum 12\n",
           "meridian:request_generation_tokens_sum 5\n",
           "meridian:num_requests_running 3\n",
           "meridian:num_requests_waiting 2\n",
           "meridian:kv_cache_usage_perc 0.25\n",
           "meridian:kv_cache_blocks_free 75\n",
           "meridian:estimated_queue_wait_seconds 1.5\n",
           "meridian:model_loaded 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_NE(text.find("# TYPE meridian:time_to_first_token_seconds histogram\n"), std::string::npos);
}

}  // namespace
}  // namespace meridian::server
