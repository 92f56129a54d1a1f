// UTF-8 scanning/encoding and code point classification (tables in unicode_tables.cpp).
#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {
namespace tokenizer_internal {
namespace {

bool IsWhitespace(uint32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return cp >= 0x2000 && cp <= 0x200A;
  }
}

CharClass SlowClassify(uint32_t cp) {
  if (IsWhitespace(cp)) return CharClass::kWhitespace;
  const CodepointRange* begin = kCodepointRanges;
  const CodepointRange* end = kCodepointRanges + kCodepointRangeCount;
  const CodepointRange* it =
      std::upper_bound(begin, end, cp, [](uint32_t c, const CodepointRange& r) { return c < r.first; });
  if (it == begin) return CharClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CharClass::kOther;
}

// Latin-1 is by far the most frequent input: classify it with one load.
const std::array<CharClass, 256> kLatin1Classes = [] {
  std::array<CharClass, 256> t{};
  for (uint32_t cp = 0; cp < 256; ++cp) t[cp] = SlowClassify(cp);
  return t;
}();

}  // namespace

CharClass ClassifyCodepoint(uint32_t cp) {
  if (cp < 256) return kLatin1Classes[cp];
  return SlowClassify(cp);
}

Utf8Prefix ScanUtf8(std::string_view text, size_t pos) {
  const auto b0 = static_cast<uint8_t>(text[pos]);
  const size_t needed = Utf8SequenceLength(b0);
  if (needed <= 1) return {needed, needed};
  // The second byte's range is narrower for some leads: no overlongs (E0, F0), no surrogates
  // (ED), nothing above U+10FFFF (F4).
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 == 0xE0) lo = 0xA0;
  if (b0 == 0xED) hi = 0x9F;
  if (b0 == 0xF0) lo = 0x90;
  if (b0 == 0xF4) hi = 0x8F;
  size_t valid = 1;
  for (size_t k = 1; k < needed && pos + k < text.size(); ++k) {
    const auto b = static_cast<uint8_t>(text[pos + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) break;
    ++valid;
  }
  return {valid, needed};
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace tokenizer_internal

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    // ASCII runs dominate real text: skip 8 bytes at a time while no high bit is set.
    while (pos + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + pos, 8);
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= n) break;
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const tokenizer_internal::Utf8Prefix p = tokenizer_internal::ScanUtf8(text, pos);
    if (p.valid == 0 || p.valid != p.needed) return false;
    pos += p.valid;
  }
  return true;
}

}  // namespace meridian::engine
