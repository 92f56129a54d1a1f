// GatewayMetrics registration.
#include "gateway/gateway_metrics.h"

namespace meridian::gateway {

GatewayMetrics::GatewayMetrics()
    : requests_(registry_.AddCounter("meridian_gateway_requests_total",
                                     "Requests answered, by region that served them and HTTP status",
                                     {"region", "status"})),
      retries_(registry_.AddCounter("meridian_gateway_retries_total",
                                    "Upstream attempts retried elsewhere (connect failure, 429, 503), by failed region",
                                    {"region"})),
      failovers_(registry_.AddCounter("meridian_gateway_failovers_total",
                                      "Requests served by a region other than their first choice")),
      ejections_(registry_.AddCounter("meridian_gateway_ejections_total",
                                      "Passive ejections of servers (consecutive connect failures or 5xx)",
                                      {"region"})),
      probe_failures_(registry_.AddCounter("meridian_gateway_probe_failures_total", "Failed health probes",
                                           {"region"})),
      upstream_latency_(registry_.AddHistogram("meridian_gateway_upstream_latency_seconds",
                                               "Request sent upstream to response head",
                                               metrics::ExponentialBuckets(0.0005, 2, 18), {"region"})),
      ttft_(registry_.AddHistogram("meridian_gateway_ttft_seconds",
                                   "Request received to first response body byte sent to the client",
                                   metrics::ExponentialBuckets(0.0005, 2, 18), {"region"})),
      server_healthy_(registry_.AddGauge("meridian_gateway_server_available",
                                         "1 if the server is healthy and not ejected", {"region", "server"})),
      server_outstanding_(registry_.AddGauge("meridian_gateway_server_outstanding",
                                             "Requests in flight through this gateway", {"region", "server"})),
      region_rtt_(registry_.AddGauge("meridian_gateway_region_rtt_ms",
                                     "Probed RTT to the region (EWMA, -1 before the first sample)", {"region"})) {}

void GatewayMetrics::Request(const std::string& region, int status) {
  requests_.WithLabels({region, std::to_string(status)}).Inc();
}

}  // namespace meridian::gateway
