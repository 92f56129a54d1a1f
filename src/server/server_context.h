// State shared by every handler of one region server (options, keys, metrics, the engine once
// loaded), the per-request facts kept for the log line, and helpers that answer and record.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "http/request.h"
#include "http/response_writer.h"
#include "server/api_keys.h"
#include "server/event_pump.h"
#include "server/openai_request.h"
#include "server/server_metrics.h"
#include "server/server_options.h"
#include "server/serving_engine.h"

namespace meridian::server {

//! Thread-safety: every member function may be called from any thread. The engine pointer is
//! published once (release/acquire) and stays valid until the HTTP server has stopped.
class ServerContext {
 public:
  ServerContext(ServeOptions options, ApiKeys keys);

  const ServeOptions& options() const { return options_; }
  const ApiKeys& keys() const { return keys_; }
  ServerMetrics& metrics() { return metrics_; }
  metrics::Registry& registry() { return registry_; }

  //! The engine, or nullptr while the model is loading.
  const ServingEngine* engine() const { return engine_.load(std::memory_order_acquire); }
  void SetEngine(const ServingEngine* engine) { engine_.store(engine, std::memory_order_release); }

  //! True once a graceful shutdown began (then /ready answers 503).
  bool draining() const { return draining_ ? draining_() : false; }
  void SetDrainingProbe(std::function<bool()> probe) { draining_ = std::move(probe); }

  //! A fresh seed for a request that sent none (so unseeded sampling differs between requests).
  uint64_t NextSeed();

  //! Where engine events are delivered to responses, off the engine thread.
  EventPump& pump() { return pump_; }

 private:
  ServeOptions options_;
  ApiKeys keys_;
  metrics::Registry registry_;
  ServerMetrics metrics_;
  std::atomic<const ServingEngine*> engine_{nullptr};
  std::function<bool()> draining_;
  std::atomic<uint64_t> seed_state_;
  EventPump pump_;  //!< last: destroyed (drained) first
};

//! The facts of one request kept until it is answered (the request itself is moved into work).
struct RequestInfo {
  std::string request_id;
  std::string method;
  std::string path;
  std::string remote;
  std::string endpoint;  //!< metrics label: "chat", "completions", "models", ...
  std::chrono::steady_clock::time_point received_at;

  static RequestInfo From(const http::Request& request, std::string endpoint);
  //! Seconds since the request arrived.
  double Elapsed() const;
  //! A record for the log line and metrics, with status and total time filled in.
  RequestRecord Record(int status) const;
};

//! Sends `body` with `status` (JSON unless headers say otherwise), logs and counts the request.
void Answer(ServerContext& ctx, const RequestInfo& info, http::ResponseWriter& writer, int status,
            std::string body, http::Headers headers = {});
//! Sends the OpenAI error body with its status, logs and counts the request.
void AnswerError(ServerContext& ctx, const RequestInfo& info, http::ResponseWriter& writer,
                 const ApiError& error, http::Headers headers = {});

//! Seconds a client should wait before retrying when the queue is full or the model loads.
int RetryAfterSeconds(const ServingEngine* engine);

}  // namespace meridian::server
