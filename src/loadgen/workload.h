// Workload: what `meridian bench` sends. The API (chat or completions, streamed or not), prompt
// and output lengths (fixed, uniform, or prompts from a file), and the request bodies built from
// them, deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::loadgen {

//! A length: fixed (min == max) or uniform in [min, max].
struct LengthRange {
  int min = 0;
  int max = 0;
  int Draw(std::mt19937_64& rng) const;
};

//! Parses "64" (fixed) or "32:128" (uniform, inclusive); `what` names the flag in errors.
Result<LengthRange> ParseLengthRange(std::string_view text, std::string_view what, int limit);

enum class Api { kChat, kCompletions };

struct Workload {
  Api api = Api::kChat;
  bool stream = true;
  std::string model;  //!< sent as "model" when non-empty
  LengthRange prompt_words{32, 32};  //!< prompt length in words (about one token each, see docs/lab.md)
  LengthRange output_tokens{32, 32};  //!< max_tokens
  std::vector<std::string> prompts;   //!< from --prompts-file; when set, used in turn instead of words
  double temperature = 0.0;
  bool ignore_eos = true;  //!< sent for servers that honour it (vLLM), so outputs reach max_tokens
  uint64_t seed = 1;

  //! The path under the base URL: "/v1/chat/completions" or "/v1/completions".
  std::string Path() const;
  //! The JSON body of request number `index` (deterministic in seed and index).
  std::string Body(uint64_t index) const;
};

//! Reads prompts, one per non-empty line (a JSON string literal per line is unquoted).
Result<std::vector<std::string>> LoadPrompts(const std::string& path);

}  // namespace meridian::loadgen
