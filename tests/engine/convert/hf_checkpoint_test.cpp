// HfCheckpoint on generated Hugging Face directories: config and vocabulary, zero-copy views,
// owned Q/K permutations and norm conversions, tied embeddings, and broken directories.
#include "engine/convert/hf_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "convert_test_util.h"
#include "engine/convert/random_model.h"
#include "engine/convert/row_convert.h"

namespace meridian::engine {
namespace {

using testing_util::TempDir;

std::unique_ptr<HfCheckpoint> OpenOk(const std::string& dir) {
  auto c = HfCheckpoint::Open(dir);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

RandomModelSpec Tiny(DType dtype, bool tied = false) {
  RandomModelSpec spec = *RandomModelPreset("tiny-gqa");
  spec.dtype = dtype;
  spec.seed = 3;
  spec.config.tied_embeddings = tied;
  return spec;
}

//! Rewrites one field of dir/config.json.
void EditConfig(const std::string& dir, const std::string& key, const nlohmann::json& value) {
  const std::string path = dir + "/config.json";
  nlohmann::json j;
  std::ifstream(path) >> j;
  j[key] = value;
  std::ofstream(path) << j.dump();
}

TEST(HfCheckpoint, ReadsConfigVocabularyAndGenerationDefaults) {
  TempDir dir;
  RandomModelSpec spec = Tiny(DType::kF32);
  ASSERT_TRUE(WriteRandomHfDir(spec, dir.str()).ok());
  auto ckpt = OpenOk(dir.str());
  ASSERT_NE(ckpt, nullptr);
  const LlamaConfig& c = ckpt->config();
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.ffn_dim, 176);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.context_length, 256);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_FALSE(c.tied_embeddings);
  EXPECT_EQ(ckpt->tokenizer_file(), "tokenizer.model");
  EXPECT_EQ(ckpt->vocab().tokens, RandomModelVocab(512).tokens);
  EXPECT_EQ(ckpt->vocab().eos_id, 2);
  EXPECT_EQ(ckpt->generation_config().eos_token_ids, std::vector<int32_t>{2});
  EXPECT_FLOAT_EQ(*ckpt->generation_config().temperature, 0.6f);
}

TEST(HfCheckpoint, WeightsAreViewsPermutationsAndConversions) {
  TempDir dir;
  RandomModelSpec spec = Tiny(DType::kBF16);
  ASSERT_TRUE(WriteRandomHfDir(spec, dir.str()).ok());
  auto ckpt = OpenOk(dir.str());
  ASSERT_NE(ckpt, nullptr);

  // A plain matrix is a view into the mapping.
  auto up = ckpt->Weight("blk.1.ffn_up.weight");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->dtype, DType::kBF16);
  EXPECT_EQ(up->rows, 176);
  EXPECT_EQ(up->cols, 64);
  EXPECT_EQ(up->data, ckpt->safetensors().Find("model.layers.1.mlp.up_proj.weight")->data.data());

  // K rows are the HF rows permuted into GGUF order, in owned memory.
  auto k = ckpt->Weight("blk.0.attn_k.weight");
  ASSERT_TRUE(k.ok());
  const SafetensorsTensor* hf_k = ckpt->safetensors().Find("model.layers.0.self_attn.k_proj.weight");
  EXPECT_NE(k->data, hf_k->data.data());
  EXPECT_EQ(k->rows, 32);
  const uint64_t row_bytes = k->row_bytes();
  for (int64_t r = 0; r < k->rows; ++r) {
    const int64_t from = convert::HfRowForGgufRow(r, 16);
    EXPECT_EQ(std::memcmp(static_cast<const uint8_t*>(k->data) + r * row_bytes,
                          hf_k->data.data() + from * row_bytes, row_bytes),
              0)
        << r;
  }
  // And they are the rows the generator meant for GGUF row r.
  std::vector<float> expected(64);
  auto k_spec = FindLlamaTensor(spec.config, "blk.0.attn_k.weight");
  RandomModelRow(spec, *k_spec, 5, expected.data());
  uint16_t h;
  std::memcpy(&h, static_cast<const uint8_t*>(k->data) + 5 * row_bytes + 2 * 9, 2);
  EXPECT_EQ(Bf16ToFp32(h), expected[9]);

  // Norms come back as f32.
  auto norm = ckpt->Weight("output_norm.weight");
  ASSERT_TRUE(norm.ok());
  EXPECT_EQ(norm->dtype, DType::kF32);
  EXPECT_EQ(norm->rows, 1);
  EXPECT_EQ(norm->cols, 64);

  // The same view every time.
  EXPECT_EQ(ckpt->Weight("blk.0.attn_k.weight")->data, k->data);

