// Byte-level BPE pre-tokenizers: the GPT-2 and LLaMA-3 splitting regexes, implemented by hand
// over code points (no std::regex), so that BPE merges never cross a word boundary.
// Internal to the tokenizer library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::engine::tokenizer_internal {

enum class PreTokenizerStyle {
  //! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  //! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  //! \s*[\r\n]+|\s+(?!\S)|\s+   (D = max_digits: 3 for LLaMA-3, 1 for Qwen2)
  kLlama3,
};

struct PreTokenizer {
  PreTokenizerStyle style = PreTokenizerStyle::kGpt2;
  int max_digits = 3;          //!< kLlama3 only
  bool ignore_merges = false;  //!< a word that is itself a token is emitted whole (LLaMA-3)
};

//! The pre-tokenizer for a GGUF tokenizer.ggml.pre name; Unimplemented for names not supported.
Result<PreTokenizer> PreTokenizerForName(std::string_view pre);
//! The names PreTokenizerForName accepts, for error messages and docs.
std::string SupportedPreTokenizerNames();

//! A word as a byte range of the text.
struct WordSpan {
  uint32_t begin;
  uint32_t end;
};

//! Splits valid UTF-8 `text` into words (appended to `words`, in order, covering all of it).
//! `text` must be shorter than 4 GiB.
void SplitWords(const PreTokenizer& pre, std::string_view text, std::vector<WordSpan>& words);

}  // namespace meridian::engine::tokenizer_internal
