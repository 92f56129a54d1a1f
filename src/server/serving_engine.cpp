// Model loading and engine start-up for the region server.
#include "server/serving_engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/log.h"
#include "engine/dtype/dtype.h"

namespace meridian::server {

std::string ModelIdFromPath(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  std::string name = p.filename().string();
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) name.resize(name.size() - 5);
  return name.empty() ? "model" : name;
}

int32_t DefaultEngineThreads() {
  const int32_t cores = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  return cores >= 8 ? cores - 2 : cores;
}

Result<std::unique_ptr<ServingEngine>> ServingEngine::Load(const ServeOptions& options) {
  MERIDIAN_RETURN_IF_ERROR(options.Validate());

  engine::LoadOptions load_options;
  if (!options.quantize.empty()) {
    auto dtype = engine::DTypeFromName(options.quantize);
    if (!dtype || *dtype != engine::DType::kQ8_0) {
      return InvalidArgument("--quantize: unsupported type '" + options.quantize + "' (supported: q8_0)");
    }
    load_options.quantize = dtype;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<ServingEngine> e(new ServingEngine());
  auto model = engine::Model::Load(options.model_path, load_options);
  if (!model.ok()) return model.status().WithContext("cannot load model " + options.model_path);
  e->model_ = std::move(*model);
  const engine::LlamaConfig& config = e->model_->config();

  engine::BackendOptions bo;
  bo.n_threads = options.threads > 0 ? options.threads : DefaultEngineThreads();
  bo.tensor_parallel = options.tensor_parallel;
  bo.kv_block_tokens = options.kv_block_tokens;
  bo.kv_cache_tokens = options.kv_cache_tokens > 0
                           ? options.kv_cache_tokens
                           : static_cast<int64_t>(options.parallel) * config.context_length;
  bo.kind = options.backend == "cuda" ? engine::BackendKind::kCuda : engine::BackendKind::kCpu;
  bo.gpu_memory_fraction = options.gpu_memory_fraction;
  auto backend = engine::MakeBackend(*e->model_, bo);
  if (!backend.ok()) return backend.status().WithContext("cannot start the " + options.backend + " backend");
  e->backend_ = std::move(*backend);

  auto prompts = PromptBuilder::Create(e->model_->tokenizer(), options.chat_template);
  if (!prompts.ok()) return prompts.status();
  e->prompts_ = std::make_unique<PromptBuilder>(std::move(*prompts));

  e->limits_.context_length = config.context_length;
  e->limits_.n_vocab = e->model_->tokenizer().n_vocab();
  e->model_id_ = options.model_name.empty() ? ModelIdFromPath(options.model_path) : options.model_name;
  e->default_max_tokens_ = options.default_max_tokens;
  size_t longest_piece = 1;
  for (const std::string& piece : e->model_->tokenizer().vocab().tokens)
    longest_piece = std::max(longest_piece, piece.size());
  e->max_prompt_bytes_ = static_cast<size_t>(config.context_length) * longest_piece;
  e->created_ =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();

  engine::SchedulerOptions so;
  so.max_running = options.parallel;
  so.max_waiting = options.queue;
  so.max_batch_tokens = options.max_batch_tokens;
  e->scheduler_ = std::make_unique<engine::Scheduler>(*e->model_, *e->backend_, so);
  e->scheduler_->Start();

  const engine::LoadReport load = e->scheduler_->Load();
  log::Info("model loaded",
            {{"model", std::string_view(e->model_id_)},
             {"path", std::string_view(options.model_path)},
             {"dtype", engine::DTypeName(e->model_->main_dtype())},
             {"context_length", static_cast<long long>(config.context_length)},
             {"n_vocab", static_cast<long long>(e->limits_.n_vocab)},
             {"backend", e->backend_->name()},
             {"threads", static_cast<long long>(bo.n_threads)},
             {"kv_blocks", static_cast<long long>(load.kv_blocks_total)},
             {"kv_block_tokens", static_cast<long long>(e->backend_->kv_block_tokens())},
             {"kv_mib", static_cast<double>(e->backend_->kv_bytes()) / (1 << 20)},
             {"chat_template", std::string_view(e->prompts_->template_source())},
             {"load_ms",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()}});
  return e;
}

ServingEngine::~ServingEngine() {
  if (scheduler_) scheduler_->Stop();
}

}  // namespace meridian::server