  auto all = ckpt->Weights();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->layers.size(), 2u);
  EXPECT_EQ(all->layers[0].wk.data, k->data);
  EXPECT_NE(all->output.data, all->token_embd.data);

  EXPECT_EQ(ckpt->Weight("blk.2.attn_q.weight").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ckpt->Weight("model.norm.weight").status().code(), StatusCode::kNotFound);
}

TEST(HfCheckpoint, TiedEmbeddings) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomHfDir(Tiny(DType::kF16, /*tied=*/true), dir.str()).ok());
  auto ckpt = OpenOk(dir.str());
  ASSERT_NE(ckpt, nullptr);
  EXPECT_TRUE(ckpt->config().tied_embeddings);
  EXPECT_EQ(ckpt->safetensors().Find("lm_head.weight"), nullptr);
  auto w = ckpt->Weights();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->output.data, w->token_embd.data);
  // Untied in config.json but without lm_head.weight: the missing tensor is named.
  EditConfig(dir.str(), "tie_word_embeddings", false);
  auto untied = OpenOk(dir.str());
  ASSERT_NE(untied, nullptr);
  auto out = untied->Weight("output.weight");
  EXPECT_EQ(out.status().code(), StatusCode::kNotFound);
  EXPECT_NE(out.status().message().find("lm_head.weight"), std::string::npos) << out.status().message();
}

TEST(HfCheckpoint, ShapeDisagreementsAreReported) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomHfDir(Tiny(DType::kF32), dir.str()).ok());
  EditConfig(dir.str(), "intermediate_size", 192);
  auto ckpt = OpenOk(dir.str());
  ASSERT_NE(ckpt, nullptr);
  auto gate = ckpt->Weight("blk.0.ffn_gate.weight");
  EXPECT_EQ(gate.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(gate.status().message().find("[176, 64]"), std::string::npos) << gate.status().message();
  EXPECT_NE(gate.status().message().find("[192, 64]"), std::string::npos) << gate.status().message();
  EXPECT_TRUE(ckpt->Weight("blk.0.attn_q.weight").ok());
}

TEST(HfCheckpoint, VocabularyPaddedToTheEmbeddingRows) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomHfDir(Tiny(DType::kF32), dir.str()).ok());
  EditConfig(dir.str(), "vocab_size", 520);
  auto ckpt = OpenOk(dir.str());
  ASSERT_NE(ckpt, nullptr);
  ASSERT_EQ(ckpt->vocab().tokens.size(), 520u);
  EXPECT_EQ(ckpt->vocab().tokens[515], "[PAD515]");
  EXPECT_EQ(ckpt->vocab().token_types[515], static_cast<int32_t>(TokenType::kUnused));
  EXPECT_EQ(ckpt->vocab().scores.size(), 520u);
  EXPECT_EQ(ckpt->Weight("token_embd.weight").status().code(), StatusCode::kInvalidArgument);
  EditConfig(dir.str(), "vocab_size", 500);
  auto fewer = HfCheckpoint::Open(dir.str());
  EXPECT_EQ(fewer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fewer.status().message().find("512 tokens"), std::string::npos) << fewer.status().message();
}

TEST(HfCheckpoint, BrokenDirectories) {
  TempDir dir;
  EXPECT_EQ(HfCheckpoint::Open(dir / "missing").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(WriteRandomHfDir(Tiny(DType::kF32), dir / "m").ok());
  EditConfig(dir / "m", "architectures", nlohmann::json::array({"Qwen2ForCausalLM"}));
  EXPECT_EQ(HfCheckpoint::Open(dir / "m").status().code(), StatusCode::kUnimplemented);
  EditConfig(dir / "m", "architectures", nlohmann::json::array({"LlamaForCausalLM"}));
  EditConfig(dir / "m", "head_dim", 15);
  EXPECT_EQ(HfCheckpoint::Open(dir / "m").status().code(), StatusCode::kInvalidArgument);
  EditConfig(dir / "m", "head_dim", 16);
  ASSERT_NE(OpenOk(dir / "m"), nullptr);
  std::filesystem::remove(dir / "m/model.safetensors");
  EXPECT_EQ(HfCheckpoint::Open(dir / "m").status().code(), StatusCode::kNotFound);
  std::filesystem::remove(dir / "m/tokenizer.model");
  auto no_tok = HfCheckpoint::Open(dir / "m");
  EXPECT_EQ(no_tok.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_tok.status().message().find("tokenizer"), std::string::npos);
  std::filesystem::remove(dir / "m/config.json");
  EXPECT_EQ(HfCheckpoint::Open(dir / "m").status().code(), StatusCode::kNotFound);
}

TEST(HfCheckpoint, CorruptShardIsDataLoss) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomHfDir(Tiny(DType::kF32), dir.str()).ok());
  const std::string path = dir / "model.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  EXPECT_EQ(HfCheckpoint::Open(dir.str()).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace meridian::engine
