// Single-sequence generation and scoring over the Backend interface.
#include "engine/runtime/single_sequence.h"

#include <chrono>

#include "engine/sampling/stop_matcher.h"

namespace meridian::engine {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Releases a sequence's blocks on every exit path.
struct BlockTable {
  KvBlockAllocator& allocator;
  std::vector<int32_t> ids;
  ~BlockTable() { allocator.Release(ids); }
};

}  // namespace

Result<GenerateResult> GenerateTokens(const Model& model, Backend& backend, KvBlockAllocator& blocks,
                                      std::span<const int32_t> prompt, const GenerateOptions& options,
                                      const std::function<bool(int32_t)>& on_token) {
  const LlamaConfig& c = model.config();
  if (prompt.empty()) return InvalidArgument("the prompt has no tokens");
  if (options.max_tokens < 0) return InvalidArgument("max_tokens must not be negative");
  if (options.prefill_chunk <= 0) return InvalidArgument("prefill chunk must be positive");
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_tokens;
  if (static_cast<int64_t>(prompt.size()) >= c.context_length) {
    return OutOfRange("the prompt has " + std::to_string(prompt.size()) + " tokens; the context length is " +
                      std::to_string(c.context_length));
  }
  MERIDIAN_RETURN_IF_ERROR(options.sampling.Validate());

  GenerateResult result;
  result.prompt_tokens = static_cast<int32_t>(prompt.size());
  BlockTable table{blocks, {}};
  MERIDIAN_RETURN_IF_ERROR(blocks.Reserve(table.ids, std::min<int64_t>(total, c.context_length)));

  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  const double t0 = Now();
  int32_t n_past = 0;
  while (n_past < static_cast<int32_t>(prompt.size())) {
    const int32_t len = std::min<int32_t>(options.prefill_chunk, static_cast<int32_t>(prompt.size()) - n_past);
    SequenceStep step;
    step.tokens = prompt.subspan(static_cast<size_t>(n_past), static_cast<size_t>(len));
    step.n_past = n_past;
    step.kv_blocks = table.ids;
    step.logits = n_past + len == static_cast<int32_t>(prompt.size()) ? LogitsMode::kLast : LogitsMode::kNone;
    MERIDIAN_RETURN_IF_ERROR(backend.Forward({&step, 1}, logits.data()));
    n_past += len;
  }
  const double t1 = Now();
  result.prefill_seconds = t1 - t0;

  Sampler sampler(options.sampling, c.n_vocab);
  sampler.SetPrompt(prompt);
  result.finish_reason = "length";
  while (result.completion_tokens < options.max_tokens) {
    const int32_t token = sampler.Sample(logits);
    sampler.Accept(token);
    result.tokens.push_back(token);
    ++result.completion_tokens;
    if (model.tokenizer().IsEndOfGeneration(token)) {
      result.finish_reason = "stop";
      break;
    }
    if (!on_token(token)) {
      result.finish_reason = "stop";
      break;
    }
    if (result.completion_tokens == options.max_tokens) break;
    if (n_past + 1 >= c.context_length) break;  // context full: finish with "length"
    SequenceStep step;
    step.tokens = {&result.tokens.back(), 1};
    step.n_past = n_past;
    step.kv_blocks = table.ids;
    step.logits = LogitsMode::kLast;
    MERIDIAN_RETURN_IF_ERROR(backend.Forward({&step, 1}, logits.data()));
    ++n_past;
  }
  result.decode_seconds = Now() - t1;
  return result;
}

Result<GenerateResult> GenerateText(const Model& model, Backend& backend, KvBlockAllocator& blocks,
                                    std::string_view prompt, const GenerateOptions& options,
                                    const std::function<bool(std::string_view)>& on_text) {
  auto ids = model.tokenizer().Encode(prompt, options.add_bos, /*parse_special=*/false);
  if (!ids.ok()) return ids.status();
  IncrementalDetokenizer detok(model.tokenizer(), /*strip_leading_space=*/false);  // continues the prompt
  StopMatcher stops(options.stop);
  bool stopped_by_string = false;
  auto emit = [&](const std::string& piece) {
    auto out = stops.Push(piece);
    if (!out.text.empty() && !on_text(out.text)) return false;
    if (out.stopped) {
      stopped_by_string = true;
      return false;
    }
    return true;
  };
  auto result = GenerateTokens(model, backend, blocks, *ids, options,
                               [&](int32_t token) { return emit(detok.Push(token)); });
  if (!result.ok()) return result;
  if (!stopped_by_string) {
    auto out = stops.Push(detok.Flush());
    if (out.stopped) {
      result->finish_reason = "stop";
    } else {
      out.text += stops.Flush();
    }
    if (!out.text.empty()) on_text(out.text);
  }
  return result;
}

Status ScoreTokens(const Model& model, Backend& backend, KvBlockAllocator& blocks, std::span<const int32_t> tokens,
                   int32_t chunk, const std::function<void(int32_t, std::span<const float>)>& on_logits) {
  const LlamaConfig& c = model.config();
  if (tokens.empty()) return InvalidArgument("nothing to score");
  if (static_cast<int64_t>(tokens.size()) > c.context_length) {
    return OutOfRange("window of " + std::to_string(tokens.size()) + " tokens exceeds the context length " +
                      std::to_string(c.context_length));
  }
  BlockTable table{blocks, {}};
  MERIDIAN_RETURN_IF_ERROR(blocks.Reserve(table.ids, static_cast<int64_t>(tokens.size())));
  std::vector<float> logits;
  int32_t n_past = 0;
  while (n_past < static_cast<int32_t>(tokens.size())) {
    const int32_t len = std::min<int32_t>(chunk, static_cast<int32_t>(tokens.size()) - n_past);
    logits.resize(static_cast<size_t>(len) * static_cast<size_t>(c.n_vocab));
    SequenceStep step;
    step.tokens = tokens.subspan(static_cast<size_t>(n_past), static_cast<size_t>(len));
    step.n_past = n_past;
    step.kv_blocks = table.ids;
    step.logits = LogitsMode::kAll;
    MERIDIAN_RETURN_IF_ERROR(backend.Forward({&step, 1}, logits.data()));
    for (int32_t i = 0; i < len; ++i) {
      on_logits(n_past + i, std::span<const float>(logits.data() + static_cast<size_t>(i) * c.n_vocab,
                                                   static_cast<size_t>(c.n_vocab)));
    }
    n_past += len;
  }
  return Status::Ok();
}

}  // namespace meridian::engine
