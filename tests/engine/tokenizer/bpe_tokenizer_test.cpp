// Byte-level BPE: merge order by rank, ignore_merges, byte fallback of non-token merges, special
// tokens, and the round-trip property Decode(Encode(s)) == s over many random UTF-8 strings.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

using tokenizer_internal::ByteToUtf8;

// Writes text the way a byte-level vocabulary stores it ("Ġ" for a space, ...).
std::string Mapped(std::string_view raw) {
  std::string out;
  tokenizer_internal::ByteLevelEncode(raw, out);
  return out;
}

// 256 byte tokens, then the results of `merges` (raw text, "a b" split at the first space
// after the first character), then extra tokens and two special tokens.
VocabData SmallBpeVocab(const std::string& pre,
                        const std::vector<std::pair<std::string, std::string>>& merges,
                        const std::vector<std::string>& extra_tokens = {}) {
  VocabData v;
  v.kind = TokenizerKind::kBytePairBpe;
  v.pre = pre;
  v.add_bos = false;
  v.add_space_prefix = false;
  for (int b = 0; b < 256; ++b) v.tokens.emplace_back(ByteToUtf8(static_cast<uint8_t>(b)));
  for (const auto& [a, b] : merges) {
    v.merges.push_back(Mapped(a) + " " + Mapped(b));
    v.tokens.push_back(Mapped(a + b));
  }
  for (const std::string& t : extra_tokens) v.tokens.push_back(Mapped(t));
  v.token_types.assign(v.tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  v.tokens.push_back("<|endoftext|>");
  v.token_types.push_back(static_cast<int32_t>(TokenType::kControl));
  v.eos_id = static_cast<int32_t>(v.tokens.size() - 1);
  v.tokens.push_back("<|user|>");
  v.token_types.push_back(static_cast<int32_t>(TokenType::kUserDefined));
  return v;
}

const std::vector<std::pair<std::string, std::string>> kMerges = {
    {" ", "t"},    {"h", "e"}, {" t", "he"}, {"a", "a"}, {"e", "r"},  {"he", "r"},
    {" the", "r"}, {"i", "n"}, {" ", "in"},  {"1", "2"}, {"12", "3"},
};

std::unique_ptr<Tokenizer> Make(VocabData v) {
  auto tok = MakeTokenizer(std::move(v));
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

std::vector<std::string> Pieces(const Tokenizer& tok, std::string_view text, bool parse_special = false) {
  auto ids = tok.Encode(text, false, parse_special);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  std::vector<std::string> out;
  if (!ids.ok()) return out;
  for (int32_t id : *ids) out.push_back(tok.TokenBytes(id, /*render_special=*/true));
  return out;
}

using Strings = std::vector<std::string>;

TEST(BpeTokenizer, MergesInRankOrder) {
  auto tok = Make(SmallBpeVocab("gpt2", kMerges));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(Pieces(*tok, " the"), (Strings{" the"}));
  EXPECT_EQ(Pieces(*tok, "the"), (Strings{"t", "he"}));  // no "t he" merge
  // "her": "h e" (rank 1) beats "e r" (rank 4), then "he r".
  EXPECT_EQ(Pieces(*tok, "her"), (Strings{"her"}));
  EXPECT_EQ(Pieces(*tok, " ther"), (Strings{" ther"}));
  // Equal ranks: the leftmost pair first.
  EXPECT_EQ(Pieces(*tok, "aaa"), (Strings{"aa", "a"}));
  EXPECT_EQ(Pieces(*tok, " in the inn"), (Strings{" in", " the", " in", "n"}));
  // GPT-2 keeps digit runs whole; the merges then apply inside them.
  EXPECT_EQ(Pieces(*tok, "12345"), (Strings{"123", "4", "5"}));
}

TEST(BpeTokenizer, Llama3PreTokenizerAndIgnoreMerges) {
  // " hello" is a token no merge reaches: LLaMA-3 takes whole-word tokens as they are.
  auto llama = Make(SmallBpeVocab("llama-bpe", kMerges, {" hello"}));
  auto smaug = Make(SmallBpeVocab("smaug-bpe", kMerges, {" hello"}));
  ASSERT_NE(llama, nullptr);
  ASSERT_NE(smaug, nullptr);
  EXPECT_EQ(Pieces(*llama, " hello"), (Strings{" hello"}));
  EXPECT_EQ(Pieces(*smaug, " hello"), (Strings{" ", "he", "l", "l", "o"}));
  // Digits go in groups of at most three.
  EXPECT_EQ(Pieces(*llama, "1234567"), (Strings{"123", "4", "5", "6", "7"}));
  EXPECT_EQ(Pieces(*llama, "I'M"), (Strings{"I", "'", "M"}));
}

TEST(BpeTokenizer, MergeResultsThatAreNotTokensFallBackToBytes) {
  VocabData v = SmallBpeVocab("gpt2", kMerges);
  v.merges.insert(v.merges.begin(), Mapped("x") + " " + Mapped("y"));  // rank 0, "xy" is no token
  v.merges.push_back(Mapped("xy") + " " + Mapped("z"));
  v.tokens.push_back(Mapped("xyz"));
  v.token_types.push_back(static_cast<int32_t>(TokenType::kNormal));
  auto tok = Make(std::move(v));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(Pieces(*tok, "xy"), (Strings{"x", "y"}));
  EXPECT_EQ(Pieces(*tok, "xyz"), (Strings{"xyz"}));
}

TEST(BpeTokenizer, SpecialTokens) {
  auto tok = Make(SmallBpeVocab("llama-bpe", kMerges));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(Pieces(*tok, "in<|endoftext|> the", true), (Strings{"in", "<|endoftext|>", " the"}));
  const Strings literal = Pieces(*tok, "<|endoftext|>", false);
  EXPECT_GT(literal.size(), 1u);
  EXPECT_EQ(Pieces(*tok, "a<|user|>b", false), (Strings{"a", "<|user|>", "b"}));
  auto ids = tok->Encode("x<|endoftext|>", false, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(tok->IsEndOfGeneration(ids->back()));
  EXPECT_EQ(tok->Decode(*ids), "x");
  EXPECT_EQ(tok->TokenBytes(tok->FindToken(Mapped(" "))), " ");
  EXPECT_EQ(tok->TokenBytes(tok->FindToken(Mapped("\n"))), "\n");
}

TEST(BpeTokenizer, MissingByteTokens) {
  VocabData v = SmallBpeVocab("gpt2", {});
  v.tokens[0xC3] = "unused-c3";  // byte 0xC3 can no longer be encoded
  {
    auto tok = Make(v);
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(tok->Encode("\xC3\xA9", false, false).status().code(), StatusCode::kInvalidArgument);
  }
  v.unk_id = 0x41;
  auto tok = Make(v);
  ASSERT_NE(tok, nullptr);
  auto ids = tok->Encode("\xC3\xA9", false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{0x41, 0xA9}));
}

TEST(TokenizerRoundTrip, DecodeOfEncodeIsIdentityForRandomUtf8) {
  std::vector<std::unique_ptr<Tokenizer>> tokenizers;
  for (const char* pre : {"gpt2", "llama-bpe", "qwen2"}) {
    tokenizers.push_back(Make(SmallBpeVocab(pre, kMerges, {" hello", "\n\n", "  "})));
  }
  std::mt19937 rng(20240601);
  for (int i = 0; i < 1000; ++i) {
    const std::string s = tokenizer_test::RandomText(rng);
    ASSERT_TRUE(IsValidUtf8(s));
    for (const auto& tok : tokenizers) {
      ASSERT_NE(tok, nullptr);
      for (bool parse_special : {false, true}) {
        auto ids = tok->Encode(s, /*add_bos=*/false, parse_special);
        ASSERT_TRUE(ids.ok()) << ids.status().ToString();
        for (int32_t id : *ids) ASSERT_TRUE(id >= 0 && id < tok->n_vocab());
        // Control tokens decode to nothing, so only text without them round-trips when parsed.
        if (parse_special && s.find("<|endoftext|>") != std::string::npos) continue;
        ASSERT_EQ(tok->Decode(*ids), s) << "pre=" << tok->vocab().pre << " parse_special=" << parse_special;
      }
    }
  }
}

TEST(BpeTokenizer, EncodesTenKilobytesQuickly) {
  auto tok = Make(SmallBpeVocab("llama-bpe", kMerges));
  ASSERT_NE(tok, nullptr);
  std::string text;
  while (text.size() < 10 * 1024)
    text += "The quick brown fox jumps over the lazy dog; in 2024 there were 12345 foxes.\n";
  double best_ms = 1e9;
  for (int run = 0; run < 5; ++run) {
    const double start = tokenizer_test::ThreadCpuMs();
    auto ids = tok->Encode(text, false, false);
    best_ms = std::min(best_ms, tokenizer_test::ThreadCpuMs() - start);
    ASSERT_TRUE(ids.ok());
  }
  std::printf("BPE: %zu bytes in %.3f ms CPU (best of 5)\n", text.size(), best_ms);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(best_ms, 10.0);
#endif
}

}  // namespace
}  // namespace meridian::engine
