// WriteLlamaGguf: round trips through GgufFile for every dtype (values, not just sizes), the
// Q8_0 bytes against cpu::QuantizeRowQ8_0, general.file_type, tied embeddings, llama3 RoPE
// factors, the metadata llama.cpp reads, and the errors for inconsistent input.
#include "engine/convert/gguf_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "convert_test_util.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/convert/random_model.h"
#include "engine/gguf/gguf_file.h"

namespace meridian::engine {
namespace {

using testing_util::TempDir;

//! A small model held in memory: f32 tensors with varied values, and views of them.
struct MemoryModel {
  LlamaConfig config;
  VocabData vocab;
  ModelWeights weights;
  std::deque<std::vector<float>> buffers;

  WeightTensor Make(int64_t rows, int64_t cols, float scale) {
    std::vector<float>& b = buffers.emplace_back(static_cast<size_t>(rows * cols));
    uint32_t x = static_cast<uint32_t>(buffers.size()) * 2654435761u;
    for (float& v : b) {
      x = x * 1664525u + 1013904223u;
      v = scale * (static_cast<float>(x >> 8) / 16777216.0f - 0.5f);
    }
    WeightTensor t;
    t.rows = rows;
    t.cols = cols;
    t.data = b.data();
    return t;
  }
};

//! ffn 80 is not a multiple of 32: ffn_down cannot be Q8_0.
std::unique_ptr<MemoryModel> SmallModel(bool tied = false) {
  auto m = std::make_unique<MemoryModel>();
  LlamaConfig& c = m->config;
  c.n_vocab = 300;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 80;
  c.context_length = 128;
  c.rms_eps = 1e-6f;
  c.rope_theta = 500000.0f;
  c.tied_embeddings = tied;
  m->vocab = RandomModelVocab(c.n_vocab);
  ModelWeights& w = m->weights;
  w.token_embd = m->Make(c.n_vocab, c.dim, 2.0f);
  w.layers.resize(2);
  for (LayerWeights& l : w.layers) {
    l.attn_norm = m->Make(1, c.dim, 1.0f);
    l.wq = m->Make(c.q_dim(), c.dim, 0.5f);
    l.wk = m->Make(c.kv_dim(), c.dim, 0.5f);
    l.wv = m->Make(c.kv_dim(), c.dim, 0.5f);
    l.wo = m->Make(c.dim, c.q_dim(), 0.5f);
    l.ffn_norm = m->Make(1, c.dim, 1.0f);
    l.w_gate = m->Make(c.ffn_dim, c.dim, 0.5f);
    l.w_up = m->Make(c.ffn_dim, c.dim, 0.5f);
    l.w_down = m->Make(c.dim, c.ffn_dim, 0.5f);
  }
  w.output_norm = m->Make(1, c.dim, 1.0f);
  w.output = tied ? w.token_embd : m->Make(c.n_vocab, c.dim, 0.5f);
  return m;
}

std::unique_ptr<GgufFile> Open(const std::string& path) {
  auto f = GgufFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

//! Every (gguf name, source tensor) pair of a model.
std::vector<std::pair<std::string, WeightTensor>> Named(const ModelWeights& w, bool tied) {
  std::vector<std::pair<std::string, WeightTensor>> out = {{"token_embd.weight", w.token_embd},
                                                           {"output_norm.weight", w.output_norm}};
  if (!tied) out.emplace_back("output.weight", w.output);
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    for (auto [n, t] : {std::pair{"attn_norm.weight", l.attn_norm}, std::pair{"attn_q.weight", l.wq},
                        std::pair{"attn_k.weight", l.wk}, std::pair{"attn_v.weight", l.wv},
                        std::pair{"attn_output.weight", l.wo}, std::pair{"ffn_norm.weight", l.ffn_norm},
                        std::pair{"ffn_gate.weight", l.w_gate}, std::pair{"ffn_up.weight", l.w_up},
                        std::pair{"ffn_down.weight", l.w_down}}) {
      out.emplace_back(p + n, t);
    }
  }
  return out;
}

//! The bytes `t` (f32) should have in the file when stored as `dtype`.
std::vector<uint8_t> Expected(const WeightTensor& t, DType dtype) {
  const uint64_t row_bytes = *DTypeRowBytes(dtype, t.cols);
  std::vector<uint8_t> out(row_bytes * static_cast<uint64_t>(t.rows));
  const auto* src = static_cast<const float*>(t.data);
  for (int64_t r = 0; r < t.rows; ++r) {
    uint8_t* dst = out.data() + r * row_bytes;
    const float* row = src + r * t.cols;
    for (int64_t i = 0; i < t.cols; ++i) {
      if (dtype == DType::kF32) {
        std::memcpy(dst + 4 * i, &row[i], 4);
      } else if (dtype == DType::kF16 || dtype == DType::kBF16) {
        uint16_t h = dtype == DType::kF16 ? Fp32ToFp16(row[i]) : Fp32ToBf16(row[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    }
    if (dtype == DType::kQ8_0) cpu::QuantizeRowQ8_0(row, reinterpret_cast<BlockQ8_0*>(dst), t.cols);
  }
  return out;
}

void ExpectTensorsStoredAs(const GgufFile& f, const MemoryModel& m, std::optional<DType> request) {
  for (const auto& [name, t] : Named(m.weights, m.config.tied_embeddings)) {
    const GgufTensorInfo* info = f.FindTensor(name);
    ASSERT_NE(info, nullptr) << name;
    const bool norm = t.rows == 1;
    DType want = DType::kF32;
    if (!norm && request) want = MatrixStorageDType(*request, t.cols);
    EXPECT_EQ(info->dtype, want) << name;
    if (norm) {
      EXPECT_EQ(info->dims, std::vector<int64_t>{t.cols}) << name;
    } else {
      EXPECT_EQ(info->dims, (std::vector<int64_t>{t.cols, t.rows})) << name;
    }
    std::span<const uint8_t> got = f.TensorData(*info);
    std::vector<uint8_t> expected = Expected(t, want);
    ASSERT_EQ(got.size(), expected.size()) << name;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin())) << name << " differs";
  }
}

TEST(GgufExport, F32KeepsEveryByteAndWritesLlamaMetadata) {
  TempDir dir;
  auto m = SmallModel();
  GgufExportOptions options;
  options.name = "small";
  options.extra_strings = {{"meridian.note", "x"}};
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "m.gguf", options).ok());
  auto f = Open(dir / "m.gguf");
  ASSERT_NE(f, nullptr);
  ExpectTensorsStoredAs(*f, *m, std::nullopt);
  EXPECT_EQ(f->tensors().size(), 3u + 9u * 2u);
  EXPECT_EQ(*f->GetString("general.architecture"), "llama");
  EXPECT_EQ(*f->GetString("general.name"), "small");
  EXPECT_EQ(*f->GetUint("general.file_type"), 0u);
  EXPECT_EQ(*f->GetUint("llama.embedding_length"), 64u);
  EXPECT_EQ(*f->GetUint("llama.block_count"), 2u);
  EXPECT_EQ(*f->GetUint("llama.feed_forward_length"), 80u);
  EXPECT_EQ(*f->GetUint("llama.attention.head_count"), 4u);
  EXPECT_EQ(*f->GetUint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(*f->GetUint("llama.rope.dimension_count"), 16u);
  EXPECT_EQ(*f->GetUint("llama.context_length"), 128u);
  EXPECT_EQ(*f->GetUint("llama.vocab_size"), 300u);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->GetFloat("llama.attention.layer_norm_rms_epsilon")), 1e-6f);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->GetFloat("llama.rope.freq_base")), 500000.0f);
  EXPECT_EQ(f->Find("llama.rope.scaling.type"), nullptr);
  EXPECT_EQ(*f->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f->Find("tokenizer.ggml.tokens")->str_array, m->vocab.tokens);
  EXPECT_EQ(f->Find("tokenizer.ggml.scores")->float_array.size(), 300u);
  EXPECT_EQ(f->Find("tokenizer.ggml.token_type")->int_array[5], static_cast<int64_t>(TokenType::kByte));
  EXPECT_EQ(*f->GetUint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*f->GetUint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f->GetUint("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_EQ(f->Find("tokenizer.ggml.padding_token_id"), nullptr);
  EXPECT_TRUE(*f->GetBool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(*f->GetBool("tokenizer.ggml.add_eos_token"));
  EXPECT_TRUE(*f->GetBool("tokenizer.ggml.add_space_prefix"));
  EXPECT_EQ(*f->GetString("tokenizer.chat_template"), m->vocab.chat_template);
  EXPECT_EQ(*f->GetString("meridian.note"), "x");
}

TEST(GgufExport, F16AndBf16RoundEveryMatrixValue) {
  for (DType dtype : {DType::kF16, DType::kBF16}) {
    TempDir dir;
    auto m = SmallModel();
    ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, dtype, dir / "m.gguf").ok());
    auto f = Open(dir / "m.gguf");
    ASSERT_NE(f, nullptr);
    ExpectTensorsStoredAs(*f, *m, dtype);
    EXPECT_EQ(*f->GetUint("general.file_type"), dtype == DType::kF16 ? 1u : 32u);
  }
}

