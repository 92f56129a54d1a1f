// SentencePiece-style tokenizer: the LLaMA-2 reference vectors (shared test data), merge order,
// byte fallback, unknown pieces, unused-piece resegmentation, special tokens, validation, speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

using tokenizer_test::Join;
using tokenizer_test::ParseInp;
using tokenizer_test::ParseOut;
using tokenizer_test::ReadFile;
using tokenizer_test::SharedTestData;

const std::string kLlamaGguf = SharedTestData() + "/vocab/ggml-vocab-llama-spm.gguf";

std::unique_ptr<Tokenizer> LoadLlamaSpm() {
  auto file = GgufFile::Open(kLlamaGguf);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return nullptr;
  auto vocab = VocabFromGguf(**file);
  EXPECT_TRUE(vocab.ok()) << vocab.status().ToString();
  if (!vocab.ok()) return nullptr;
  auto tok = MakeTokenizer(std::move(vocab).value());
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

#define SKIP_WITHOUT_SHARED_DATA()                                                                  \
  if (!std::filesystem::exists(kLlamaGguf)) {                                                       \
    GTEST_SKIP() << "shared test data not found at " << kLlamaGguf                                  \
                 << " (a checkout without ../shared/testdata skips the LLaMA-2 reference vectors)"; \
  }

std::vector<int32_t> EncodeOk(const Tokenizer& tok, std::string_view text, bool add_bos = false,
                              bool parse_special = false) {
  auto ids = tok.Encode(text, add_bos, parse_special);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

TEST(SpmTokenizer, LlamaVocabularyLoadsFromGguf) {
  SKIP_WITHOUT_SHARED_DATA();
  auto tok = LoadLlamaSpm();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab().kind, TokenizerKind::kSentencePiece);
  EXPECT_EQ(tok->n_vocab(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->vocab().unk_id, 0);
  EXPECT_TRUE(tok->vocab().add_bos);
  EXPECT_TRUE(tok->vocab().add_space_prefix);
  EXPECT_EQ(tok->FindToken("\xE2\x96\x81Hello"), 15043);
  EXPECT_EQ(tok->FindToken("<0x0A>"), 13);
  EXPECT_EQ(tok->FindToken("no such piece"), -1);
  EXPECT_TRUE(tok->IsEndOfGeneration(2));
  EXPECT_FALSE(tok->IsEndOfGeneration(1));
}

TEST(SpmTokenizer, ReproducesEveryLlamaReferenceLine) {
  SKIP_WITHOUT_SHARED_DATA();
  auto tok = LoadLlamaSpm();
  ASSERT_NE(tok, nullptr);
  const auto inputs = ParseInp(ReadFile(kLlamaGguf + ".inp"));
  const auto expected = ParseOut(ReadFile(kLlamaGguf + ".out"));
  ASSERT_GT(inputs.size(), 30u);
  ASSERT_EQ(inputs.size(), expected.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto ids = EncodeOk(*tok, inputs[i]);
    EXPECT_EQ(Join(ids), Join(expected[i])) << "line " << i + 1 << ": '" << inputs[i] << "'";
    EXPECT_EQ(tok->Decode(ids), inputs[i]) << "line " << i + 1;
  }
}

TEST(SpmTokenizer, LlamaBosAndSpecialTokens) {
  SKIP_WITHOUT_SHARED_DATA();
  auto tok = LoadLlamaSpm();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(EncodeOk(*tok, "Hello world", /*add_bos=*/true), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(EncodeOk(*tok, "", /*add_bos=*/true), (std::vector<int32_t>{1}));
  // Control-token text is only a control token when asked; the text after it gets the prefix.
  EXPECT_EQ(EncodeOk(*tok, "<s>Hello</s>", false, /*parse_special=*/true),
            (std::vector<int32_t>{1, 15043, 2}));
  const auto literal = EncodeOk(*tok, "<s>Hello</s>", false, /*parse_special=*/false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), 1), 0);
  EXPECT_EQ(tok->Decode(literal), "<s>Hello</s>");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 15043, 2}), "Hello");
  EXPECT_EQ(tok->TokenBytes(1), "");
  EXPECT_EQ(tok->TokenBytes(1, /*render_special=*/true), "<s>");
  EXPECT_EQ(tok->TokenBytes(13), "\n");
  EXPECT_EQ(tok->TokenBytes(15043), " Hello");
  EXPECT_EQ(tok->TokenBytes(-1), "");
  EXPECT_EQ(tok->TokenBytes(32000), "");
}

