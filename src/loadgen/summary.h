// Summary: the statistics of a run (percentiles, throughput, errors by kind, goodput under SLOs)
// computed from its RequestRecords; and the --slo parser. Pure functions, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "loadgen/request_record.h"

namespace meridian::loadgen {

//! Service-level objectives; a request meets them when it succeeded and every set bound holds.
struct Slo {
  std::optional<double> ttft_ms;  //!< time to first token
  std::optional<double> itl_ms;   //!< the request's mean inter-token latency (TPOT, as vLLM's goodput)
  std::optional<double> e2e_ms;   //!< end-to-end latency
  bool empty() const { return !ttft_ms && !itl_ms && !e2e_ms; }
  bool Met(const RequestRecord& r) const;
};

//! Parses "ttft=500ms,itl=100ms,e2e=2s" (units ms or s; a bare number is ms). Empty text: no SLO.
Result<Slo> ParseSlo(std::string_view text);

//! The value at percentile `p` (0..100) of `values`, linearly interpolated between the closest
//! ranks (numpy's default); NaN for an empty input. `values` need not be sorted.
double Percentile(std::vector<double> values, double p);

struct Distribution {
  size_t count = 0;
  double mean = 0, min = 0, max = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0;  //!< ms; all 0 when count is 0
  static Distribution Of(const std::vector<double>& values);
};

struct Summary {
  size_t requests = 0;  //!< recorded (warm-up excluded)
  size_t ok = 0;
  std::map<std::string, size_t> errors;  //!< by ErrorKindName
  size_t failed_before_streaming = 0;    //!< failed without having received a token
  size_t failed_while_streaming = 0;     //!< failed after the first token (a cut stream)
  double duration_s = 0;                 //!< first start to last end
  double requests_per_s = 0;             //!< successful requests per second
  double output_tokens_per_s = 0;        //!< output tokens of successful requests per second
  size_t output_tokens = 0;
  Distribution ttft_ms;  //!< successful requests
  Distribution itl_ms;   //!< every inter-token gap of successful requests, pooled
  Distribution tpot_ms;  //!< per-request mean inter-token latency
  Distribution e2e_ms;   //!< successful requests
  Slo slo;
  size_t goodput_requests = 0;  //!< requests that met the SLO (all ok ones when no SLO is set)
  double goodput_per_s = 0;

  //! `duration_s` is the run's wall time (measured by the runner).
  static Summary Of(const std::vector<RequestRecord>& records, double duration_s, const Slo& slo);
};

}  // namespace meridian::loadgen
