// The random-model generator: presets, determinism (same seed -> same bytes whatever the thread
// count), value statistics, the synthetic vocabulary and tokenizer.model, and GGUF vs Hugging Face
// holding the same weights once the Q/K permutation is undone.
#include "engine/convert/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "convert_test_util.h"
#include "engine/convert/hf_checkpoint.h"
#include "engine/gguf/gguf_file.h"

namespace meridian::engine {
namespace {

using testing_util::ReadFile;
using testing_util::TempDir;

RandomModelSpec Spec(const char* preset, DType dtype, uint64_t seed, bool tied = false) {
  auto s = RandomModelPreset(preset);
  EXPECT_TRUE(s.ok());
  RandomModelSpec spec = *s;
  spec.dtype = dtype;
  spec.seed = seed;
  spec.config.tied_embeddings = tied;
  return spec;
}

TEST(RandomModel, Presets) {
  EXPECT_EQ(RandomModelPresetNames().size(), 4u);
  auto tiny = RandomModelPreset("tiny");
  ASSERT_TRUE(tiny.ok());
  const LlamaConfig& c = tiny->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.ffn_dim, 176);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.context_length, 256);
  EXPECT_EQ(RandomModelPreset("tiny-gqa")->config.n_kv_heads, 2);
  auto tl = RandomModelPreset("tinyllama");
  EXPECT_EQ(tl->config.n_layers, 22);
  EXPECT_EQ(tl->config.kv_dim(), 256);
  EXPECT_EQ(tl->config.ffn_dim, 5632);
  auto l7 = RandomModelPreset("llama2-7b");
  EXPECT_EQ(l7->config.dim, 4096);
  EXPECT_EQ(l7->config.head_dim, 128);
  EXPECT_EQ(l7->config.ffn_dim, 11008);
  auto bad = RandomModelPreset("huge");
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("tinyllama"), std::string::npos);
}

TEST(RandomModel, SpecChecks) {
  RandomModelSpec s = Spec("tiny", DType::kQ8_0, 1);
  EXPECT_TRUE(CheckRandomModelSpec(s, false).ok());
  EXPECT_EQ(CheckRandomModelSpec(s, true).code(), StatusCode::kInvalidArgument);
  s = Spec("tiny", DType::kF32, 1);
  s.config.n_vocab = 100;
  EXPECT_EQ(CheckRandomModelSpec(s, false).code(), StatusCode::kInvalidArgument);
  s = Spec("tiny", DType::kF32, 1);
  s.config.head_dim = 15;
  EXPECT_EQ(CheckRandomModelSpec(s, false).code(), StatusCode::kInvalidArgument);
  s = Spec("tiny", DType::kF32, 1);
  s.config.n_kv_heads = 3;
  EXPECT_EQ(CheckRandomModelSpec(s, false).code(), StatusCode::kInvalidArgument);
  TempDir dir;
  EXPECT_FALSE(WriteRandomGguf(s, dir / "x.gguf").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "x.gguf"));
}

TEST(RandomModel, SameSeedSameBytesWhateverTheThreads) {
  TempDir dir;
  RandomModelSpec a = Spec("tiny-gqa", DType::kQ8_0, 7);
  a.n_threads = 1;
  RandomModelSpec b = a;
  b.n_threads = 5;
  ASSERT_TRUE(WriteRandomGguf(a, dir / "a.gguf").ok());
  ASSERT_TRUE(WriteRandomGguf(b, dir / "b.gguf").ok());
  const std::vector<uint8_t> bytes = ReadFile(dir / "a.gguf");
  EXPECT_GT(bytes.size(), 100000u);
  EXPECT_EQ(bytes, ReadFile(dir / "b.gguf"));
  RandomModelSpec c = a;
  c.seed = 8;
  ASSERT_TRUE(WriteRandomGguf(c, dir / "c.gguf").ok());
  EXPECT_NE(bytes, ReadFile(dir / "c.gguf"));

  RandomModelSpec h1 = Spec("tiny", DType::kBF16, 7);
  h1.n_threads = 1;
  RandomModelSpec h2 = h1;
  h2.n_threads = 4;
  ASSERT_TRUE(WriteRandomHfDir(h1, dir / "h1").ok());
  ASSERT_TRUE(WriteRandomHfDir(h2, dir / "h2").ok());
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.model", "tokenizer_config.json",
                        "generation_config.json", "special_tokens_map.json"}) {
    EXPECT_EQ(ReadFile(dir / (std::string("h1/") + f)), ReadFile(dir / (std::string("h2/") + f))) << f;
  }
}

