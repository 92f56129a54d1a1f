// Byte-level BPE (GPT-2, LLaMA-3): the text is split into words by the pre-tokenizer regex, each
// word's bytes start as symbols, and adjacent pairs merge in merge-rank order.
// Internal to the tokenizer library; use MakeTokenizer.
#pragma once

#include <array>
#include <string>
#include <unordered_map>

#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/tokenizer_base.h"

namespace meridian::engine::tokenizer_internal {

class BpeTokenizer final : public IndexedTokenizer {
 public:
  //! `vocab` must have passed MakeTokenizer's validation (merges contain a space, pre is known).
  BpeTokenizer(VocabData vocab, PreTokenizer pre);

 protected:
  Status EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  //!< symbol id of the merged text
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  //! Symbol ids: a token's id for text that is a token, ids from n_vocab up for merge texts that
  //! are not tokens (such symbols fall back to byte tokens at the end).
  int32_t Intern(std::string_view text);
  int32_t SymbolId(std::string_view text) const;
  struct Scratch;  //!< per-Encode buffers, reused across words
  Status EncodeWord(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const;
  Status EmitBytes(std::string_view bytes, std::vector<int32_t>& out) const;

  PreTokenizer pre_;
  std::unordered_map<std::string, int32_t> extra_symbols_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_symbol_{};  //!< symbol id of each byte's mapped character
  std::array<int32_t, 256> byte_token_{};   //!< token id of each byte's mapped character, or -1
};

}  // namespace meridian::engine::tokenizer_internal
