// Gateway: `meridian gateway` as a library. Owns the current Topology snapshot (swapped whole on
// reload), the health checker, the proxy, the metrics and one HttpServer per listener. Routes:
// GET /gateway/regions, GET /metrics, GET /health, GET /ready; everything else is proxied.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "gateway/config.h"
#include "gateway/gateway_metrics.h"
#include "gateway/health_checker.h"
#include "gateway/proxy.h"
#include "gateway/topology.h"
#include "http/http_server.h"

namespace meridian::gateway {

//! Maps a [[listener]] onto the http server's options (TLS, HTTP/2 and TCP Fast Open included).
http::HttpServerOptions ListenerServerOptions(const ListenerConfig& listener, bool access_log);

//! Thread-safety: Start, Shutdown, Wait and InstallSignalHandlers from the owning thread; Apply,
//! ReloadFromFile, topology and RegionsJson from any thread.
class Gateway {
 public:
  //! Checks the config (GeoIP database, policy) without starting anything.
  static Result<std::unique_ptr<Gateway>> Create(GatewayConfig config);
  ~Gateway();

  //! Probes every server once (so routing starts informed), starts the probe loop and binds the
  //! listeners. Unavailable when a listener cannot bind.
  Status Start();
  //! The bound port of each listener, in config order.
  std::vector<uint16_t> ports() const;

  //! Replaces the routing config (regions, servers, location, policy, health, timeouts) without
  //! touching connections; server health and counters carry over by (region, address). Listener
  //! and upstream pool sizes need a restart (a warning says so).
  Status Apply(GatewayConfig config);
  //! Loads `path` and applies it; on error keeps the running config and returns why.
  Status ReloadFromFile(const std::string& path);

  //! SIGTERM/SIGINT: graceful shutdown with `grace`; SIGHUP: ReloadFromFile(config_path).
  Status InstallSignalHandlers(std::chrono::milliseconds grace, std::string config_path);
  void Shutdown(std::chrono::milliseconds grace);
  //! Blocks until every listener stopped, then stops the probes.
  void Wait();

  std::shared_ptr<const Topology> topology() const;
  //! The body of GET /gateway/regions.
  std::string RegionsJson() const;
  GatewayMetrics& metrics() { return *metrics_; }

 private:
  Gateway() = default;
  http::Router MakeRouter();
  void UpdateGauges();

  mutable std::mutex mu_;  //!< guards topology_
  std::shared_ptr<const Topology> topology_;
  std::unique_ptr<GatewayMetrics> metrics_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<Proxy> proxy_;
  std::vector<std::unique_ptr<http::HttpServer>> servers_;
  std::vector<ListenerConfig> listeners_;  //!< as started
  std::atomic<bool> stopping_{false};
  std::thread signal_thread_;
  std::shared_ptr<void> signal_io_;  //!< the SIGHUP io_context (type-erased to keep Asio out)
};

}  // namespace meridian::gateway
