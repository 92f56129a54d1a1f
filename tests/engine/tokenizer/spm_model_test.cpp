// SentencePiece tokenizer.model reader: the committed model trained with spm_train must encode
// exactly as spm_encode did (data/tiny_bpe.{model,inp,out}, see docs/tokenizers.md), and
// malformed or unsupported models give clear errors, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

using tokenizer_test::Join;
using tokenizer_test::LocalData;
using tokenizer_test::ReadFile;

const std::string kModel = LocalData() + "/tiny_bpe.model";

// Minimal protobuf writer for hand-made models.
class Proto {
 public:
  Proto& Varint(uint32_t field, uint64_t v) {
    Key(field, 0);
    Raw(v);
    return *this;
  }
  Proto& Bytes(uint32_t field, std::string_view b) {
    Key(field, 2);
    Raw(b.size());
    out_.append(b);
    return *this;
  }
  Proto& Float(uint32_t field, float f) {
    Key(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);
    out_.append(b, 4);
    return *this;
  }
  const std::string& str() const { return out_; }

 private:
  void Key(uint32_t field, uint32_t wt) { Raw((uint64_t{field} << 3) | wt); }
  void Raw(uint64_t v) {
    do {
      uint8_t b = v & 0x7F;
      v >>= 7;
      if (v) b |= 0x80;
      out_.push_back(static_cast<char>(b));
    } while (v);
  }
  std::string out_;
};

std::string Piece(const std::string& text, float score, int type) {
  return Proto().Bytes(1, text).Float(2, score).Varint(3, static_cast<uint64_t>(type)).str();
}

// A valid BPE model: <unk>, <s>, </s>, ▁, a, ▁a.
std::string HandMadeModel(int64_t model_type = 2, const std::string& normalizer_name = "identity",
                          bool remove_extra_whitespaces = false, int64_t pad_id = -1) {
  Proto m;
  m.Bytes(1, Piece("<unk>", 0, 2)).Bytes(1, Piece("<s>", 0, 3)).Bytes(1, Piece("</s>", 0, 3));
  m.Bytes(1, Piece("\xE2\x96\x81", -1, 1))
      .Bytes(1, Piece("a", -2, 1))
      .Bytes(1, Piece("\xE2\x96\x81"
                      "a",
                      -3, 1));
  m.Bytes(
      2,
      Proto().Varint(3, static_cast<uint64_t>(model_type)).Varint(43, static_cast<uint64_t>(pad_id)).str());
  m.Bytes(3,
          Proto().Bytes(1, normalizer_name).Varint(3, 1).Varint(4, remove_extra_whitespaces ? 1 : 0).str());
  return m.str();
}

TEST(SentencePieceModel, MatchesSpmEncodeOnTheCommittedModel) {
  auto vocab = VocabFromSentencePieceModel(kModel);
  ASSERT_TRUE(vocab.ok()) << vocab.status().ToString();
  EXPECT_EQ(vocab->kind, TokenizerKind::kSentencePiece);
  EXPECT_EQ(vocab->tokens.size(), 500u);
  EXPECT_EQ(vocab->unk_id, 0);
  EXPECT_EQ(vocab->bos_id, 1);
  EXPECT_EQ(vocab->eos_id, 2);
  EXPECT_EQ(vocab->pad_id, -1);
  EXPECT_TRUE(vocab->add_bos);
  EXPECT_TRUE(vocab->add_space_prefix);
  EXPECT_EQ(vocab->tokens[5], "<0x00>");
  EXPECT_EQ(vocab->token_types[5], static_cast<int32_t>(TokenType::kByte));
  EXPECT_EQ(vocab->token_types[4], static_cast<int32_t>(TokenType::kControl));  // <|im_end|>
  EXPECT_EQ(vocab->eog_ids, (std::vector<int32_t>{4}));

  auto tok = MakeTokenizer(std::move(vocab).value());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  std::vector<std::string> lines;
  {
    std::istringstream in(ReadFile(LocalData() + "/tiny_bpe.inp"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  const auto expected = tokenizer_test::ParseOut(ReadFile(LocalData() + "/tiny_bpe.out"));
  ASSERT_EQ(lines.size(), expected.size());
  ASSERT_GT(lines.size(), 10u);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto ids = (**tok).Encode(lines[i], /*add_bos=*/false, /*parse_special=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    EXPECT_EQ(Join(*ids), Join(expected[i])) << "line " << i + 1 << ": '" << lines[i] << "'";
    EXPECT_EQ((**tok).Decode(*ids), lines[i]);
  }
  EXPECT_EQ((**tok).IsEndOfGeneration(4), true);
}

TEST(SentencePieceModel, HandMadeModelAndNegativeIds) {
  auto v = ParseSentencePieceModel(HandMadeModel());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->tokens.size(), 6u);
  EXPECT_EQ(v->scores[5], -3.0f);
  EXPECT_EQ(v->pad_id, -1);  // encoded as a 10-byte varint
  auto with_pad = ParseSentencePieceModel(HandMadeModel(2, "identity", false, 3));
  ASSERT_TRUE(with_pad.ok());
  EXPECT_EQ(with_pad->pad_id, 3);
  auto tok = MakeTokenizer(std::move(v).value());
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(*(**tok).Encode("aa", true, false), (std::vector<int32_t>{1, 5, 4}));
}

TEST(SentencePieceModel, UnsupportedModelsAreUnimplemented) {
  auto unigram = ParseSentencePieceModel(HandMadeModel(1));
  EXPECT_EQ(unigram.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unigram.status().message().find("UNIGRAM"), std::string::npos) << unigram.status().message();
  EXPECT_EQ(ParseSentencePieceModel(HandMadeModel(2, "nmt_nfkc")).status().code(),
            StatusCode::kUnimplemented);
  auto ws = ParseSentencePieceModel(HandMadeModel(2, "identity", true));
  EXPECT_EQ(ws.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(ws.status().message().find("--remove_extra_whitespaces=false"), std::string::npos);
}

TEST(SentencePieceModel, MalformedInputIsDataLossNeverACrash) {
  const std::string model = ReadFile(kModel);
  ASSERT_GT(model.size(), 1000u);
  EXPECT_EQ(VocabFromSentencePieceModel(LocalData() + "/no-such.model").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ParseSentencePieceModel("").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseSentencePieceModel("\x0A\xFF\xFF\xFF\xFF\x0F").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseSentencePieceModel(std::string(12, '\xFF')).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ParseSentencePieceModel("\x0B").status().code(), StatusCode::kDataLoss);  // group wire type
  // Every proper prefix is incomplete (the normalizer spec comes last): all short ones, the
  // last 64 (inside the specs), and a sample in between.
  std::vector<size_t> lengths;
  for (size_t len = 0; len < model.size(); len += (len < 64 || len + 64 > model.size()) ? 1 : 53) {
    lengths.push_back(len);
  }
  for (size_t len : lengths) {
    auto r = ParseSentencePieceModel(std::string_view(model).substr(0, len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_TRUE(r.status().code() == StatusCode::kDataLoss || r.status().code() == StatusCode::kUnimplemented)
        << r.status().ToString();
  }
  // Random corruption: any outcome but a crash; what parses must also build or be rejected cleanly.
  std::mt19937 rng(99);
  for (int i = 0; i < 100; ++i) {
    std::string bad = model;
    for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    auto r = ParseSentencePieceModel(bad);
    if (r.ok()) {
      auto tok = MakeTokenizer(std::move(r).value());
      if (tok.ok()) (void)(**tok).Encode("Hello world", true, true);
    }
  }
}

}  // namespace
}  // namespace meridian::engine
