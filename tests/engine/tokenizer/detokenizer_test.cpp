// Decode, IncrementalDetokenizer and IsValidUtf8: characters split across byte tokens are held
// until complete, invalid bytes become U+FFFD, the SentencePiece dummy-prefix space is stripped
// once, and streaming gives the same text as decoding all at once.
#include <gtest/gtest.h>

#include <random>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

// <unk> <s> </s>, 256 byte pieces (3..258), ▁, ▁Hello, ▁world, !
std::unique_ptr<Tokenizer> SpmTokenizer(bool add_space_prefix = true) {
  VocabData v;
  v.kind = TokenizerKind::kSentencePiece;
  v.tokens = {"<unk>", "<s>", "</s>"};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    v.tokens.push_back(name);
  }
  for (const char* t : {"\xE2\x96\x81", "\xE2\x96\x81Hello", "\xE2\x96\x81world", "!"}) v.tokens.push_back(t);
  v.unk_id = 0, v.bos_id = 1, v.eos_id = 2;
  v.add_space_prefix = add_space_prefix;
  auto tok = MakeTokenizer(std::move(v));  // no types: bytes and specials are inferred
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

constexpr int32_t kByte0 = 3;
constexpr int32_t kSpace = 259, kHello = 260, kWorld = 261, kBang = 262;

std::string Stream(const Tokenizer& tok, const std::vector<int32_t>& ids, std::vector<std::string>* parts,
                   bool strip = true) {
  IncrementalDetokenizer detok(tok, strip);
  std::string all;
  for (int32_t id : ids) {
    std::string piece = detok.Push(id);
    EXPECT_TRUE(IsValidUtf8(piece));
    if (parts) parts->push_back(piece);
    all += piece;
  }
  std::string rest = detok.Flush();
  if (parts) parts->push_back(rest);
  return all + rest;
}

TEST(Detokenizer, HoldsSplitCharactersUntilComplete) {
  auto tok = SpmTokenizer();
  ASSERT_NE(tok, nullptr);
  // "▁Hello" then "é" (C3 A9) and "😀" (F0 9F 98 80) as byte tokens.
  const std::vector<int32_t> ids = {1,
                                    kHello,
                                    kByte0 + 0xC3,
                                    kByte0 + 0xA9,
                                    kSpace,
                                    kByte0 + 0xF0,
                                    kByte0 + 0x9F,
                                    kByte0 + 0x98,
                                    kByte0 + 0x80,
                                    kBang};
  std::vector<std::string> parts;
  EXPECT_EQ(Stream(*tok, ids, &parts), "Hello\xC3\xA9 \xF0\x9F\x98\x80!");
  EXPECT_EQ(parts, (std::vector<std::string>{"", "Hello", "", "\xC3\xA9", " ", "", "", "", "\xF0\x9F\x98\x80",
                                             "!", ""}));
  EXPECT_EQ(tok->Decode(ids), "Hello\xC3\xA9 \xF0\x9F\x98\x80!");
}

TEST(Detokenizer, StripsTheDummyPrefixOnlyOnce) {
  auto tok = SpmTokenizer();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(Stream(*tok, {kHello, kWorld}, nullptr), "Hello world");
  EXPECT_EQ(Stream(*tok, {kHello, kWorld}, nullptr, /*strip=*/false), " Hello world");
  EXPECT_EQ(Stream(*tok, {kSpace, kSpace, kHello}, nullptr), "  Hello");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{kHello, kWorld}, /*strip_leading_space=*/false), " Hello world");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{kBang, kHello}), "! Hello");
  auto no_prefix = SpmTokenizer(/*add_space_prefix=*/false);
  ASSERT_NE(no_prefix, nullptr);
  EXPECT_EQ(Stream(*no_prefix, {kHello}, nullptr), " Hello");
  EXPECT_EQ(no_prefix->Decode(std::vector<int32_t>{kHello}), " Hello");
}

TEST(Detokenizer, InvalidBytesBecomeReplacementCharacters) {
  auto tok = SpmTokenizer();
  ASSERT_NE(tok, nullptr);
  const std::string fffd = "\xEF\xBF\xBD";
  // A lone continuation byte, then a lead byte interrupted by ASCII.
  EXPECT_EQ(Stream(*tok, {kByte0 + 0x80, kBang, kByte0 + 0xE2, kByte0 + 0x82, kBang}, nullptr),
            fffd + "!" + fffd + "!");
  // A truncated character at the end of generation.
  std::vector<std::string> parts;
  EXPECT_EQ(Stream(*tok, {kBang, kByte0 + 0xF0, kByte0 + 0x9F}, &parts), "!" + fffd);
  EXPECT_EQ(parts.back(), fffd);
  // Surrogates and overlongs are never let through.
  EXPECT_EQ(Stream(*tok, {kByte0 + 0xED, kByte0 + 0xA0, kByte0 + 0x80}, nullptr), fffd + fffd + fffd);
  EXPECT_EQ(Stream(*tok, {kByte0 + 0xC0, kByte0 + 0xAF}, nullptr), fffd + fffd);
  // Unknown ids decode to nothing.
  EXPECT_EQ(Stream(*tok, {-5, 100000, kBang}, nullptr), "!");
}

TEST(Detokenizer, StreamingEqualsDecodingForValidText) {
  // Byte-level vocabulary: the 256 byte tokens only, so every multi-byte character is split.
  VocabData v;
  v.kind = TokenizerKind::kBytePairBpe;
  v.add_bos = false;
  for (int b = 0; b < 256; ++b)
    v.tokens.emplace_back(tokenizer_internal::ByteToUtf8(static_cast<uint8_t>(b)));
  auto tok = MakeTokenizer(std::move(v));
  ASSERT_TRUE(tok.ok());
  std::mt19937 rng(5);
  for (int i = 0; i < 500; ++i) {
    const std::string s = tokenizer_test::RandomText(rng);
    auto ids = (**tok).Encode(s, false, false);
    ASSERT_TRUE(ids.ok());
    ASSERT_EQ(Stream(**tok, *ids, nullptr), s);
    ASSERT_EQ((**tok).Decode(*ids), s);
  }
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ASCII text that is longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_TRUE(IsValidUtf8(std::string(1, '\0')));
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("abcdefghij\xC3"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
}

}  // namespace
}  // namespace meridian::engine
