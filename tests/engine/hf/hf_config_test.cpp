// config.json and generation_config.json: real configs of LLaMA-2, Mistral, LLaMA-3.1 and
// TinyLlama shapes, the optional fields, and what is refused.
#include "engine/hf/hf_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace meridian::engine {
namespace {

Result<LlamaConfig> Parse(const std::string& text) {
  return LlamaConfigFromHfJsonText(text, "config.json");
}

void ExpectError(const std::string& text, StatusCode code, const char* part) {
  auto r = Parse(text);
  ASSERT_FALSE(r.ok()) << "accepted: " << text;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message() << " lacks " << part;
}

const char* kLlama2 = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
  "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096,
  "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false,
  "vocab_size": 32000, "torch_dtype": "float16", "pretraining_tp": 1})";

TEST(HfConfig, Llama2) {
  auto r = Parse(kLlama2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const LlamaConfig& c = *r;
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.dim, 4096);
  EXPECT_EQ(c.ffn_dim, 11008);
  EXPECT_EQ(c.n_layers, 32);
  EXPECT_EQ(c.n_heads, 32);
  EXPECT_EQ(c.n_kv_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.context_length, 4096);
  EXPECT_EQ(c.n_vocab, 32000);
  EXPECT_FLOAT_EQ(c.rms_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);  // the default when absent
  EXPECT_EQ(c.rope_scaling, RopeScalingType::kNone);
  EXPECT_FALSE(c.tied_embeddings);
}

TEST(HfConfig, MistralSlidingWindowCapsTheContext) {
  auto r = Parse(R"({"architectures": ["MistralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 32768, "sliding_window": 4096, "rope_theta": 10000.0,
    "rms_norm_eps": 1e-05, "vocab_size": 32000})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n_kv_heads, 8);
  EXPECT_EQ(r->context_length, 4096);
  // Mistral 7B v0.2 has no window: the whole context stays.
  auto v2 =
      Parse(R"({"architectures": ["MistralForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 32768, "sliding_window": null, "rope_theta": 1000000.0, "vocab_size": 32000})");
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->context_length, 32768);
  EXPECT_FLOAT_EQ(v2->rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(v2->rms_eps, 1e-6f);  // transformers' default
}

TEST(HfConfig, Llama31WithLlama3RopeScalingAndGqa) {
  auto r = Parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 131072, "rope_theta": 500000.0, "vocab_size": 128256,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "eos_token_id": [128001, 128008, 128009], "tie_word_embeddings": false})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rope_scaling, RopeScalingType::kLlama3);
  EXPECT_FLOAT_EQ(r->rope_factor, 8.0f);
  EXPECT_FLOAT_EQ(r->rope_low_freq_factor, 1.0f);
  EXPECT_FLOAT_EQ(r->rope_high_freq_factor, 4.0f);
  EXPECT_EQ(r->rope_original_context, 8192);
  EXPECT_FLOAT_EQ(r->rope_theta, 500000.0f);
  EXPECT_TRUE(r->rope_freq_factors.empty()) << "computed by the loader";
  EXPECT_EQ(r->kv_dim(), 1024);
}

TEST(HfConfig, LinearScalingTiedEmbeddingsAndExplicitHeadDim) {
  auto r = Parse(R"({"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632,
    "num_hidden_layers": 22, "num_attention_heads": 32, "num_key_value_heads": null, "head_dim": 96,
    "vocab_size": 32000, "tie_word_embeddings": true, "rope_scaling": {"type": "linear", "factor": 4}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->n_kv_heads, 32) << "null and absent both mean num_attention_heads";
  EXPECT_EQ(r->head_dim, 96);
  EXPECT_EQ(r->q_dim(), 3072);
  EXPECT_TRUE(r->tied_embeddings);
  EXPECT_EQ(r->rope_scaling, RopeScalingType::kLinear);
  EXPECT_FLOAT_EQ(r->rope_factor, 4.0f);
  EXPECT_EQ(r->context_length, 2048);  // transformers' default max_position_embeddings
  // rope_type "default" is no scaling.
  auto d =
      Parse(R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300, "rope_scaling": {"rope_type": "default"}})");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->rope_scaling, RopeScalingType::kNone);
}