TEST(GgufExport, Q8_0EqualsQuantizeRowOfTheSource) {
  TempDir dir;
  auto m = SmallModel();
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, DType::kQ8_0, dir / "m.gguf").ok());
  auto f = Open(dir / "m.gguf");
  ASSERT_NE(f, nullptr);
  ExpectTensorsStoredAs(*f, *m, DType::kQ8_0);
  EXPECT_EQ(f->FindTensor("blk.0.ffn_down.weight")->dtype, DType::kF16) << "80 columns: no Q8_0 blocks";
  EXPECT_EQ(f->FindTensor("blk.0.ffn_up.weight")->dtype, DType::kQ8_0);
  EXPECT_EQ(*f->GetUint("general.file_type"), 7u);
  EXPECT_EQ(*f->GetUint("general.quantization_version"), 2u);

  // Exporting the Q8_0 weights again keeps their bytes (no requantization).
  ModelWeights q = m->weights;
  auto view = [&](const char* name, WeightTensor& t) {
    const GgufTensorInfo* info = f->FindTensor(name);
    t.dtype = info->dtype;
    t.data = f->TensorData(*info).data();
  };
  view("token_embd.weight", q.token_embd);
  view("output.weight", q.output);
  view("output_norm.weight", q.output_norm);
  for (size_t i = 0; i < q.layers.size(); ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = q.layers[i];
    for (auto [n, t] : {std::pair{"attn_norm.weight", &l.attn_norm}, std::pair{"attn_q.weight", &l.wq},
                        std::pair{"attn_k.weight", &l.wk}, std::pair{"attn_v.weight", &l.wv},
                        std::pair{"attn_output.weight", &l.wo}, std::pair{"ffn_norm.weight", &l.ffn_norm},
                        std::pair{"ffn_gate.weight", &l.w_gate}, std::pair{"ffn_up.weight", &l.w_up},
                        std::pair{"ffn_down.weight", &l.w_down}}) {
      view((p + n).c_str(), *t);
    }
  }
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, q, std::nullopt, dir / "again.gguf").ok());
  auto again = Open(dir / "again.gguf");
  ASSERT_NE(again, nullptr);
  for (const GgufTensorInfo& info : f->tensors()) {
    const GgufTensorInfo* other = again->FindTensor(info.name);
    ASSERT_NE(other, nullptr) << info.name;
    EXPECT_EQ(other->dtype, info.dtype) << info.name;
    auto a = f->TensorData(info), b = again->TensorData(*other);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << info.name;
  }
  // And Q8_0 -> F16 dequantizes through f32.
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, q, DType::kF16, dir / "f16.gguf").ok());
  auto f16 = Open(dir / "f16.gguf");
  ASSERT_NE(f16, nullptr);
  const GgufTensorInfo* up = f16->FindTensor("blk.1.ffn_up.weight");
  ASSERT_EQ(up->dtype, DType::kF16);
  std::vector<float> row(64);
  cpu::DequantizeRow(DType::kQ8_0, f->TensorData(*f->FindTensor("blk.1.ffn_up.weight")).data(), row.data(),
                     64);
  uint16_t h;
  std::memcpy(&h, f16->TensorData(*up).data() + 2 * 7, 2);
  EXPECT_EQ(h, Fp32ToFp16(row[7]));
}