TEST(SpmTokenizer, LlamaRoundTripsRandomUtf8) {
  SKIP_WITHOUT_SHARED_DATA();
  auto tok = LoadLlamaSpm();
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; ++i) {
    const std::string s = tokenizer_test::RandomText(rng);
    auto ids = tok->Encode(s, /*add_bos=*/true, /*parse_special=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    // SentencePiece stores spaces as U+2581, so a literal U+2581 comes back as a space (as it does
    // with sentencepiece itself); everything else round-trips.
    std::string want;
    for (size_t p = 0; p < s.size();) {
      if (s.compare(p, 3, "\xE2\x96\x81") == 0) {
        want.push_back(' ');
        p += 3;
      } else {
        want.push_back(s[p++]);
      }
    }
    ASSERT_EQ(tok->Decode(*ids), want);
  }
}

TEST(SpmTokenizer, EncodesTenKilobytesOfEnglishQuickly) {
  SKIP_WITHOUT_SHARED_DATA();
  auto tok = LoadLlamaSpm();
  ASSERT_NE(tok, nullptr);
  const std::string paragraph =
      "The quick brown fox jumps over the lazy dog. Serving large language models close to users "
      "means that every region needs a fast engine, and a gateway that sends each request to the "
      "nearest healthy region with capacity. Tokenization must never be the bottleneck!\n";
  std::string text;
  while (text.size() < 10 * 1024) text += paragraph;
  // Thread CPU time, so that other processes on a busy machine do not count.
  double best_ms = 1e9;
  size_t n_tokens = 0;
  for (int run = 0; run < 5; ++run) {
    const double start = tokenizer_test::ThreadCpuMs();
    auto ids = tok->Encode(text, true, false);
    const double elapsed = tokenizer_test::ThreadCpuMs() - start;
    ASSERT_TRUE(ids.ok());
    n_tokens = ids->size();
    best_ms = std::min(best_ms, elapsed);
  }
  const double ms = best_ms;
  std::printf("SPM: %zu bytes -> %zu tokens in %.3f ms CPU (best of 5)\n", text.size(), n_tokens, ms);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(ms, 10.0);
#endif
}

// A small SentencePiece vocabulary: <unk>, <s>, </s>, 256 byte pieces, then pieces with scores.
VocabData SmallSpmVocab(bool with_bytes = true) {
  VocabData v;
  v.kind = TokenizerKind::kSentencePiece;
  auto add = [&](std::string text, float score, TokenType type) {
    v.tokens.push_back(std::move(text));
    v.scores.push_back(score);
    v.token_types.push_back(static_cast<int32_t>(type));
    return static_cast<int32_t>(v.tokens.size() - 1);
  };
  v.unk_id = add("<unk>", 0, TokenType::kUnknown);
  v.bos_id = add("<s>", 0, TokenType::kControl);
  v.eos_id = add("</s>", 0, TokenType::kControl);
  if (with_bytes) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      add(name, 0, TokenType::kByte);
    }
  }
  const std::string sp = "\xE2\x96\x81";
  add(sp, -1, TokenType::kNormal);
  add("a", -2, TokenType::kNormal);
  add("b", -3, TokenType::kNormal);
  add("c", -4, TokenType::kNormal);
  add(sp + "a", -5, TokenType::kNormal);
  add("bc", -6, TokenType::kNormal);  // "bc" beats "ab" ...
  add("ab", -7, TokenType::kNormal);
  add(sp + "ab", -8, TokenType::kNormal);
  add("aa", -9, TokenType::kNormal);
  add("xy", -1, TokenType::kUnused);  // formed, then split back into x + y
  add("x", -10, TokenType::kNormal);
  add("y", -11, TokenType::kNormal);
  add("xyz", -12, TokenType::kNormal);
  add("z", -13, TokenType::kNormal);
  add("<|user|>", 0, TokenType::kUserDefined);
  return v;
}

std::vector<std::string> Pieces(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(tok.vocab().tokens[static_cast<size_t>(id)]);
  return out;
}

TEST(SpmTokenizer, MergesByScoreLeftmostFirstOnTies) {
  auto tok = MakeTokenizer(SmallSpmVocab());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::string sp = "\xE2\x96\x81";
  // "▁abc": ▁a (-5) vs bc (-6): bc is lower, ▁a wins; then ▁a+bc is no piece.
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "abc")), (std::vector<std::string>{sp + "a", "bc"}));
  // "▁ab": ▁a first, then ▁a + b = ▁ab.
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "ab")), (std::vector<std::string>{sp + "ab"}));
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "aaa", false, false)), (std::vector<std::string>{sp + "a", "aa"}));
  // Ties go to the leftmost pair: "▁baaa" has two "aa" pairs of equal score.
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "baaa")), (std::vector<std::string>{sp, "b", "aa", "a"}));
}

TEST(SpmTokenizer, UnusedPiecesAreResegmented) {
  auto tok = MakeTokenizer(SmallSpmVocab());
  ASSERT_TRUE(tok.ok());
  const std::string sp = "\xE2\x96\x81";
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "xy")), (std::vector<std::string>{sp, "x", "y"}));
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "xyz")), (std::vector<std::string>{sp, "xyz"}));
}

TEST(SpmTokenizer, ByteFallbackAndUnknown) {
  auto tok = MakeTokenizer(SmallSpmVocab());
  ASSERT_TRUE(tok.ok());
  // é = C3 A9 is no piece: byte pieces 3 + 0xC3, 3 + 0xA9.
  EXPECT_EQ(EncodeOk(**tok, "\xC3\xA9", false, false).size(), 3u);
  EXPECT_EQ(EncodeOk(**tok, "\xC3\xA9")[1], 3 + 0xC3);
  EXPECT_EQ(EncodeOk(**tok, "\xC3\xA9")[2], 3 + 0xA9);
  EXPECT_EQ((**tok).Decode(EncodeOk(**tok, "a\xC3\xA9 \xF0\x9F\x98\x80")), "a\xC3\xA9 \xF0\x9F\x98\x80");

  auto no_bytes = MakeTokenizer(SmallSpmVocab(/*with_bytes=*/false));
  ASSERT_TRUE(no_bytes.ok());
  // A run of unknown characters becomes one <unk>, as SentencePiece does.
  EXPECT_EQ(
      EncodeOk(**no_bytes,
               "\xC3\xA9\xC3\xA9"
               "a\xC3\xA9"),
      (std::vector<int32_t>{(**no_bytes).FindToken("\xE2\x96\x81"), 0, (**no_bytes).FindToken("a"), 0}));
  VocabData v = SmallSpmVocab(false);
  v.unk_id = -1;
  v.token_types[0] = static_cast<int32_t>(TokenType::kControl);
  auto cannot = MakeTokenizer(std::move(v));
  ASSERT_TRUE(cannot.ok());
  auto r = (**cannot).Encode("\xC3\xA9", false, false);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(SpmTokenizer, UserDefinedTokensAlwaysSplitControlOnlyWhenAsked) {
  auto tok = MakeTokenizer(SmallSpmVocab());
  ASSERT_TRUE(tok.ok());
  const int32_t user = (**tok).FindToken("<|user|>");
  const int32_t a = (**tok).FindToken(
      "\xE2\x96\x81"
      "a");
  EXPECT_EQ(EncodeOk(**tok, "<|user|>a"), (std::vector<int32_t>{user, a}));
  EXPECT_EQ(EncodeOk(**tok, "<s>a", true, true), (std::vector<int32_t>{1, 1, a}));
  const auto literal = EncodeOk(**tok, "<s>a", false, false);
  EXPECT_GT(literal.size(), 2u);
  EXPECT_EQ((**tok).Decode(literal), "<s>a");
  EXPECT_EQ((**tok).Decode(EncodeOk(**tok, "<|user|>a")), "<|user|> a");
}

