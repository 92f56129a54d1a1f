// Report: table and JSON formatting.
#include "loadgen/report.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace meridian::loadgen {

namespace {

std::string Line(const char* name, const Distribution& d) {
  char buf[200];
  if (d.count == 0) {
    std::snprintf(buf, sizeof buf, "  %-10s %8s\n", name, "-");
  } else {
    std::snprintf(buf, sizeof buf, "  %-10s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n", name, d.mean, d.p50, d.p90,
                  d.p95, d.p99, d.max);
  }
  return buf;
}

nlohmann::json ToJson(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"min", d.min}, {"p50", d.p50}, {"p90", d.p90},
          {"p95", d.p95},     {"p99", d.p99},   {"max", d.max}};
}

}  // namespace

std::string FormatTable(const RunLabel& label, const Summary& s) {
  std::string out;
  char buf[400];
  std::snprintf(buf, sizeof buf, "meridian bench%s%s: %s %s%s, %s loop, %s connections\n",
                label.site.empty() ? "" : " from ", label.site.c_str(), label.url.c_str(), label.api.c_str(),
                label.stream ? " (streamed)" : "", label.mode.c_str(), label.cold ? "cold" : "warm");
  out += buf;
  std::snprintf(buf, sizeof buf, "  %-10s %8s %8s %8s %8s %8s %8s\n", "ms", "mean", "p50", "p90", "p95", "p99", "max");
  out += buf;
  out += Line("ttft", s.ttft_ms);
  out += Line("itl", s.itl_ms);
  out += Line("tpot", s.tpot_ms);
  out += Line("e2e", s.e2e_ms);
  std::snprintf(buf, sizeof buf,
                "  requests %zu, ok %zu, failed %zu (before streaming %zu, while streaming %zu) in %.2f s\n",
                s.requests, s.ok, s.requests - s.ok, s.failed_before_streaming, s.failed_while_streaming,
                s.duration_s);
  out += buf;
  std::snprintf(buf, sizeof buf, "  throughput %.2f req/s, %.1f output tokens/s (%zu tokens)\n", s.requests_per_s,
                s.output_tokens_per_s, s.output_tokens);
  out += buf;
  if (!s.errors.empty()) {
    out += "  errors:";
    for (const auto& [kind, n] : s.errors) out += " " + kind + "=" + std::to_string(n);
    out += "\n";
  }
  if (!s.slo.empty()) {
    std::string slo;
    if (s.slo.ttft_ms) slo += " ttft<=" + std::to_string(static_cast<int>(*s.slo.ttft_ms)) + "ms";
    if (s.slo.itl_ms) slo += " itl<=" + std::to_string(static_cast<int>(*s.slo.itl_ms)) + "ms";
    if (s.slo.e2e_ms) slo += " e2e<=" + std::to_string(static_cast<int>(*s.slo.e2e_ms)) + "ms";
    std::snprintf(buf, sizeof buf, "  goodput (%s): %zu of %zu requests, %.2f req/s\n", slo.c_str() + 1,
                  s.goodput_requests, s.requests, s.goodput_per_s);
    out += buf;
  }
  return out;
}

std::string FormatJson(const RunLabel& label, const Summary& s) {
  nlohmann::json j;
  j["site"] = label.site;
  j["url"] = label.url;
  j["api"] = label.api;
  j["stream"] = label.stream;
  j["cold"] = label.cold;
  j["mode"] = label.mode;
  j["concurrency"] = label.concurrency;
  j["rate"] = label.rate;
  j["requests"] = s.requests;
  j["ok"] = s.ok;
  j["failed"] = s.requests - s.ok;
  j["failed_before_streaming"] = s.failed_before_streaming;
  j["failed_while_streaming"] = s.failed_while_streaming;
  j["errors"] = s.errors;
  j["duration_s"] = s.duration_s;
  j["requests_per_s"] = s.requests_per_s;
  j["output_tokens"] = s.output_tokens;
  j["output_tokens_per_s"] = s.output_tokens_per_s;
  j["ttft_ms"] = ToJson(s.ttft_ms);
  j["itl_ms"] = ToJson(s.itl_ms);
  j["tpot_ms"] = ToJson(s.tpot_ms);
  j["e2e_ms"] = ToJson(s.e2e_ms);
  nlohmann::json slo = nlohmann::json::object();
  if (s.slo.ttft_ms) slo["ttft_ms"] = *s.slo.ttft_ms;
  if (s.slo.itl_ms) slo["itl_ms"] = *s.slo.itl_ms;
  if (s.slo.e2e_ms) slo["e2e_ms"] = *s.slo.e2e_ms;
  j["slo"] = slo;
  j["goodput_requests"] = s.goodput_requests;
  j["goodput_per_s"] = s.goodput_per_s;
  return j.dump(2);
}

}  // namespace meridian::loadgen
