// Running one sequence to completion on a backend: chunked prefill, sampling, stop conditions and
// incremental detokenization. Used by `meridian generate` and `perplexity`; the server runs many
// sequences through the scheduler instead.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/backend/backend.h"
#include "engine/kv/kv_block_allocator.h"
#include "engine/model/model.h"
#include "engine/sampling/sampler.h"

namespace meridian::engine {

struct GenerateOptions {
  int32_t max_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop;  //!< stop strings (not included in the output)
  int32_t prefill_chunk = 512;    //!< prompt tokens per forward step
  bool add_bos = true;
};

struct GenerateResult {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;  //!< from the first sampled token to the last
  std::string finish_reason;    //!< "stop" (EOS or stop string) or "length"
  std::vector<int32_t> tokens;  //!< generated ids
};

//! Generates from `prompt`, calling `on_text` with each complete UTF-8 piece as it appears
//! (return false to stop early). The sequence's KV blocks are released before returning.
Result<GenerateResult> GenerateText(const Model& model, Backend& backend, KvBlockAllocator& blocks,
                                    std::string_view prompt, const GenerateOptions& options,
                                    const std::function<bool(std::string_view)>& on_text);

//! Same, from token ids (no tokenization); `on_token` sees each sampled id.
Result<GenerateResult> GenerateTokens(const Model& model, Backend& backend, KvBlockAllocator& blocks,
                                      std::span<const int32_t> prompt, const GenerateOptions& options,
                                      const std::function<bool(int32_t)>& on_token);

//! Runs `tokens` through the model in chunks starting at position 0 of a fresh sequence, with
//! logits for every position; calls on_logits(position, logits_row) for each. Releases the blocks.
Status ScoreTokens(const Model& model, Backend& backend, KvBlockAllocator& blocks, std::span<const int32_t> tokens,
                   int32_t chunk, const std::function<void(int32_t, std::span<const float>)>& on_logits);

}  // namespace meridian::engine
