// Gateway: lifecycle, reload, admin routes.
#include "gateway/gateway.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <functional>

#include "core/log.h"
#include "gateway/routing_policy.h"

namespace meridian::gateway {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

}  // namespace

http::HttpServerOptions ListenerServerOptions(const ListenerConfig& l, bool access_log) {
  http::HttpServerOptions o;
  o.host = l.host;
  o.port = l.port;
  o.io_threads = l.io_threads;
  o.max_header_bytes = l.max_header_bytes;
  o.max_body_bytes = l.max_body_bytes;
  o.max_connections = l.max_connections;
  o.header_read_timeout = l.header_timeout;
  o.body_read_timeout = l.body_timeout;
  o.idle_timeout = l.idle_timeout;
  o.access_log = access_log;
  o.tls_cert_file = l.tls_cert;
  o.tls_key_file = l.tls_key;
  o.http2 = l.http2;
  o.tcp_fast_open_queue = l.tcp_fast_open ? 256 : 0;
  return o;
}

Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config) {
  auto gateway = std::unique_ptr<Gateway>(new Gateway());
  gateway->listeners_ = config.listeners;
  const UpstreamConfig upstream = config.upstream;
  MERIDIAN_ASSIGN_OR_RETURN(gateway->topology_, Topology::Build(std::move(config), nullptr));
  gateway->metrics_ = std::make_unique<GatewayMetrics>();
  Gateway* g = gateway.get();
  gateway->metrics_->registry().AddCollector([g] { g->UpdateGauges(); });
  gateway->health_ = std::make_unique<HealthChecker>([g] { return g->topology(); }, gateway->metrics_.get());
  gateway->proxy_ = std::make_unique<Proxy>([g] { return g->topology(); }, gateway->metrics_.get(), upstream);
  return gateway;
}

Gateway::~Gateway() {
  Shutdown(std::chrono::milliseconds(0));
  Wait();
}

std::shared_ptr<const Topology> Gateway::topology() const {
  std::lock_guard lock(mu_);
  return topology_;
}

http::Router Gateway::MakeRouter() {
  http::Router router;
  router.Get("/gateway/regions", [this](http::Request, std::shared_ptr<http::ResponseWriter> w) {
    w->Send(200, {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}}, RegionsJson());
  });
  router.Get("/metrics", [this](http::Request, std::shared_ptr<http::ResponseWriter> w) {
    w->Send(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, metrics_->registry().Expose());
  });
  router.Get("/health", [](http::Request, std::shared_ptr<http::ResponseWriter> w) {
    w->SendJson(200, "{\"status\":\"ok\"}");
  });
  router.Get("/ready", [this](http::Request, std::shared_ptr<http::ResponseWriter> w) {
    size_t available = topology()->AvailableServers(ServerState::Clock::now());
    std::string body = "{\"ready\":" + std::string(available ? "true" : "false") +
                       ",\"available_servers\":" + std::to_string(available) + "}";
    w->SendJson(available ? 200 : 503, std::move(body));
  });
  Proxy* proxy = proxy_.get();
  router.SetFallback([proxy](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
    proxy->Forward(std::move(r), std::move(w));
  });
  return router;
}

Status Gateway::Start() {
  if (!servers_.empty()) return InvalidArgument("the gateway was already started");
  health_->ProbeAllOnce();
  health_->Start();
  const bool access_log = topology()->config.access_log;
  for (const auto& listener : listeners_) {
    auto server = std::make_unique<http::HttpServer>(ListenerServerOptions(listener, access_log), MakeRouter());
    if (Status s = server->Start(); !s.ok()) {
      for (auto& started : servers_) started->Shutdown(std::chrono::milliseconds(0));
      for (auto& started : servers_) started->Wait();
      servers_.clear();
      health_->Stop();
      return s;
    }
    log::Info("gateway listening", {{"host", std::string_view(listener.host)},
                                    {"port", static_cast<long long>(server->port())},
                                    {"tls", !listener.tls_cert.empty()},
                                    {"http2", listener.http2}});
    servers_.push_back(std::move(server));
  }
  return Status::Ok();
}

std::vector<uint16_t> Gateway::ports() const {
  std::vector<uint16_t> out;
  for (const auto& s : servers_) out.push_back(s->port());
  return out;
}

Status Gateway::Apply(GatewayConfig config) {
  auto previous = topology();
  if (config.listeners.size() != listeners_.size()) {
    log::Warn("gateway reload: listener changes take effect only after a restart");
  } else {
    for (size_t i = 0; i < listeners_.size(); ++i) {
      const auto &a = listeners_[i], &b = config.listeners[i];
      if (a.host != b.host || a.port != b.port || a.tls_cert != b.tls_cert || a.tls_key != b.tls_key ||
          a.http2 != b.http2 || a.io_threads != b.io_threads) {
        log::Warn("gateway reload: listener changes take effect only after a restart");
        break;
      }
    }
  }
  if (config.upstream.io_threads != previous->config.upstream.io_threads ||
      config.upstream.max_idle_per_server != previous->config.upstream.max_idle_per_server) {
    log::Warn("gateway reload: upstream io_threads and max_idle_per_server take effect only after a restart");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto next, Topology::Build(std::move(config), previous.get()));
  {
    std::lock_guard lock(mu_);
    topology_ = next;
  }
  size_t servers = 0;
  for (const auto& r : next->regions) servers += r.servers.size();
  log::Info("gateway config applied", {{"source", std::string_view(next->config.source)},
                                       {"regions", static_cast<long long>(next->regions.size())},
                                       {"servers", static_cast<long long>(servers)},
                                       {"policy", next->policy->name()}});
  return Status::Ok();
}

