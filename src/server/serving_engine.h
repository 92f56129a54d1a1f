// The loaded model as the API handlers see it: model, CPU backend, scheduler (its engine thread
// running), chat template, request limits and the served model id.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/scheduler/scheduler.h"
#include "server/openai_request.h"
#include "server/prompt_builder.h"
#include "server/server_options.h"

namespace meridian::server {

//! Thread-safety: immutable after Load except the scheduler, whose Submit/Cancel/Load are
//! thread-safe. Destruction stops the engine thread (unfinished requests get kCancelled events).
class ServingEngine {
 public:
  //! Loads the model and starts the scheduler. InvalidArgument / NotFound / DataLoss with the
  //! loader's message when the model or an option is unusable.
  static Result<std::unique_ptr<ServingEngine>> Load(const ServeOptions& options);
  ~ServingEngine();

  const engine::Model& model() const { return *model_; }
  engine::Scheduler& scheduler() const { return *scheduler_; }
  const PromptBuilder& prompts() const { return *prompts_; }
  const RequestLimits& limits() const { return limits_; }
  const std::string& model_id() const { return model_id_; }
  int32_t context_length() const { return model_->config().context_length; }
  //! max_tokens for a request that set none.
  int32_t default_max_tokens() const { return default_max_tokens_; }
  //! Unix seconds when the model was loaded (the `created` of /v1/models).
  int64_t created() const { return created_; }
  //! Prompt text longer than this cannot fit the context whatever it says (the context length
  //! times the longest vocabulary piece): rejected without tokenizing it.
  size_t max_prompt_bytes() const { return max_prompt_bytes_; }

 private:
  ServingEngine() = default;
  std::unique_ptr<engine::Model> model_;
  std::unique_ptr<engine::Backend> backend_;
  std::unique_ptr<engine::Scheduler> scheduler_;
  std::unique_ptr<PromptBuilder> prompts_;
  RequestLimits limits_;
  std::string model_id_;
  int32_t default_max_tokens_ = 0;
  int64_t created_ = 0;
  size_t max_prompt_bytes_ = 0;
};

//! The served id for a model path: the file name without ".gguf" (a directory's own name).
std::string ModelIdFromPath(const std::string& path);

//! Engine threads for `--threads 0`: every core, less two on machines of 8 or more cores, which
//! the io threads and the event pump need. The engine's thread pool waits for its slowest
//! thread, so a worker preempted by a socket thread stalls the whole step: on 16 cores, leaving
//! two free made streamed throughput at 64 streams 12% higher (docs/server.md).
int32_t DefaultEngineThreads();

}  // namespace meridian::server