TEST(RandomModel, PinnedValues) {
  // The goldens under tests/engine/model/golden depend on these exact values: a change to the
  // generator must regenerate them (docs/model-formats.md says how).
  RandomModelSpec spec = Spec("tiny", DType::kF32, 42);
  auto embd = FindLlamaTensor(spec.config, "token_embd.weight");
  std::vector<float> row(64);
  RandomModelRow(spec, *embd, 3, row.data());
  const uint32_t expected_bits[4] = {0xbe00bd76u, 0xbf113fabu, 0x3f83c56cu, 0xbf817276u};
  for (int i = 0; i < 4; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &row[static_cast<size_t>(i)], 4);
    EXPECT_EQ(bits, expected_bits[i]) << "element " << i << " = " << row[static_cast<size_t>(i)];
  }
}

//! Mean and standard deviation of a whole tensor.
std::pair<double, double> Moments(const RandomModelSpec& spec, const char* name) {
  auto t = FindLlamaTensor(spec.config, name);
  EXPECT_TRUE(t.has_value()) << name;
  std::vector<float> row(static_cast<size_t>(t->cols));
  double sum = 0, sum2 = 0;
  for (int64_t r = 0; r < t->rows; ++r) {
    RandomModelRow(spec, *t, r, row.data());
    for (float v : row) {
      sum += v;
      sum2 += static_cast<double>(v) * v;
    }
  }
  const double n = static_cast<double>(t->rows * t->cols);
  const double mean = sum / n;
  return {mean, std::sqrt(sum2 / n - mean * mean)};
}

TEST(RandomModel, ValuesLookLikeAnInitializedModel) {
  RandomModelSpec spec = Spec("tiny", DType::kF32, 3);
  auto [em, es] = Moments(spec, "token_embd.weight");
  EXPECT_NEAR(em, 0.0, 0.02);
  EXPECT_NEAR(es, 1.0, 0.03);
  auto [qm, qs] = Moments(spec, "blk.1.attn_q.weight");
  EXPECT_NEAR(qm, 0.0, 0.01);
  EXPECT_NEAR(qs, 1.0 / 8.0, 0.01);
  auto [dm, ds] = Moments(spec, "blk.0.ffn_down.weight");
  EXPECT_NEAR(ds, 1.0 / std::sqrt(176.0), 0.01);
  auto [om, os] = Moments(spec, "output.weight");
  EXPECT_NEAR(os, 2.0 / 8.0, 0.01);
  auto [nm, ns] = Moments(spec, "blk.0.attn_norm.weight");
  EXPECT_NEAR(nm, 1.0, 0.05);
  EXPECT_NEAR(ns, 0.1, 0.03);
  // Distinct rows and tensors differ.
  auto q = FindLlamaTensor(spec.config, "blk.0.attn_q.weight");
  auto k = FindLlamaTensor(spec.config, "blk.0.attn_k.weight");
  std::vector<float> a(64), b(64), c(64);
  RandomModelRow(spec, *q, 0, a.data());
  RandomModelRow(spec, *q, 1, b.data());
  RandomModelRow(spec, *k, 0, c.data());
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);

  RandomModelSpec tied = Spec("tiny", DType::kF32, 3, /*tied=*/true);
  auto [tm, ts] = Moments(tied, "output_norm.weight");
  EXPECT_NEAR(tm, 8.0, 0.4) << "scaled so tied logits stay well-conditioned";
  auto [tem, tes] = Moments(tied, "token_embd.weight");
  EXPECT_NEAR(tes, 0.25 / 8.0, 0.002);

  RandomModelSpec half = Spec("tiny", DType::kF16, 3);
  RandomModelRow(half, *q, 5, a.data());
  for (float v : a) EXPECT_EQ(v, Fp16ToFp32(Fp32ToFp16(v))) << "F16 models hold f16 values";
}

