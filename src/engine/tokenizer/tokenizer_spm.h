// SentencePiece-style BPE (LLaMA-2): spaces become U+2581, a dummy prefix space is added, and
// adjacent symbols are merged greedily by the score of the piece they form, with byte fallback.
// Internal to the tokenizer library; use MakeTokenizer.
#pragma once

#include <array>
#include <memory>

#include "engine/tokenizer/tokenizer_base.h"

namespace meridian::engine::tokenizer_internal {

class SpmTokenizer final : public IndexedTokenizer {
 public:
  //! `vocab` must have passed MakeTokenizer's validation.
  explicit SpmTokenizer(VocabData vocab);

 protected:
  Status EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const override;

 private:
  //! True for pieces that merges may form (as SentencePiece's pieces_: normal, user-defined,
  //! unused); byte, control and unknown pieces are never formed from text.
  bool Mergeable(int32_t id) const {
    const TokenType t = type(id);
    return t == TokenType::kNormal || t == TokenType::kUserDefined || t == TokenType::kUnused;
  }
  float Score(int32_t id) const {
    return vocab_.scores.empty() ? 0.0f : vocab_.scores[static_cast<size_t>(id)];
  }

  struct Scratch;  //!< per-Encode state shared by the segments of one text
  //! Merges and emits the escaped text [begin, end).
  void EncodeSegment(std::string_view text, size_t begin, size_t end, Scratch& s,
                     std::vector<int32_t>& out) const;

  std::array<int32_t, 256> byte_token_{};  //!< "<0xAB>" token of each byte, or -1
  //! True when no mergeable piece has a "▁" right after another character than "▁" (true of
  //! SentencePiece-trained vocabularies, which split at whitespace). Then no piece can span the
  //! place before such a "▁", and the text is merged word by word with the same result, which
  //! keeps the merge queue short.
  bool split_at_words_ = false;
};

}  // namespace meridian::engine::tokenizer_internal
