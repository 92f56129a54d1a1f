// The bridge between one completion request's engine events and its HTTP response: submits to the
// scheduler, turns events (on the engine thread) into SSE chunks or one JSON body, and cancels
// the sequence when the client goes away or reads too slowly.
//
// Threading: the scheduler's callback (engine thread) only posts the event to the server's
// EventPump; OnEvent then runs on the pump thread, one event at a time in order, and writes to the
// ResponseWriter, which never blocks (its queue is bounded by max_queued_bytes_per_response and a
// full queue counts as a gone client). The connection's io thread calls the close hook, which only
// posts a Cancel.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/scheduler/scheduler.h"
#include "http/response_writer.h"
#include "server/openai_response.h"
#include "server/server_context.h"

namespace meridian::server {

class GenerationCall : public std::enable_shared_from_this<GenerationCall> {
 public:
  struct Spec {
    bool chat = true;
    bool stream = false;
    bool include_usage = false;
  };

  //! Submits `request` (its on_event is set here) and answers through `writer`: at once with
  //! 429 + Retry-After (queue full), 400 (cannot fit) or 503 (shutting down); otherwise as the
  //! engine produces tokens. The call keeps itself alive until the final event.
  static void Start(ServerContext& ctx, const ServingEngine& engine, RequestInfo info,
                    std::shared_ptr<http::ResponseWriter> writer, Spec spec, ResponseFormatter formatter,
                    engine::GenerationRequest request);

 private:
  GenerationCall(ServerContext& ctx, const ServingEngine& engine, RequestInfo info,
                 std::shared_ptr<http::ResponseWriter> writer, Spec spec, ResponseFormatter formatter);

  //! Pump thread; `at` is when the engine produced the event (latency metrics use it).
  void OnEvent(const engine::GenerationEvent& ev, std::chrono::steady_clock::time_point at);
  void OnStreamEvent(const engine::GenerationEvent& ev);
  void OnFinal(const engine::GenerationEvent& ev);
  //! Sends the terminal error (a status if nothing was sent yet, else an SSE error event).
  void FailWith(const ApiError& error, int retry_after);
  //! Safe from any thread, before or after Submit returned.
  void RequestCancel();
  void Record(int status, const engine::GenerationEvent& ev, std::string_view finish,
              std::string_view error_code);

  ServerContext& ctx_;
  const ServingEngine& engine_;
  RequestInfo info_;
  std::shared_ptr<http::ResponseWriter> writer_;  //!< released after the final event
  Spec spec_;
  ResponseFormatter formatter_;

  std::atomic<uint64_t> id_{0};  //!< the scheduler's id once Submit returned
  std::atomic<bool> cancel_requested_{false};
  std::atomic<bool> client_gone_{false};
  std::atomic<bool> overflowed_{false};  //!< the pump's queue was full: events were dropped

  // Pump thread only (after Submit).
  bool started_ = false;  //!< the SSE stream began
  std::string text_;      //!< non-streamed: the completion so far
  int32_t tokens_seen_ = 0;
  double ttft_s_ = -1;
  std::chrono::steady_clock::time_point last_token_at_{};
};

//! The OpenAI finish_reason / metrics label of an engine finish reason: "stop", "length",
//! "abort" (cancelled), "timeout", "error".
std::string_view FinishLabel(engine::FinishReason reason);

}  // namespace meridian::server
