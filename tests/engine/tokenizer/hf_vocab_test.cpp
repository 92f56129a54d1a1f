// VocabFromTokenizerJson: LLaMA-3 style and GPT-2 style byte-level BPE, and a LLaMA-2 style
// SentencePiece BPE export (built here from the committed tiny_bpe.model the way Hugging Face's
// converter builds it) that must encode exactly as spm_encode did; configs beside the file;
// clear errors for what is not supported.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace meridian::engine {
namespace {

using nlohmann::json;
using tokenizer_test::Join;
using tokenizer_test::LocalData;
using tokenizer_test::ReadFile;
using tokenizer_test::TempDir;
using tokenizer_test::WriteFile;

const char* kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json AddedToken(int id, const std::string& content, bool special) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// 256 byte tokens, Ġt he Ġthe, specials 259..261 and a non-special added token 262.
json ByteLevelModel(bool merges_as_pairs) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b)
    vocab[std::string(tokenizer_internal::ByteToUtf8(static_cast<uint8_t>(b)))] = b;
  const std::string sp(tokenizer_internal::ByteToUtf8(' '));
  vocab[sp + "t"] = 256;
  vocab["he"] = 257;
  vocab[sp + "the"] = 258;
  json merges = json::array();
  for (auto [a, b] :
       std::vector<std::pair<std::string, std::string>>{{sp, "t"}, {"h", "e"}, {sp + "t", "he"}}) {
    if (merges_as_pairs) {
      merges.push_back(json::array({a, b}));
    } else {
      merges.push_back(a + " " + b);
    }
  }
  return {{"type", "BPE"},          {"dropout", nullptr}, {"unk_token", nullptr}, {"ignore_merges", true},
          {"byte_fallback", false}, {"vocab", vocab},     {"merges", merges}};
}