TEST(HfConfig, RefusesUnsupportedModels) {
  ExpectError(R"({"architectures": ["GPT2LMHeadModel"], "vocab_size": 5})", StatusCode::kUnimplemented,
              "GPT2LMHeadModel");
  ExpectError(R"({"model_type": "qwen2", "vocab_size": 5})", StatusCode::kUnimplemented, "LlamaForCausalLM");
  const std::string base =
      R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 1, "num_attention_heads": 4, "vocab_size": 300, )";
  ExpectError(base + R"("rope_scaling": {"rope_type": "yarn", "factor": 4.0}})", StatusCode::kUnimplemented,
              "yarn");
  ExpectError(base + R"("rope_scaling": {"type": "dynamic", "factor": 2.0}})", StatusCode::kUnimplemented,
              "dynamic");
  ExpectError(base + R"("attention_bias": true})", StatusCode::kUnimplemented, "attention_bias");
  ExpectError(base + R"("mlp_bias": true})", StatusCode::kUnimplemented, "mlp_bias");
  ExpectError(base + R"("hidden_act": "gelu"})", StatusCode::kUnimplemented, "gelu");
}

TEST(HfConfig, RefusesMalformedConfigs) {
  ExpectError("{", StatusCode::kInvalidArgument, "not valid JSON");
  ExpectError("[]", StatusCode::kInvalidArgument, "not a JSON object");
  const std::string arch = R"({"architectures": ["LlamaForCausalLM"], )";
  ExpectError(arch + R"("intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
    "vocab_size": 300})",
              StatusCode::kInvalidArgument, "'hidden_size' is missing");
  ExpectError(arch + R"("hidden_size": "64", "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300})",
              StatusCode::kInvalidArgument, "must be an integer");
  ExpectError(arch + R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 0, "vocab_size": 300})",
              StatusCode::kInvalidArgument, "out of range");
  ExpectError(arch + R"("hidden_size": 18446744073709551615, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300})",
              StatusCode::kInvalidArgument, "too large");
  ExpectError(arch + R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300, "rms_norm_eps": "small"})",
              StatusCode::kInvalidArgument, "must be a number");
  ExpectError(arch + R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300, "rope_theta": 1e300})",
              StatusCode::kInvalidArgument, "finite");
  ExpectError(arch + R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300, "tie_word_embeddings": 1})",
              StatusCode::kInvalidArgument, "true or false");
  ExpectError(arch + R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 4, "vocab_size": 300, "rope_scaling": {"type": "linear"}})",
              StatusCode::kInvalidArgument, "factor");
  ExpectError(R"({"architectures": "LlamaForCausalLM"})", StatusCode::kInvalidArgument, "list of strings");
}

TEST(HfConfig, ReadsFilesAndDirectories) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("meridian_hfcfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << kLlama2;
  std::ofstream(dir / "generation_config.json")
      << R"({"eos_token_id": 2, "bos_token_id": 1, "do_sample": true,
    "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.31.0"})";
  auto by_dir = LlamaConfigFromHfJson(dir.string());
  auto by_file = LlamaConfigFromHfJson((dir / "config.json").string());
  ASSERT_TRUE(by_dir.ok()) << by_dir.status().ToString();
  ASSERT_TRUE(by_file.ok());
  EXPECT_EQ(by_dir->dim, by_file->dim);
  auto g = ReadHfGenerationConfig(dir.string());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->eos_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(g->bos_token_id, 1);
  EXPECT_FLOAT_EQ(*g->temperature, 0.6f);
  EXPECT_FLOAT_EQ(*g->top_p, 0.9f);
  EXPECT_FALSE(g->top_k.has_value());
  EXPECT_EQ(g->do_sample, true);
  EXPECT_EQ(LlamaConfigFromHfJson((dir / "nope").string()).status().code(), StatusCode::kNotFound);
  fs::remove_all(dir);
}

TEST(HfGenerationConfig, EosListsAndTypeErrors) {
  auto g =
      HfGenerationConfigFromText(R"({"eos_token_id": [128001, 128009], "top_k": 40, "pad_token_id": null})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(g->top_k, 40);
  EXPECT_FALSE(g->pad_token_id.has_value());
  EXPECT_FALSE(HfGenerationConfigFromText(R"({"eos_token_id": "2"})").ok());
  EXPECT_FALSE(HfGenerationConfigFromText(R"({"eos_token_id": [-1]})").ok());
  EXPECT_FALSE(HfGenerationConfigFromText(R"({"temperature": "hot"})").ok());
  EXPECT_FALSE(HfGenerationConfigFromText(R"({"do_sample": "yes"})").ok());
  EXPECT_FALSE(HfGenerationConfigFromText("null").ok());
}

}  // namespace
}  // namespace meridian::engine
