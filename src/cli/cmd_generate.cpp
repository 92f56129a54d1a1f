// `meridian generate`: text from a prompt; the text alone on stdout, one timing line on stderr.
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "engine/backend/backend.h"
#include "engine/runtime/single_sequence.h"

namespace meridian::cli {

int RunGenerate(int argc, char** argv) {
  std::string model_path = DefaultModelPath();
  std::string prompt;
  std::string quantize;
  int32_t max_tokens = 128;
  int32_t threads = 0;
  int32_t tensor_parallel = 1;
  int64_t seed = 0;
  bool no_bos = false;
  engine::GenerateOptions options;
  FlagSet flags("meridian generate --prompt TEXT [flags]");
  flags.String("model", &model_path, "GGUF file or Hugging Face model directory");
  flags.String("prompt", &prompt, "prompt text");
  flags.Int32("max-tokens", &max_tokens, "maximum tokens to generate");
  flags.Float("temperature", &options.sampling.temperature, "sampling temperature (0: greedy)");
  flags.Int32("top-k", &options.sampling.top_k, "keep the k most likely tokens (0: off)");
  flags.Float("top-p", &options.sampling.top_p, "nucleus sampling mass (1: off)");
  flags.Float("min-p", &options.sampling.min_p, "drop tokens below min-p x the top probability (0: off)");
  flags.Float("repetition-penalty", &options.sampling.repetition_penalty, "repetition penalty (1: off)");
  flags.Float("presence-penalty", &options.sampling.presence_penalty, "presence penalty (0: off)");
  flags.Float("frequency-penalty", &options.sampling.frequency_penalty, "frequency penalty (0: off)");
  flags.StringList("stop", &options.stop, "stop string (repeatable)");
  flags.Int("seed", &seed, "random seed (same seed and input: same output)");
  flags.Int32("threads", &threads, "CPU threads (0: all cores)");
  flags.Int32("tensor-parallel", &tensor_parallel, "ranks splitting every layer (docs/tensor-parallel.md)");
  flags.String("quantize", &quantize, "quantize weights at load time (q8_0)");
  flags.Bool("no-bos", &no_bos, "do not prepend the BOS token");
  BackendFlags backend_flags;
  AddBackendFlags(flags, &backend_flags);
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;
  if (!flags.WasSet("prompt")) {
    std::fprintf(stderr, "meridian generate: --prompt is required\n");
    return 2;
  }
  if (max_tokens < 0) {
    std::fprintf(stderr, "meridian generate: --max-tokens must not be negative\n");
    return 2;
  }
  options.max_tokens = max_tokens;
  options.sampling.seed = static_cast<uint64_t>(seed);
  options.add_bos = !no_bos;
  if (auto s = options.sampling.Validate(); !s.ok()) {
    std::fprintf(stderr, "meridian generate: %s\n", s.message().c_str());
    return 2;
  }

  auto model = LoadModelOrExplain(model_path, quantize);
  if (!model) return 1;
  engine::BackendOptions bo;
  bo.n_threads = threads;
  bo.tensor_parallel = tensor_parallel;
  bo.kv_cache_tokens = model->config().context_length;
  if (!ApplyBackendFlags(backend_flags, &bo, "meridian generate")) return 2;
  auto backend = engine::MakeBackend(*model, bo);
  if (!backend.ok()) {
    std::fprintf(stderr, "meridian generate: %s\n", backend.status().message().c_str());
    return 1;
  }
  engine::KvBlockAllocator blocks((*backend)->kv_blocks_total(), (*backend)->kv_block_tokens());
  auto result = engine::GenerateText(*model, **backend, blocks, prompt, options, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  if (!result.ok()) {
    std::fprintf(stderr, "meridian generate: %s\n", result.status().message().c_str());
    return 1;
  }
  const auto& r = *result;
  std::fprintf(stderr, "prompt: %d tokens, %.1f tok/s | decode: %d tokens, %.1f tok/s | finish: %s\n",
               r.prompt_tokens, r.prefill_seconds > 0 ? r.prompt_tokens / r.prefill_seconds : 0.0,
               r.completion_tokens,
               r.decode_seconds > 0 && r.completion_tokens > 1 ? (r.completion_tokens - 1) / r.decode_seconds : 0.0,
               r.finish_reason.c_str());
  return 0;
}

}  // namespace meridian::cli