TEST(TokenizerJson, Llama3StyleByteLevel) {
  TempDir dir;
  json j;
  j["version"] = "1.0";
  j["added_tokens"] = {AddedToken(259, "<|begin_of_text|>", true), AddedToken(260, "<|end_of_text|>", true),
                       AddedToken(261, "<|eot_id|>", true), AddedToken(262, "<tool>", false)};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", kLlama3Regex}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  j["post_processor"] = {{"type", "Sequence"},
                         {"processors",
                          {{{"type", "ByteLevel"}},
                           {{"type", "TemplateProcessing"},
                            {"single",
                             {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = ByteLevelModel(/*merges_as_pairs=*/true);
  WriteFile(dir.File("tokenizer.json"), j.dump());
  WriteFile(dir.File("tokenizer_config.json"),
            R"({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|eot_id|>", "lstrip": false},
                "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"})");
  WriteFile(dir.File("generation_config.json"), R"({"bos_token_id": 259, "eos_token_id": [260, 261]})");

  auto v = VocabFromTokenizerJson(dir.File("tokenizer.json"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->kind, TokenizerKind::kBytePairBpe);
  EXPECT_EQ(v->pre, "llama-bpe");
  EXPECT_EQ(v->tokens.size(), 263u);
  EXPECT_EQ(v->merges, (std::vector<std::string>{"\xC4\xA0 t", "h e", "\xC4\xA0t he"}));
  EXPECT_EQ(v->bos_id, 259);
  EXPECT_TRUE(v->add_bos);
  EXPECT_FALSE(v->add_eos);
  EXPECT_EQ(v->eos_id, 261);
  EXPECT_EQ(v->eog_ids, (std::vector<int32_t>{260}));
  EXPECT_EQ(v->token_types[261], static_cast<int32_t>(TokenType::kControl));
  EXPECT_EQ(v->token_types[262], static_cast<int32_t>(TokenType::kUserDefined));
  EXPECT_EQ(v->token_types[258], static_cast<int32_t>(TokenType::kNormal));
  EXPECT_NE(v->chat_template.find("messages"), std::string::npos);

  auto tok = MakeTokenizer(std::move(v).value());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (**tok).Encode(" the<tool> the<|eot_id|>", true, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{259, 258, 262, 258, 261}));
  EXPECT_EQ((**tok).Decode(*ids), " the<tool> the");
  EXPECT_TRUE((**tok).IsEndOfGeneration(260));
  EXPECT_TRUE((**tok).IsEndOfGeneration(261));
}

TEST(TokenizerJson, Gpt2StyleByteLevel) {
  TempDir dir;
  json j;
  // json::array, not a braced list: with one element, clang reads {x} as a copy of x (CWG 2137).
  j["added_tokens"] = json::array({AddedToken(259, "<|endoftext|>", true)});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}};
  j["post_processor"] = {{"type", "ByteLevel"}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = ByteLevelModel(/*merges_as_pairs=*/false);
  j["model"]["ignore_merges"] = false;
  WriteFile(dir.File("tokenizer.json"), j.dump());
  WriteFile(dir.File("tokenizer_config.json"),
            R"({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"})");
  auto v = VocabFromTokenizerJson(dir.File("tokenizer.json"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->pre, "gpt2");
  EXPECT_FALSE(v->add_bos);
  EXPECT_EQ(v->eos_id, 259);
  EXPECT_TRUE(v->eog_ids.empty());
  auto tok = MakeTokenizer(std::move(v).value());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(*(**tok).Encode(" the the", true, false), (std::vector<int32_t>{258, 258}));
}

// The tiny SentencePiece model as a LLaMA-2 style tokenizer.json, the way Hugging Face's
// LlamaConverter writes it: vocab, merges from every split of every piece ordered by piece score,
// Prepend + Replace normalizer, byte fallback.
json SentencePieceStyleJson(const VocabData& spm) {
  json vocab = json::object();
  for (size_t i = 0; i < spm.tokens.size(); ++i) vocab[spm.tokens[i]] = i;
  struct Merge {
    std::string a, b;
    float score;
  };
  std::vector<Merge> merges;
  for (size_t i = 0; i < spm.tokens.size(); ++i) {
    const std::string& piece = spm.tokens[i];
    std::vector<Merge> local;
    std::vector<std::pair<int, int>> local_ids;
    for (size_t cut = 1; cut < piece.size(); ++cut) {
      if ((static_cast<uint8_t>(piece[cut]) & 0xC0) == 0x80) continue;  // split at code points only
      const std::string a = piece.substr(0, cut), b = piece.substr(cut);
      if (vocab.contains(a) && vocab.contains(b)) local.push_back({a, b, spm.scores[i]});
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge& x, const Merge& y) {
      return std::make_pair(vocab[x.a].get<int>(), vocab[x.b].get<int>()) <
             std::make_pair(vocab[y.a].get<int>(), vocab[y.b].get<int>());
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(),
                   [](const Merge& x, const Merge& y) { return x.score > y.score; });
  json merge_list = json::array();
  for (const Merge& m : merges) merge_list.push_back(m.a + " " + m.b);

  json j;
  j["added_tokens"] = json::array();
  for (size_t i = 0; i < spm.tokens.size(); ++i) {
    const auto t = static_cast<TokenType>(spm.token_types[i]);
    if (t == TokenType::kControl || t == TokenType::kUnknown) {
      j["added_tokens"].push_back(AddedToken(static_cast<int>(i), spm.tokens[i], true));
    }
  }
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers",
                      {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                       {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}};
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders", {{{"type", "Replace"}}, {{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  j["model"] = {{"type", "BPE"},    {"unk_token", "<unk>"}, {"byte_fallback", true},
                {"fuse_unk", true}, {"vocab", vocab},       {"merges", merge_list}};
  return j;
}

TEST(TokenizerJson, SentencePieceStyleExportEncodesLikeSentencePiece) {
  auto spm = VocabFromSentencePieceModel(LocalData() + "/tiny_bpe.model");
  ASSERT_TRUE(spm.ok()) << spm.status().ToString();
  TempDir dir;
  WriteFile(dir.File("tokenizer.json"), SentencePieceStyleJson(*spm).dump());
  WriteFile(dir.File("tokenizer_config.json"), R"({"add_bos_token": true, "add_eos_token": false,
      "bos_token": {"content": "<s>"}, "eos_token": "</s>", "unk_token": "<unk>"})");
  auto v = VocabFromTokenizerJson(dir.File("tokenizer.json"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->kind, TokenizerKind::kSentencePiece);
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_TRUE(v->add_bos);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_EQ(v->tokens, spm->tokens);
  EXPECT_EQ(v->token_types, spm->token_types);
  auto tok = MakeTokenizer(std::move(v).value());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();

  std::vector<std::string> lines;
  std::istringstream in(ReadFile(LocalData() + "/tiny_bpe.inp"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const auto expected = tokenizer_test::ParseOut(ReadFile(LocalData() + "/tiny_bpe.out"));
  ASSERT_EQ(lines.size(), expected.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto ids = (**tok).Encode(lines[i], false, false);
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(Join(*ids), Join(expected[i])) << "line " << i + 1 << ": '" << lines[i] << "'";
  }
}

TEST(TokenizerJson, ErrorsAreClear) {
  TempDir dir;
  const std::string path = dir.File("tokenizer.json");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kNotFound);
  WriteFile(path, "{ not json");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kDataLoss);
  WriteFile(path, R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  auto unigram = VocabFromTokenizerJson(path);
  EXPECT_EQ(unigram.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unigram.status().message().find("Unigram"), std::string::npos);
  WriteFile(path, R"({"model": {"type": "BPE"}})");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kDataLoss);
  WriteFile(path, R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kDataLoss);
  WriteFile(path, R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [1, 2]}})");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kDataLoss);

  json j;
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{L}+|[^\\p{L}]+"}}}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  j["model"] = ByteLevelModel(true);
  WriteFile(path, j.dump());
  auto regex = VocabFromTokenizerJson(path);
  EXPECT_EQ(regex.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(regex.status().message().find("regex"), std::string::npos) << regex.status().message();

  // A bad tokenizer_config.json beside a good tokenizer.json is reported, not ignored.
  j["pre_tokenizer"] = {{"type", "ByteLevel"}};
  WriteFile(path, j.dump());
  ASSERT_TRUE(VocabFromTokenizerJson(path).ok());
  WriteFile(dir.File("tokenizer_config.json"), "[1, 2");
  EXPECT_EQ(VocabFromTokenizerJson(path).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace meridian::engine
