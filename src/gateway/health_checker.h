// HealthChecker: active probes. Every interval it sends GET <health.path> to every server of the
// current topology (one probe in flight per server), parses the load report, applies the
// thresholds, and folds the request round trip of warm connections into the server's RTT EWMA.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/gateway_metrics.h"
#include "gateway/topology.h"
#include "http/http_client.h"

namespace meridian::gateway {

//! Thread-safety: Start, Stop and ProbeAllOnce from any one thread at a time; the probe callbacks
//! run on the checker's client threads.
class HealthChecker {
 public:
  using TopologySource = std::function<std::shared_ptr<const Topology>()>;
  HealthChecker(TopologySource topology, GatewayMetrics* metrics);
  ~HealthChecker();

  //! Starts the probe loop thread.
  void Start();
  //! Stops the loop and waits for it; probes in flight are cancelled.
  void Stop();
  //! Probes every server once and waits (up to the probe timeout + 1 s) for the answers.
  void ProbeAllOnce();

 private:
  void Loop();
  //! Starts probes; `pending` (if set) counts down as they finish.
  void ProbeAll(const std::shared_ptr<const Topology>& topology, std::shared_ptr<std::atomic<int>> pending);

  TopologySource topology_;
  GatewayMetrics* metrics_;
  std::unique_ptr<http::HttpClient> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace meridian::gateway
