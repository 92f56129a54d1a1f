// RegionServer start-up, model loading and shutdown.
#include "server/region_server.h"

#include "core/log.h"
#include "server/api_handlers.h"
#include "server/gpu_metrics.h"

namespace meridian::server {

RegionServer::RegionServer(ServeOptions options) : options_(std::move(options)) {}

RegionServer::~RegionServer() {
  if (http_) {
    http_->Shutdown(std::chrono::milliseconds(0));
    http_->Wait();
    http_.reset();
  }
  StopEngine();
}

void RegionServer::StopEngine() {
  if (!engine_) return;
  ctx_->SetEngine(nullptr);
  // The last events (kCancelled for whatever was unfinished) go through the pump, and the calls
  // that handle them refer to the engine: deliver them before it goes away.
  engine_->scheduler().Stop();
  ctx_->pump().Drain();
  engine_.reset();
}

Status RegionServer::Start() {
  if (http_) return InvalidArgument("the server was already started");
  ApiKeys keys;
  if (!options_.api_key_file.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(keys, ApiKeys::LoadFile(options_.api_key_file));
  }
  const bool auth = keys.enabled();
  ctx_ = std::make_unique<ServerContext>(options_, std::move(keys));
  ServerContext* ctx = ctx_.get();
  ctx->registry().AddCollector([ctx] {
    const ServingEngine* engine = ctx->engine();
    ctx->metrics().UpdateLoad(engine ? engine->scheduler().Load() : engine::LoadReport{}, engine != nullptr);
  });
  if (options_.backend == "cuda") EnableGpuMetrics(ctx->registry());  // NVML gauges, when the driver has it

  http::Router router;
  RegisterApiRoutes(router, *ctx);
  http::HttpServerOptions http_options = options_.http;
  http_options.access_log = options_.access_log;
  http_ = std::make_unique<http::HttpServer>(http_options, std::move(router));
  http::HttpServer* server = http_.get();
  ctx->SetDrainingProbe([server] { return server->draining(); });
  if (Status s = http_->Start(); !s.ok()) {
    http_.reset();
    return s;
  }
  log::Info("listening", {{"host", std::string_view(options_.http.host)},
                          {"port", static_cast<long long>(http_->port())},
                          {"api_keys", auth}});
  return Status::Ok();
}

uint16_t RegionServer::port() const {
  return http_ ? http_->port() : 0;
}

Status RegionServer::LoadModel() {
  if (!ctx_) return InvalidArgument("Start the server before loading the model");
  if (engine_) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(engine_, ServingEngine::Load(options_));
  ctx_->SetEngine(engine_.get());
  return Status::Ok();
}

Status RegionServer::InstallSignalHandlers() {
  if (!http_) return InvalidArgument("Start the server before installing signal handlers");
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(options_.shutdown_grace_s * 1000));
  return http_->InstallSignalHandlers(grace);
}

void RegionServer::Shutdown(std::chrono::milliseconds grace) {
  if (http_) http_->Shutdown(grace);
}

void RegionServer::Wait() {
  if (http_) http_->Wait();
  StopEngine();
  log::Info("stopped", {});
}

}  // namespace meridian::server