Status Gateway::ReloadFromFile(const std::string& path) {
  auto config = LoadGatewayConfig(path);
  if (!config.ok()) {
    log::Error("gateway reload failed; keeping the running config", {{"error", std::string_view(config.status().message())}});
    return config.status();
  }
  Status s = Apply(std::move(config).value());
  if (!s.ok()) {
    log::Error("gateway reload failed; keeping the running config", {{"error", std::string_view(s.message())}});
  }
  return s;
}

Status Gateway::InstallSignalHandlers(std::chrono::milliseconds grace, std::string config_path) {
  if (servers_.empty()) return InvalidArgument("Start the gateway before installing signal handlers");
  for (auto& s : servers_) MERIDIAN_RETURN_IF_ERROR(s->InstallSignalHandlers(grace));
  auto io = std::make_shared<boost::asio::io_context>();
  auto signals = std::make_shared<boost::asio::signal_set>(*io, SIGHUP);
  auto wait = std::make_shared<std::function<void()>>();
  *wait = [this, signals, config_path, weak = std::weak_ptr<std::function<void()>>(wait)] {
    signals->async_wait([this, config_path, weak](const boost::system::error_code& ec, int) {
      if (ec) return;
      log::Info("gateway got SIGHUP; reloading", {{"config", std::string_view(config_path)}});
      (void)ReloadFromFile(config_path);
      if (auto again = weak.lock()) (*again)();
    });
  };
  (*wait)();
  signal_io_ = io;
  signal_thread_ = std::thread([io, signals, wait] {
    auto guard = boost::asio::make_work_guard(*io);
    io->run();
  });
  return Status::Ok();
}

void Gateway::Shutdown(std::chrono::milliseconds grace) {
  stopping_ = true;
  for (auto& s : servers_) s->Shutdown(grace);
}

void Gateway::Wait() {
  for (auto& s : servers_) s->Wait();
  if (signal_io_) static_cast<boost::asio::io_context*>(signal_io_.get())->stop();
  if (signal_thread_.joinable()) signal_thread_.join();
  signal_io_.reset();
  if (health_) health_->Stop();
}

void Gateway::UpdateGauges() {
  auto topology = this->topology();
  auto now = ServerState::Clock::now();
  for (const auto& r : topology->regions) {
    metrics_->region_rtt().WithLabels({r.config.name}).Set(r.MeasuredRttMs(now));
    for (const auto& s : r.servers) {
      metrics_->server_healthy().WithLabels({r.config.name, s.state->address()}).Set(s.state->Available(now) ? 1 : 0);
      metrics_->server_outstanding()
          .WithLabels({r.config.name, s.state->address()})
          .Set(static_cast<double>(s.state->outstanding.load()));
    }
  }
}

std::string Gateway::RegionsJson() const {
  auto topology = this->topology();
  auto now = ServerState::Clock::now();
  // Scores as a client at the gateway's own site with an empty body would see them.
  ClientLocation site;
  site.location = topology->config.location.default_location;
  site.region = topology->config.location.default_region;
  site.source = "default";
  auto scored = topology->Score(site, 0, now);
  std::string out = "{\"policy\":";
  log::AppendJsonString(out, topology->policy->name());
  out += ",\"regions\":[";
  bool first = true;
  for (const auto& r : topology->regions) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    log::AppendJsonString(out, r.config.name);
    out += ",\"lat\":" + Num(r.config.location.lat) + ",\"lon\":" + Num(r.config.location.lon);
    double measured = r.MeasuredRttMs(now);
    out += ",\"measured_rtt_ms\":" + (measured < 0 ? std::string("null") : Num(measured));
    const RegionCandidate* c = nullptr;
    for (const auto& s : scored) {
      if (s.region == &r) c = &s;
    }
    out += ",\"available\":";
    out += c ? "true" : "false";
    if (c) {
      out += ",\"rtt_ms\":" + Num(c->rtt_ms) + ",\"rtt_source\":\"" + c->rtt_source + "\"";
      out += ",\"queue_wait_ms\":" + Num(c->queue_wait_ms) + ",\"expected_ttft_ms\":" + Num(c->expected_ttft_ms);
    }
    out += ",\"servers\":[";
    for (size_t i = 0; i < r.servers.size(); ++i) {
      if (i) out += ',';
      std::string s = r.servers[i].state->DescribeJson(now);
      s.insert(s.size() - 1, ",\"capacity\":" + Num(r.servers[i].capacity));
      out += s;
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace meridian::gateway
