// Summary: percentiles, throughput, goodput; the SLO parser.
#include "loadgen/summary.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

namespace meridian::loadgen {

bool Slo::Met(const RequestRecord& r) const {
  if (!r.ok()) return false;
  if (ttft_ms && !(r.ttft_ms >= 0 && r.ttft_ms <= *ttft_ms)) return false;
  if (itl_ms && r.MeanItlMs() > *itl_ms) return false;  // one token: no gap, nothing to miss
  if (e2e_ms && !(r.e2e_ms <= *e2e_ms)) return false;
  return true;
}

Result<Slo> ParseSlo(std::string_view text) {
  Slo slo;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    pos = comma + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("--slo: expected NAME=VALUE (e.g. ttft=500ms), got '" + std::string(item) + "'");
    }
    const std::string_view name = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    double scale = 1;
    if (value.ends_with("ms")) {
      value.remove_suffix(2);
    } else if (value.ends_with("s")) {
      value.remove_suffix(1);
      scale = 1000;
    }
    double number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || !(number > 0) || !std::isfinite(number)) {
      return InvalidArgument("--slo: '" + std::string(item) + "' needs a positive duration such as 500ms or 2s");
    }
    number *= scale;
    if (name == "ttft") {
      slo.ttft_ms = number;
    } else if (name == "itl" || name == "tpot") {
      slo.itl_ms = number;
    } else if (name == "e2e") {
      slo.e2e_ms = number;
    } else {
      return InvalidArgument("--slo: unknown objective '" + std::string(name) + "' (ttft, itl, e2e)");
    }
  }
  return slo;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

Distribution Distribution::Of(const std::vector<double>& values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  d.min = *std::min_element(values.begin(), values.end());
  d.max = *std::max_element(values.begin(), values.end());
  d.p50 = Percentile(values, 50);
  d.p90 = Percentile(values, 90);
  d.p95 = Percentile(values, 95);
  d.p99 = Percentile(values, 99);
  return d;
}

Summary Summary::Of(const std::vector<RequestRecord>& records, double duration_s, const Slo& slo) {
  Summary s;
  s.requests = records.size();
  s.duration_s = duration_s;
  s.slo = slo;
  std::vector<double> ttft, itl, tpot, e2e;
  for (const RequestRecord& r : records) {
    if (!r.ok()) {
      ++s.errors[ErrorKindName(r.error)];
      if (r.started_streaming()) {
        ++s.failed_while_streaming;
      } else {
        ++s.failed_before_streaming;
      }
      continue;
    }
    ++s.ok;
    s.output_tokens += static_cast<size_t>(std::max(0, r.output_tokens));
    if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
    e2e.push_back(r.e2e_ms);
    const auto gaps = r.InterTokenMs();
    itl.insert(itl.end(), gaps.begin(), gaps.end());
    if (r.MeanItlMs() >= 0) tpot.push_back(r.MeanItlMs());
    if (slo.Met(r)) ++s.goodput_requests;
  }
  s.ttft_ms = Distribution::Of(ttft);
  s.itl_ms = Distribution::Of(itl);
  s.tpot_ms = Distribution::Of(tpot);
  s.e2e_ms = Distribution::Of(e2e);
  if (duration_s > 0) {
    s.requests_per_s = static_cast<double>(s.ok) / duration_s;
    s.output_tokens_per_s = static_cast<double>(s.output_tokens) / duration_s;
    s.goodput_per_s = static_cast<double>(s.goodput_requests) / duration_s;
  }
  return s;
}

}  // namespace meridian::loadgen