TEST(RandomModel, SyntheticVocabulary) {
  for (int32_t n : {260, 512, 32000}) {
    VocabData v = RandomModelVocab(n);
    ASSERT_EQ(v.tokens.size(), static_cast<size_t>(n));
    ASSERT_EQ(v.scores.size(), static_cast<size_t>(n));
    ASSERT_EQ(v.token_types.size(), static_cast<size_t>(n));
    EXPECT_EQ(v.tokens[0], "<unk>");
    EXPECT_EQ(v.tokens[1], "<s>");
    EXPECT_EQ(v.tokens[2], "</s>");
    EXPECT_EQ(v.tokens[3], "<0x00>");
    EXPECT_EQ(v.tokens[3 + 0x0A], "<0x0A>");
    EXPECT_EQ(v.tokens[258], "<0xFF>");
    EXPECT_EQ(v.token_types[0], static_cast<int32_t>(TokenType::kUnknown));
    EXPECT_EQ(v.token_types[1], static_cast<int32_t>(TokenType::kControl));
    EXPECT_EQ(v.token_types[100], static_cast<int32_t>(TokenType::kByte));
    EXPECT_EQ(v.tokens[259], "\xe2\x96\x81");
    std::set<std::string> unique(v.tokens.begin(), v.tokens.end());
    EXPECT_EQ(unique.size(), v.tokens.size()) << "duplicate pieces";
    for (int32_t i = 260; i < n; ++i) {
      const auto u = static_cast<size_t>(i);
      EXPECT_EQ(v.token_types[u], static_cast<int32_t>(TokenType::kNormal));
      EXPECT_LT(v.scores[u], v.scores[u - 1]) << "scores descend";
      // Every multi-character piece is a shorter piece plus one character, so BPE can build it.
      std::string p = v.tokens[u];
      size_t cut = p.size() - 1;
      if (p.size() > 3 && p.compare(0, 3, "\xe2\x96\x81") == 0 && p.size() == 4) continue;  // "▁x": "▁" + x
      if (p.size() == 1) continue;
      EXPECT_TRUE(unique.count(p.substr(0, cut))) << "'" << p << "' is unreachable";
    }
    EXPECT_EQ(v.bos_id, 1);
    EXPECT_EQ(v.eos_id, 2);
    EXPECT_EQ(v.unk_id, 0);
    EXPECT_TRUE(v.add_bos);
    EXPECT_FALSE(v.add_eos);
    EXPECT_NE(v.chat_template.find("[INST]"), std::string::npos);
  }
}

TEST(RandomModel, TokenizerEncodesWordsAsWholePieces) {
  auto tok = MakeTokenizer(RandomModelVocab(32000));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  auto ids = (*tok)->Encode("hello world", /*add_bos=*/true, /*parse_special=*/false);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ((*ids)[0], 1);
  EXPECT_EQ((*tok)->vocab().tokens[static_cast<size_t>((*ids)[1])], "\xe2\x96\x81hello");
  EXPECT_EQ((*tok)->vocab().tokens[static_cast<size_t>((*ids)[2])], "\xe2\x96\x81world");
  EXPECT_EQ((*tok)->Decode(*ids), "hello world");
}

