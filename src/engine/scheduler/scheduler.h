// Continuous batching: one engine loop owns the backend and the KV block allocator; each step
// decodes one token for every running sequence and admits waiting prompts within a token budget,
// prefilling long prompts in chunks so running streams keep flowing.
//
// Thread-safety: Submit, Cancel, Load and Stop may be called from any thread. Events are delivered
// on the engine thread through the request's callback, which must not block (push into a queue).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "engine/backend/backend.h"
#include "engine/kv/kv_block_allocator.h"
#include "engine/model/model.h"
#include "engine/sampling/sampler.h"

namespace meridian::engine {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class FinishReason { kNone, kStop, kLength, kCancelled, kDeadline, kError };
const char* FinishReasonName(FinishReason reason);  //!< "stop", "length", "cancelled", ...

//! What the engine tells a request's owner. `text` is complete UTF-8 (stop strings withheld).
struct GenerationEvent {
  std::string text;
  int32_t token = -1;                       //!< the sampled id, -1 on the final event
  FinishReason finish = FinishReason::kNone;  //!< set on the last event only
  Status error;                              //!< why, when finish is kError
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double queue_seconds = 0.0;  //!< from Submit to admission
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int32_t max_tokens = 16;
  std::vector<std::string> stop;
  SteadyTime deadline = SteadyTime::max();
  //! Called on the engine thread for every event; the last one has finish != kNone.
  std::function<void(const GenerationEvent&)> on_event;
};

struct SchedulerOptions {
  int32_t max_running = 16;       //!< sequences decoding at once
  // Requests that may wait beyond the running slots free now; past it Submit refuses (429).
  // 0 accepts only what can start at once.
  int32_t max_waiting = 64;
  int32_t max_batch_tokens = 512; //!< tokens per forward step (decode tokens + prefill chunks)
};

//! The load report behind /ready and the gateway's routing.
struct LoadReport {
  int32_t running = 0;
  int32_t waiting = 0;
  int32_t kv_blocks_free = 0;
  int32_t kv_blocks_total = 0;
  double estimated_queue_wait_ms = 0.0;
  double prefill_tok_s = 0.0;  //!< recent, from steps with at least 64 prefill tokens (EWMA); 0 until one
  double decode_tok_s = 0.0;
  bool saturated = false;      //!< a request submitted now would be refused (queue full)
};

class Scheduler {
 public:
  Scheduler(const Model& model, Backend& backend, const SchedulerOptions& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  //! Starts the engine thread.
  void Start();
  //! Stops it: every unfinished request gets a kCancelled event.
  void Stop();

  //! Queues a request and returns its id. ResourceExhausted when the queue is full; InvalidArgument
  //! when the request can never fit (prompt + max_tokens over the context or the whole KV cache).
  Result<uint64_t> Submit(GenerationRequest request);
  //! Cancels a request (no-op if finished); its blocks are freed on the next step.
  void Cancel(uint64_t id);

  LoadReport Load() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence;
  void Loop();
  bool Step();  //!< one iteration; false when idle
  void Finish(Sequence& seq, FinishReason reason, Status error = {});
  void Admit();
  void EmitToken(Sequence& seq, int32_t token);
  bool QueueFull() const;  //!< whether one more request would wait past max_waiting; requires mu_

  const Model& model_;
  Backend& backend_;
  SchedulerOptions options_;
  KvBlockAllocator blocks_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  //!< guarded by mu_
  std::unordered_set<uint64_t> cancelled_;          //!< guarded by mu_
  bool stopping_ = false;                           //!< guarded by mu_
  uint64_t next_id_ = 1;                            //!< guarded by mu_
  int32_t running_count_ = 0;                       //!< guarded by mu_ (admitted, not yet erased)
  LoadReport load_;                                 //!< guarded by mu_ (published each step)

  std::vector<std::unique_ptr<Sequence>> running_;  //!< engine thread only
  std::vector<float> logits_;
  std::thread thread_;
  double ewma_prefill_tok_s_ = 0.0, ewma_decode_tok_s_ = 0.0, ewma_step_s_ = 0.0;
  double ewma_step_tok_s_ = 0.0;  //!< tokens per second of every step (fallback before a prefill sample)
  //! Steps with fewer prefill tokens do not update the reported prefill rate: their time is mostly
  //! the step's fixed cost, so a lightly loaded server (small steps) would report a rate several
  //! times lower than a busy one, and the gateway would route to the busy one.
  static constexpr int64_t kMinPrefillSampleTokens = 64;
};

}  // namespace meridian::engine
