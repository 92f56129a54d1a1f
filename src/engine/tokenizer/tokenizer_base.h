// What the SentencePiece and byte-level BPE tokenizers share: the text -> id index, the rendered
// bytes of every token, special-token partitioning of the input, and the Encode skeleton
// (UTF-8 check, BOS/EOS, special tokens). Internal to the tokenizer library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/piece_index.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine::tokenizer_internal {

//! Inputs longer than this are refused (offsets are 32-bit).
inline constexpr size_t kMaxEncodeBytes = size_t{1} << 30;

//! A piece of the input: raw text [begin, end), or a special token when token >= 0.
struct Fragment {
  int32_t token = -1;
  uint32_t begin = 0;
  uint32_t end = 0;
};

class IndexedTokenizer : public Tokenizer {
 public:
  Result<std::vector<int32_t>> Encode(std::string_view text, bool add_bos, bool parse_special) const final;
  std::string TokenBytes(int32_t id, bool render_special = false) const final;
  int32_t FindToken(std::string_view piece) const final { return Find(piece); }

  //! Splits `text` at special tokens, as llama.cpp's tokenizer_st_partition does: longer special
  //! tokens first, each taking all its occurrences in what is still raw text. User-defined
  //! tokens are always matched, control and unknown tokens only when `parse_special`.
  void Partition(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 protected:
  //! `vocab` must have passed MakeTokenizer's validation.
  IndexedTokenizer(VocabData vocab, bool byte_level);

  //! Encodes one raw-text fragment; `after_special` is true at the start of the text and right
  //! after a special token.
  virtual Status EncodeText(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;

  int32_t Find(std::string_view text) const { return index_.Find(text); }
  TokenType type(int32_t id) const { return types_[static_cast<size_t>(id)]; }

 private:
  std::string_view Piece(int32_t id) const {
    return std::string_view(pieces_).substr(piece_offsets_[id], piece_offsets_[id + 1] - piece_offsets_[id]);
  }

  PieceIndex index_;                     //!< token text -> id
  std::vector<TokenType> types_;         //!< effective type of every token
  std::string pieces_;                   //!< rendered bytes of all tokens, concatenated
  std::vector<uint32_t> piece_offsets_;  //!< n_vocab + 1 offsets into pieces_
  std::vector<int32_t> specials_all_;    //!< control, unknown, user-defined; longest first
  std::vector<int32_t> specials_user_;   //!< user-defined only; longest first
};

//! Parses "<0xAB>" into 0xAB; -1 for any other text.
int ParseByteToken(std::string_view text);

}  // namespace meridian::engine::tokenizer_internal
