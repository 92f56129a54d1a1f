// /ready load report parsing (nlohmann::json, never throws out).
#include "gateway/load_report.h"

#include <nlohmann/json.hpp>

namespace meridian::gateway {

Result<LoadReport> ParseLoadReport(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("the load report is not a JSON object");
  if (!j.contains("status") || !j["status"].is_string()) {
    return InvalidArgument("the load report has no \"status\" string");
  }
  LoadReport r;
  r.status = j["status"].get<std::string>();
  r.ready = j.contains("ready") && j["ready"].is_boolean() ? j["ready"].get<bool>() : r.status == "ready";
  auto integer = [&](const char* key, int64_t* out) {
    if (j.contains(key) && j[key].is_number()) *out = std::max<int64_t>(0, j[key].get<int64_t>());
  };
  auto number = [&](const char* key, double* out) {
    if (j.contains(key) && j[key].is_number()) {
      double v = j[key].get<double>();
      if (v >= 0 && v < 1e12) *out = v;
    }
  };
  integer("running", &r.running);
  integer("waiting", &r.waiting);
  integer("max_running", &r.max_running);
  integer("max_waiting", &r.max_waiting);
  integer("kv_blocks_free", &r.kv_blocks_free);
  integer("kv_blocks_total", &r.kv_blocks_total);
  number("estimated_queue_wait_ms", &r.estimated_queue_wait_ms);
  number("prefill_tokens_per_second", &r.prefill_tokens_per_second);
  number("decode_tokens_per_second", &r.decode_tokens_per_second);
  return r;
}

}  // namespace meridian::gateway