TEST(SpmTokenizer, NoDummyPrefixWhenDisabled) {
  VocabData v = SmallSpmVocab();
  v.add_space_prefix = false;
  auto tok = MakeTokenizer(std::move(v));
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(Pieces(**tok, EncodeOk(**tok, "ab")), (std::vector<std::string>{"ab"}));
  EXPECT_EQ((**tok).Decode(EncodeOk(**tok, " ab")), " ab");
}

TEST(SpmTokenizer, RejectsInvalidUtf8) {
  auto tok = MakeTokenizer(SmallSpmVocab());
  ASSERT_TRUE(tok.ok());
  for (std::string_view bad : {"\xC3", "a\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF"}) {
    auto r = (**tok).Encode(bad, false, false);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MakeTokenizer, ValidatesTheVocabulary) {
  auto expect_invalid = [](VocabData v, const char* why) {
    auto r = MakeTokenizer(std::move(v));
    EXPECT_FALSE(r.ok()) << why;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << why;
    }
  };
  expect_invalid(VocabData{}, "empty");
  {
    VocabData v = SmallSpmVocab();
    v.scores.pop_back();
    expect_invalid(v, "scores size");
  }
  {
    VocabData v = SmallSpmVocab();
    v.token_types.back() = 9;
    expect_invalid(v, "type out of range");
  }
  {
    VocabData v = SmallSpmVocab();
    v.token_types.pop_back();
    expect_invalid(v, "types size");
  }
  {
    VocabData v = SmallSpmVocab();
    v.bos_id = static_cast<int32_t>(v.tokens.size());
    expect_invalid(v, "bos out of range");
  }
  {
    VocabData v = SmallSpmVocab();
    v.eog_ids = {-3};
    expect_invalid(v, "negative eog");
  }
  {
    VocabData v = SmallSpmVocab();
    v.scores[5] = std::nanf("");
    expect_invalid(v, "NaN score");
  }
  {
    VocabData v = SmallSpmVocab();
    v.bos_id = -1;
    v.add_bos = true;
    expect_invalid(v, "add_bos without bos");
  }
  {
    VocabData v;
    v.kind = TokenizerKind::kBytePairBpe;
    v.tokens = {"a", "b", "ab"};
    v.merges = {"ab"};
    v.add_bos = false;
    expect_invalid(v, "merge without space");
  }
  {
    VocabData v;
    v.kind = TokenizerKind::kBytePairBpe;
    v.tokens = {"a"};
    v.add_bos = false;
    v.pre = "no-such-pre";
    auto r = MakeTokenizer(std::move(v));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(r.status().message().find("llama-bpe"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace meridian::engine
