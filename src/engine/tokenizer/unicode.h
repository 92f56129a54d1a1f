// UTF-8 decoding/encoding and the Unicode character classes (\p{L}, \p{N}, \s) that the BPE
// pre-tokenizers need. Internal to the tokenizer library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::engine::tokenizer_internal {

enum class CharClass : uint8_t { kOther = 0, kLetter, kNumber, kWhitespace };

struct CodepointRange {
  uint32_t first;
  uint32_t last;
  CharClass cls;
};

extern const CodepointRange kCodepointRanges[];  //!< sorted, disjoint (unicode_tables.cpp)
extern const size_t kCodepointRangeCount;
extern const char kUnicodeTablesVersion[];  //!< the Unicode version the tables were made from

//! Letter, number, whitespace or other. Whitespace is the set llama.cpp and PCRE's \s use:
//! U+0009..000D, U+0020, U+0085, U+00A0, U+1680, U+2000..200A, U+2028, U+2029, U+202F,
//! U+205F, U+3000.
CharClass ClassifyCodepoint(uint32_t cp);

//! Length of the UTF-8 sequence announced by `lead`; 0 for a byte that cannot start one
//! (continuation bytes, 0xC0, 0xC1, 0xF5..0xFF).
inline size_t Utf8SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

//! How many bytes starting at `text[pos]` form a well-formed prefix of one UTF-8 sequence
//! (the "maximal subpart" of Unicode §3.9), and the full length that sequence needs.
//! `valid == needed` means a complete character; `valid == 0` means text[pos] cannot start one.
struct Utf8Prefix {
  size_t valid = 0;
  size_t needed = 0;
};
Utf8Prefix ScanUtf8(std::string_view text, size_t pos);

//! Decodes the code point at `text[pos]` of text known to be valid UTF-8 and advances `pos`.
inline uint32_t DecodeValidUtf8(std::string_view text, size_t& pos) {
  const auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) {
    pos += 1;
    return b0;
  }
  auto cont = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(text[pos + k]) & 0x3F); };
  uint32_t cp;
  if (b0 < 0xE0) {
    cp = ((b0 & 0x1Fu) << 6) | cont(1);
    pos += 2;
  } else if (b0 < 0xF0) {
    cp = ((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2);
    pos += 3;
  } else {
    cp = ((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    pos += 4;
  }
  return cp;
}

//! Appends the UTF-8 encoding of `cp` (which must be a scalar value) to `out`.
void AppendUtf8(uint32_t cp, std::string& out);

//! U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
inline constexpr std::string_view kSpmSpace = "\xE2\x96\x81";
//! U+FFFD REPLACEMENT CHARACTER.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

}  // namespace meridian::engine::tokenizer_internal