TEST(GgufExport, TiedEmbeddingsOmitTheOutputMatrix) {
  TempDir dir;
  auto m = SmallModel(/*tied=*/true);
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "m.gguf").ok());
  auto f = Open(dir / "m.gguf");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->FindTensor("output.weight"), nullptr);
  ExpectTensorsStoredAs(*f, *m, std::nullopt);
  // Shared memory means tied even when the config flag is off.
  m->config.tied_embeddings = false;
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "n.gguf").ok());
  auto n = Open(dir / "n.gguf");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->FindTensor("output.weight"), nullptr);
}

TEST(GgufExport, RopeScaling) {
  TempDir dir;
  auto m = SmallModel();
  m->config.rope_scaling = RopeScalingType::kLinear;
  m->config.rope_factor = 4.0f;
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "linear.gguf").ok());
  auto lin = Open(dir / "linear.gguf");
  ASSERT_NE(lin, nullptr);
  EXPECT_EQ(*lin->GetString("llama.rope.scaling.type"), "linear");
  EXPECT_FLOAT_EQ(static_cast<float>(*lin->GetFloat("llama.rope.scaling.factor")), 4.0f);

  m->config.rope_scaling = RopeScalingType::kLlama3;
  Status missing = WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "l3.gguf");
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  m->config.rope_freq_factors.assign(8, 1.0f);
  m->config.rope_freq_factors[7] = 8.0f;
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "l3.gguf").ok());
  auto l3 = Open(dir / "l3.gguf");
  ASSERT_NE(l3, nullptr);
  EXPECT_EQ(l3->Find("llama.rope.scaling.type"), nullptr) << "llama.cpp would add linear scaling on top";
  const GgufTensorInfo* freqs = l3->FindTensor("rope_freqs.weight");
  ASSERT_NE(freqs, nullptr);
  EXPECT_EQ(freqs->dims, std::vector<int64_t>{8});
  float last;
  std::memcpy(&last, l3->TensorData(*freqs).data() + 28, 4);
  EXPECT_EQ(last, 8.0f);
}

