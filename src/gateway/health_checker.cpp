// HealthChecker: the probe loop.
#include "gateway/health_checker.h"

#include "core/log.h"

namespace meridian::gateway {

HealthChecker::HealthChecker(TopologySource topology, GatewayMetrics* metrics)
    : topology_(std::move(topology)), metrics_(metrics) {
  http::HttpClientOptions options;
  options.io_threads = 1;
  options.max_idle_per_host = 2;
  options.pool_idle_timeout = std::chrono::milliseconds(20'000);
  client_ = std::make_unique<http::HttpClient>(options);
}

HealthChecker::~HealthChecker() {
  Stop();
}

void HealthChecker::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void HealthChecker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  client_.reset();  // cancels probes in flight and joins the client's thread
}

void HealthChecker::Loop() {
  while (true) {
    auto topology = topology_();
    auto interval = topology->config.health.interval;
    ProbeAll(topology, nullptr);
    topology.reset();
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, interval, [this] { return stop_; })) return;
  }
}

void HealthChecker::ProbeAllOnce() {
  auto topology = topology_();
  auto pending = std::make_shared<std::atomic<int>>(0);
  ProbeAll(topology, pending);
  auto deadline = std::chrono::steady_clock::now() + topology->config.health.timeout + std::chrono::seconds(1);
  while (pending->load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void HealthChecker::ProbeAll(const std::shared_ptr<const Topology>& topology,
                             std::shared_ptr<std::atomic<int>> pending) {
  if (!client_) return;
  const HealthConfig health = topology->config.health;
  for (const auto& region : topology->regions) {
    for (const auto& server : region.servers) {
      std::shared_ptr<ServerState> state = server.state;
      if (state->probe_in_flight.exchange(true)) continue;
      if (pending) pending->fetch_add(1);
      http::ClientRequest request;
      request.method = "GET";
      request.url = "http://" + state->address() + health.path;
      request.connect_timeout = health.timeout;
      request.first_byte_timeout = health.timeout;
      request.read_idle_timeout = health.timeout;
      struct Probe {
        int status = 0;
        bool reused = false;
        double latency_ms = 0;
        std::string body;
      };
      auto probe = std::make_shared<Probe>();
      http::ClientCallbacks cb;
      cb.on_headers = [probe](const http::ClientResponse& head) {
        probe->status = head.status;
        probe->reused = head.reused_connection;
        probe->latency_ms = head.head_latency.count() / 1000.0;
      };
      cb.on_body = [probe](std::string_view piece) {
        if (probe->body.size() + piece.size() > 64 * 1024) return false;
        probe->body.append(piece);
        return true;
      };
      GatewayMetrics* metrics = metrics_;
      const double alpha = topology->config.rtt.ewma_alpha;
      cb.on_complete = [state, probe, health, metrics, pending, alpha](const Status& status) {
        std::string failure;
        if (!status.ok()) {
          failure = status.message();
        } else {
          auto report = ParseLoadReport(probe->body);
          if (!report.ok()) {
            failure = "HTTP " + std::to_string(probe->status) + ": " + report.status().message();
          } else if (report->status != "ready" && report->status != "saturated") {
            failure = "the server reports '" + report->status + "'";
          } else {
            if (probe->reused) state->rtt.Add(probe->latency_ms, alpha);
            if (state->OnProbeSuccess(*report, health)) {
              log::Info("gateway server is healthy", {{"region", std::string_view(state->region())},
                                                      {"server", std::string_view(state->address())}});
            }
          }
        }
        if (!failure.empty()) {
          metrics->ProbeFailure(state->region());
          if (state->OnProbeFailure(failure, health)) {
            log::Warn("gateway server is unhealthy", {{"region", std::string_view(state->region())},
                                                      {"server", std::string_view(state->address())},
                                                      {"reason", std::string_view(failure)}});
          }
        }
        state->probe_in_flight.store(false);
        if (pending) pending->fetch_sub(1);
      };
      client_->Start(std::move(request), std::move(cb));
    }
  }
}

}  // namespace meridian::gateway
