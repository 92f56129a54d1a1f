// Checks one forward step's sequences against a backend's limits before any work is done:
// shared by every backend so that bad steps get the same clear error on CPU and GPU.
// Header-only: the CUDA backend library does not link the engine library it is part of.
#pragma once

#include <span>
#include <string>

#include "core/status.h"
#include "engine/backend/backend.h"

namespace meridian::engine {

//! OK when every sequence has tokens, a non-negative position, stays inside the context, has a KV
//! block table covering it with ids below `n_blocks`, and only token ids of the vocabulary.
inline Status ValidateSteps(std::span<const SequenceStep> steps, const LlamaConfig& config,
                            int64_t block_tokens, int64_t n_blocks) {
  if (steps.empty()) return InvalidArgument("forward step with no sequences");
  for (size_t s = 0; s < steps.size(); ++s) {
    const SequenceStep& st = steps[s];
    const std::string where = "sequence " + std::to_string(s) + ": ";
    if (st.tokens.empty()) return InvalidArgument(where + "no tokens");
    if (st.n_past < 0) return InvalidArgument(where + "negative n_past");
    const int64_t end = static_cast<int64_t>(st.n_past) + static_cast<int64_t>(st.tokens.size());
    if (end > config.context_length) {
      return OutOfRange(where + std::to_string(end) + " tokens exceed the context length " +
                        std::to_string(config.context_length));
    }
    if (static_cast<int64_t>(st.kv_blocks.size()) * block_tokens < end) {
      return InvalidArgument(where + "KV block table covers " +
                             std::to_string(static_cast<int64_t>(st.kv_blocks.size()) * block_tokens) +
                             " tokens, needs " + std::to_string(end));
    }
    for (int32_t b : st.kv_blocks) {
      if (b < 0 || b >= n_blocks) return InvalidArgument(where + "KV block id " + std::to_string(b) + " out of range");
    }
    for (int32_t t : st.tokens) {
      if (t < 0 || t >= config.n_vocab) return InvalidArgument(where + "token id " + std::to_string(t) + " out of range");
    }
  }
  return Status::Ok();
}

}  // namespace meridian::engine