TEST(GgufExport, VocabularyRoundTripsThroughTheGgufReader) {
  TempDir dir;
  auto m = SmallModel();
  m->vocab.eog_ids = {5};
  ASSERT_TRUE(WriteLlamaGguf(m->config, m->vocab, m->weights, std::nullopt, dir / "m.gguf").ok());
  auto f = Open(dir / "m.gguf");
  ASSERT_NE(f, nullptr);
  auto v = VocabFromGguf(*f);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->kind, TokenizerKind::kSentencePiece);
  EXPECT_EQ(v->tokens, m->vocab.tokens);
  EXPECT_EQ(v->scores, m->vocab.scores);
  EXPECT_EQ(v->token_types, m->vocab.token_types);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_EQ(v->add_bos, true);
  EXPECT_EQ(v->add_space_prefix, true);
  EXPECT_EQ(v->chat_template, m->vocab.chat_template);
  EXPECT_EQ(*f->GetUint("tokenizer.ggml.eot_token_id"), 5u);
}

TEST(GgufExport, RefusesInconsistentInput) {
  TempDir dir;
  auto expect = [&](const MemoryModel& m, const char* part) {
    Status s = WriteLlamaGguf(m.config, m.vocab, m.weights, DType::kF16, dir / "bad.gguf");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message() << " lacks " << part;
    EXPECT_FALSE(std::filesystem::exists(dir / "bad.gguf"));
  };
  auto m = SmallModel();
  m->vocab.tokens.pop_back();
  expect(*m, "299 tokens");
  m = SmallModel();
  m->weights.layers.pop_back();
  expect(*m, "1 layers");
  m = SmallModel();
  m->weights.layers[1].wk.rows = 64;
  expect(*m, "blk.1.attn_k.weight");
  m = SmallModel();
  m->weights.layers[0].w_up.data = nullptr;
  expect(*m, "no data");
  m = SmallModel();
  m->vocab.bos_id = 300;
  expect(*m, "outside the vocabulary");
}

}  // namespace
}  // namespace meridian::engine
