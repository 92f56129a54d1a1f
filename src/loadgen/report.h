// Report: a run's Summary as a table for people and as JSON for scripts (the lab reads it).
#pragma once

#include <string>

#include "loadgen/summary.h"

namespace meridian::loadgen {

//! What the run was, for the report's header and JSON.
struct RunLabel {
  std::string site;  //!< --site: where the users are (e.g. "singapore"); may be empty
  std::string url;
  std::string api;   //!< "chat" or "completions"
  bool stream = true;
  bool cold = false;
  std::string mode;  //!< "closed" or "open"
  int concurrency = 0;
  double rate = 0;
};

//! A fixed-width table: one line per metric with mean, p50, p90, p95, p99, max; then throughput,
//! errors by kind and goodput.
std::string FormatTable(const RunLabel& label, const Summary& summary);
//! One JSON object (see docs/lab.md for the fields).
std::string FormatJson(const RunLabel& label, const Summary& summary);

}  // namespace meridian::loadgen
