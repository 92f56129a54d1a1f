// GPT-2 bytes_to_unicode, as tables built once at start-up.
#include "engine/tokenizer/byte_level.h"

#include <array>

#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_internal {
namespace {

struct ByteTables {
  std::array<uint32_t, 256> to_cp{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_cp{};  // every mapped code point is below U+0144
};

const ByteTables& Tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.from_cp.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? b : next++;
      t.to_cp[b] = cp;
      AppendUtf8(cp, t.to_utf8[b]);
      t.from_cp[cp] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

uint32_t ByteToCodepoint(uint8_t b) {
  return Tables().to_cp[b];
}

std::string_view ByteToUtf8(uint8_t b) {
  return Tables().to_utf8[b];
}

int CodepointToByte(uint32_t cp) {
  return cp < 512 ? Tables().from_cp[cp] : -1;
}

void ByteLevelEncode(std::string_view raw, std::string& out) {
  const ByteTables& t = Tables();
  for (char c : raw) out += t.to_utf8[static_cast<uint8_t>(c)];
}

std::string ByteLevelDecode(std::string_view mapped) {
  std::string out;
  out.reserve(mapped.size());
  size_t pos = 0;
  while (pos < mapped.size()) {
    const size_t start = pos;
    const Utf8Prefix scan = ScanUtf8(mapped, pos);
    if (scan.valid == 0 || scan.valid != scan.needed) {  // not UTF-8: keep the byte as it is
      out.push_back(mapped[pos++]);
      continue;
    }
    const uint32_t cp = DecodeValidUtf8(mapped, pos);
    const int b = CodepointToByte(cp);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(mapped.substr(start, pos - start));
    }
  }
  return out;
}

}  // namespace meridian::engine::tokenizer_internal