TEST(RandomModel, HfDirectoryFiles) {
  TempDir dir;
  RandomModelSpec spec = Spec("tiny", DType::kF16, 11);
  ASSERT_TRUE(WriteRandomHfDir(spec, dir.str()).ok());
  auto v = VocabFromSentencePieceModel(dir / "tokenizer.model");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  VocabData want = RandomModelVocab(512);
  EXPECT_EQ(v->tokens, want.tokens);
  EXPECT_EQ(v->scores, want.scores);
  EXPECT_EQ(v->token_types, want.token_types);
  EXPECT_EQ(v->bos_id, 1);
  EXPECT_EQ(v->eos_id, 2);
  EXPECT_EQ(v->unk_id, 0);
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_TRUE(v->add_bos);
  EXPECT_EQ(v->chat_template, Llama2ChatTemplate()) << "from tokenizer_config.json";
  auto st = SafetensorsFile::Open(dir / "model.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)->tensors().size(), 3u + 9u * 2u);
  EXPECT_EQ((*st)->Find("model.norm.weight")->dtype, DType::kF16)
      << "HF stores every tensor in the model dtype";
  EXPECT_EQ((*st)->Find("model.layers.1.mlp.down_proj.weight")->shape, (std::vector<int64_t>{64, 176}));
  EXPECT_EQ((*st)->metadata().at("format"), "pt");
}

//! GGUF and HF forms of one spec hold the same weights, tensor by tensor, once HfCheckpoint
//! has permuted Q/K into GGUF order and converted norms to f32.
void ExpectSameModel(const RandomModelSpec& spec) {
  TempDir dir;
  ASSERT_TRUE(WriteRandomGguf(spec, dir / "m.gguf").ok());
  ASSERT_TRUE(WriteRandomHfDir(spec, dir / "hf").ok());
  auto gguf = GgufFile::Open(dir / "m.gguf");
  ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
  auto hf = HfCheckpoint::Open(dir / "hf");
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  int checked = 0;
  for (const LlamaTensorSpec& t : LlamaTensors(spec.config)) {
    const GgufTensorInfo* info = (*gguf)->FindTensor(t.gguf_name);
    ASSERT_NE(info, nullptr) << t.gguf_name;
    auto w = (*hf)->Weight(t.gguf_name);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w->dtype, info->dtype) << t.gguf_name;
    std::span<const uint8_t> g = (*gguf)->TensorData(*info);
    ASSERT_EQ(w->n_bytes(), g.size()) << t.gguf_name;
    EXPECT_EQ(std::memcmp(w->data, g.data(), g.size()), 0) << t.gguf_name << " differs";
    ++checked;
  }
  EXPECT_EQ(checked, spec.config.tied_embeddings ? 20 : 21);
  EXPECT_EQ((*gguf)->FindTensor("output.weight") == nullptr, spec.config.tied_embeddings);
}

TEST(RandomModel, GgufAndHfHoldTheSameModel) {
  ExpectSameModel(Spec("tiny", DType::kF32, 42));
  ExpectSameModel(Spec("tiny-gqa", DType::kF16, 42));
  ExpectSameModel(Spec("tiny-gqa", DType::kBF16, 5));
  ExpectSameModel(Spec("tiny", DType::kF32, 42, /*tied=*/true));
}

TEST(RandomModel, GgufMetadata) {
  TempDir dir;
  RandomModelSpec spec = Spec("tiny", DType::kQ8_0, 9);
  ASSERT_TRUE(WriteRandomGguf(spec, dir / "m.gguf").ok());
  auto f = GgufFile::Open(dir / "m.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*(*f)->GetUint("general.file_type"), 7u);
  EXPECT_EQ(*(*f)->GetString("general.name"), "meridian-random-tiny");
  EXPECT_EQ(*(*f)->GetString("meridian.random.seed"), "9");
  EXPECT_EQ((*f)->FindTensor("blk.0.attn_q.weight")->dtype, DType::kQ8_0);
  EXPECT_EQ((*f)->FindTensor("blk.0.ffn_down.weight")->dtype, DType::kF16) << "176 columns";
  EXPECT_EQ((*f)->FindTensor("blk.0.ffn_norm.weight")->dtype, DType::kF32);
}

}  // namespace
}  // namespace meridian::engine
