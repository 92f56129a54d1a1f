// GPT-2's reversible byte <-> printable-character mapping (bytes_to_unicode), with which
// byte-level BPE vocabularies store their tokens. Internal to the tokenizer library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::engine::tokenizer_internal {

//! The code point that byte `b` is stored as: printable Latin-1 bytes ('!'..'~', '¡'..'¬',
//! '®'..'ÿ') stand for themselves, the other 68 bytes become U+0100.. in byte order.
uint32_t ByteToCodepoint(uint8_t b);
//! The UTF-8 of ByteToCodepoint(b).
std::string_view ByteToUtf8(uint8_t b);
//! The byte that code point `cp` stands for, or -1 if it is not in the mapping.
int CodepointToByte(uint32_t cp);

//! Maps raw bytes to their stored form.
void ByteLevelEncode(std::string_view raw, std::string& out);
//! Maps a stored token back to raw bytes; characters outside the mapping (and bytes that are not
//! UTF-8) are copied unchanged.
std::string ByteLevelDecode(std::string_view mapped);

}  // namespace meridian::engine::tokenizer_internal
