// RegionServer: `meridian serve` as a library. Binds the HTTP listener first (so /health answers
// while the model loads), then loads the model and starts the engine; shuts down gracefully.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/status.h"
#include "http/http_server.h"
#include "server/server_context.h"
#include "server/server_options.h"
#include "server/serving_engine.h"

namespace meridian::server {

//! Thread-safety: Start, LoadModel and Wait are called by the owning thread in that order;
//! Shutdown and port may be called from any thread.
class RegionServer {
 public:
  explicit RegionServer(ServeOptions options);
  //! Stops the listener (no grace), then the engine.
  ~RegionServer();
  RegionServer(const RegionServer&) = delete;
  RegionServer& operator=(const RegionServer&) = delete;

  //! Reads the API key file and starts listening. API calls answer 503 until LoadModel is done.
  Status Start();
  //! The bound port (after Start).
  uint16_t port() const;
  //! Loads the model and starts the engine (blocks, seconds for large models).
  Status LoadModel();
  //! SIGTERM/SIGINT: graceful shutdown with the configured grace period.
  Status InstallSignalHandlers();
  //! Starts a graceful shutdown (returns at once).
  void Shutdown(std::chrono::milliseconds grace);
  //! Blocks until the HTTP server stopped, then stops the engine (unfinished requests cancelled).
  void Wait();

  ServerContext& context() { return *ctx_; }
  //! Null before LoadModel succeeded.
  const ServingEngine* engine() const { return engine_.get(); }
  const http::HttpServer* http() const { return http_.get(); }

 private:
  //! Stops the scheduler, delivers its last events, and frees the engine.
  void StopEngine();

  ServeOptions options_;
  // Destroyed in reverse order: the listener first, then the engine (whose last events still
  // reach the context), then the context.
  std::unique_ptr<ServerContext> ctx_;
  std::unique_ptr<ServingEngine> engine_;
  std::unique_ptr<http::HttpServer> http_;
};

}  // namespace meridian::server
