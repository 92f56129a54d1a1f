// Hugging Face model configuration: config.json (LlamaForCausalLM, MistralForCausalLM) to a
// LlamaConfig, and the defaults of generation_config.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/model/llama_config.h"

namespace meridian::engine {

//! Reads `path` (a config.json, or a directory holding one). Missing optional fields take
//! transformers' LlamaConfig defaults; the shape fields (hidden_size, intermediate_size,
//! num_hidden_layers, num_attention_heads, vocab_size) are required. Unsupported features
//! (another architecture, biases, an activation other than SiLU, dynamic/YaRN RoPE scaling) are
//! kUnimplemented; a malformed file is kInvalidArgument. Mistral's sliding_window, when set,
//! caps context_length (attention over at most that many tokens is the same with or without a
//! window). For llama3 scaling the parameters are set and rope_freq_factors is left empty (the
//! caller runs LlamaConfig::ComputeLlama3FreqFactors). The caller also runs Validate().
Result<LlamaConfig> LlamaConfigFromHfJson(const std::string& path);
//! The same from JSON text; `name` prefixes messages.
Result<LlamaConfig> LlamaConfigFromHfJsonText(std::string_view text, const std::string& name = "config.json");

//! The parts of generation_config.json that Meridian uses as defaults.
struct HfGenerationConfig {
  std::vector<int32_t> eos_token_ids;  //!< eos_token_id, an int or a list
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> pad_token_id;
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int32_t> top_k;
  std::optional<bool> do_sample;  //!< false means greedy, whatever temperature says
};

//! Reads `path` (generation_config.json or its directory). Fields of the wrong type are
//! InvalidArgument; unknown fields are ignored.
Result<HfGenerationConfig> ReadHfGenerationConfig(const std::string& path);
Result<HfGenerationConfig> HfGenerationConfigFromText(std::string_view text,
                                                      const std::string& name = "generation_config.json");

}  // namespace meridian::engine
