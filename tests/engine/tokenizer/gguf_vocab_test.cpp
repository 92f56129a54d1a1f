// VocabFromGguf: every tokenizer.ggml.* key round-trips through GgufWriter/GgufFile, llama.cpp's
// defaults apply when keys are missing, and malformed metadata gives a clear error.
#include <gtest/gtest.h>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

using tokenizer_test::TempDir;

// A byte-level vocabulary in GGUF form: 256 byte tokens, " t"/"he"/" the", three specials.
void AddBpeVocab(GgufWriter& w) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(tokenizer_internal::ByteToUtf8(static_cast<uint8_t>(b)));
  const std::string sp(tokenizer_internal::ByteToUtf8(' '));
  tokens.push_back(sp + "t");             // 256
  tokens.push_back("he");                 // 257
  tokens.push_back(sp + "the");           // 258
  tokens.push_back("<|begin_of_text|>");  // 259
  tokens.push_back("<|end_of_text|>");    // 260
  tokens.push_back("<|eot_id|>");         // 261
  std::vector<int32_t> types(tokens.size(), 1);
  types[259] = types[260] = types[261] = 3;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetString("tokenizer.ggml.pre", "llama-bpe");
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetInt32Array("tokenizer.ggml.token_type", types);
  w.SetStringArray("tokenizer.ggml.merges", {sp + " t", "h e", sp + "t he"});
  w.SetUint32("tokenizer.ggml.bos_token_id", 259);
  w.SetUint32("tokenizer.ggml.eos_token_id", 260);
  w.SetString("tokenizer.chat_template", "{{ messages }}");
}

Result<VocabData> WriteAndLoad(GgufWriter& w) {
  TempDir dir;
  const std::string path = dir.File("vocab.gguf");
  Status s = w.Write(path);
  if (!s.ok()) return s;
  MERIDIAN_ASSIGN_OR_RETURN(auto file, GgufFile::Open(path));
  return VocabFromGguf(*file);
}

TEST(GgufVocab, ReadsEveryTokenizerKey) {
  GgufWriter w;
  AddBpeVocab(w);
  w.SetUint32("tokenizer.ggml.eot_token_id", 261);
  w.SetUint32("tokenizer.ggml.padding_token_id", 260);
  w.SetBool("tokenizer.ggml.add_eos_token", true);
  auto v = WriteAndLoad(w);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->kind, TokenizerKind::kBytePairBpe);
  EXPECT_EQ(v->pre, "llama-bpe");
  EXPECT_EQ(v->tokens.size(), 262u);
  EXPECT_EQ(v->merges.size(), 3u);
  EXPECT_TRUE(v->scores.empty());
  EXPECT_EQ(v->bos_id, 259);
  EXPECT_EQ(v->eos_id, 260);
  EXPECT_EQ(v->pad_id, 260);
  EXPECT_EQ(v->unk_id, -1);
  EXPECT_TRUE(v->add_bos);  // LLaMA-3 default
  EXPECT_TRUE(v->add_eos);
  EXPECT_FALSE(v->add_space_prefix);
  EXPECT_EQ(v->eog_ids, (std::vector<int32_t>{261}));
  EXPECT_EQ(v->chat_template, "{{ messages }}");

  auto tok = MakeTokenizer(std::move(v).value());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (**tok).Encode(" the<|eot_id|>", /*add_bos=*/true, /*parse_special=*/true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{259, 258, 261, 260}));
  EXPECT_TRUE((**tok).IsEndOfGeneration(261));
  EXPECT_TRUE((**tok).IsEndOfGeneration(260));
  EXPECT_FALSE((**tok).IsEndOfGeneration(258));
}

TEST(GgufVocab, WellKnownEndOfTurnTokensBecomeEndOfGeneration) {
  GgufWriter w;
  AddBpeVocab(w);  // no eot key: <|eot_id|> is found by its text
  w.SetBool("tokenizer.ggml.add_bos_token", false);
  auto v = WriteAndLoad(w);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->eog_ids, (std::vector<int32_t>{261}));
  EXPECT_FALSE(v->add_bos);
}

TEST(GgufVocab, SentencePieceDefaults) {
  GgufWriter w;
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>",
                                             "\xE2\x96\x81"
                                             "a"});
  w.SetFloat32Array("tokenizer.ggml.scores", {0, 0, 0, -1});
  w.SetInt32Array("tokenizer.ggml.token_type", {2, 3, 3, 1});
  auto v = WriteAndLoad(w);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->kind, TokenizerKind::kSentencePiece);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_TRUE(v->add_bos);
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_EQ(v->scores[3], -1.0f);
  EXPECT_EQ(v->token_types[0], 2);
  EXPECT_TRUE(v->merges.empty());
}

TEST(GgufVocab, OutOfRangeSpecialIdsAreIgnored) {
  GgufWriter w;
  AddBpeVocab(w);
  w.SetUint32("tokenizer.ggml.padding_token_id", 100000);
  auto v = WriteAndLoad(w);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->pad_id, -1);
}

TEST(GgufVocab, ErrorsNameTheProblem) {
  {
    GgufWriter w;
    w.SetString("general.architecture", "llama");
    auto v = WriteAndLoad(w);
    EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
    EXPECT_NE(v.status().message().find("tokenizer.ggml.model"), std::string::npos);
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "bert");
    w.SetStringArray("tokenizer.ggml.tokens", {"a"});
    auto v = WriteAndLoad(w);
    EXPECT_EQ(v.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(v.status().message().find("bert"), std::string::npos);
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.SetFloat32Array("tokenizer.ggml.scores", {0, 0});
    EXPECT_EQ(WriteAndLoad(w).status().code(), StatusCode::kDataLoss);
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetInt32Array("tokenizer.ggml.tokens", {1, 2, 3});
    EXPECT_EQ(WriteAndLoad(w).status().code(), StatusCode::kDataLoss);
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "gpt2");
    w.SetStringArray("tokenizer.ggml.tokens", {"a", "b"});
    auto v = WriteAndLoad(w);  // byte-level BPE needs merges
    EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
    EXPECT_NE(v.status().message().find("merges"), std::string::npos);
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.SetString("tokenizer.ggml.add_bos_token", "yes");
    EXPECT_FALSE(WriteAndLoad(w).ok());
  }
  {
    GgufWriter w;
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.SetInt32Array("tokenizer.ggml.token_type", {2, 3, 42});
    auto v = WriteAndLoad(w);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(MakeTokenizer(std::move(v).value()).status().code(), StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace meridian::engine
