// Runner: drives a workload against one endpoint, closed loop (a fixed number of requests in
// flight) or open loop (Poisson arrivals at a rate), bounded by a request count and a duration,
// and collects the RequestRecords.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "loadgen/openai_call.h"
#include "loadgen/request_record.h"
#include "loadgen/workload.h"

namespace meridian::loadgen {

struct RunOptions {
  std::string base_url;  //!< "http://host:port" (a trailing "/v1" is accepted)
  CallOptions call;      //!< url is filled in from base_url and the workload
  Workload workload;
  int concurrency = 1;   //!< closed loop: requests in flight
  double rate = 0;       //!< > 0: open loop, Poisson arrivals per second (concurrency is then a cap)
  int64_t requests = 100;  //!< recorded requests to start at most (0: no count bound)
  double duration_s = 0;   //!< stop starting requests after this (0: no time bound)
  int64_t warmup = 0;      //!< requests run first and not recorded (they open the connections)
  double request_timeout_s = 120;  //!< first byte and idle timeout of each call
  uint64_t seed = 1;       //!< arrivals (open loop)
};

struct RunProgress {
  int64_t started = 0, finished = 0, failed = 0;
  int64_t target = 0;       //!< the count bound, 0 if none
  double elapsed_s = 0, duration_s = 0;
};

struct RunResult {
  std::vector<RequestRecord> records;  //!< in completion order, warm-up excluded
  double duration_s = 0;               //!< first recorded start to last recorded end
};

//! Runs to completion (every started request ends, bounded by its timeouts). `progress`, when
//! set, is called about every 200 ms on the calling thread. Fails on bad options only.
Result<RunResult> Run(const RunOptions& options, const std::function<void(const RunProgress&)>& progress = {});

}  // namespace meridian::loadgen
