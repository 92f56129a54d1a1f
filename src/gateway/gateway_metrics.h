// The gateway's Prometheus metrics (GET /metrics): requests by region and status, retries,
// failovers, ejections, upstream latency and TTFT histograms, and per-server gauges.
#pragma once

#include <string>

#include "core/metrics.h"

namespace meridian::gateway {

//! Thread-safety: as metrics::Registry (everything from any thread).
class GatewayMetrics {
 public:
  GatewayMetrics();
  metrics::Registry& registry() { return registry_; }

  //! One finished request; `region` is "none" when no region took it.
  void Request(const std::string& region, int status);
  void Retry(const std::string& region) { retries_.WithLabels({region}).Inc(); }
  //! A request served by a region other than its first choice.
  void Failover() { failovers_.Get().Inc(); }
  void Ejection(const std::string& region) { ejections_.WithLabels({region}).Inc(); }
  void UpstreamLatency(const std::string& region, double seconds) {
    upstream_latency_.WithLabels({region}).Observe(seconds);
  }
  void Ttft(const std::string& region, double seconds) { ttft_.WithLabels({region}).Observe(seconds); }
  void ProbeFailure(const std::string& region) { probe_failures_.WithLabels({region}).Inc(); }

  metrics::GaugeFamily& server_healthy() { return server_healthy_; }
  metrics::GaugeFamily& server_outstanding() { return server_outstanding_; }
  metrics::GaugeFamily& region_rtt() { return region_rtt_; }

 private:
  metrics::Registry registry_;
  metrics::CounterFamily& requests_;
  metrics::CounterFamily& retries_;
  metrics::CounterFamily& failovers_;
  metrics::CounterFamily& ejections_;
  metrics::CounterFamily& probe_failures_;
  metrics::HistogramFamily& upstream_latency_;
  metrics::HistogramFamily& ttft_;
  metrics::GaugeFamily& server_healthy_;
  metrics::GaugeFamily& server_outstanding_;
  metrics::GaugeFamily& region_rtt_;
};

}  // namespace meridian::gateway
