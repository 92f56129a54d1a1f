// The region server's load report (the JSON body of GET /ready, see src/server/info_handlers.cpp)
// as the gateway reads it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::gateway {

struct LoadReport {
  bool ready = false;
  std::string status;  //!< "ready", "saturated", "draining", "loading" (or what the server said)
  int64_t running = 0;
  int64_t waiting = 0;
  int64_t max_running = 0;
  int64_t max_waiting = 0;
  int64_t kv_blocks_free = 0;
  int64_t kv_blocks_total = 0;
  double estimated_queue_wait_ms = 0.0;
  double prefill_tokens_per_second = 0.0;
  double decode_tokens_per_second = 0.0;
};

//! Parses a /ready body. Missing numeric fields stay 0; a body that is not a JSON object or has no
//! "status" string is InvalidArgument (the probe then counts as failed).
Result<LoadReport> ParseLoadReport(std::string_view body);

}  // namespace meridian::gateway
