// Hyper-parameters of a LLaMA-family model, from GGUF metadata or a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::engine {

enum class RopeScalingType { kNone, kLinear, kLlama3 };

struct LlamaConfig {
  std::string architecture = "llama";
  int32_t n_vocab = 0;
  int32_t dim = 0;          //!< embedding length
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;   //!< < n_heads for grouped-query attention
  int32_t head_dim = 0;     //!< dim / n_heads unless the checkpoint says otherwise
  int32_t ffn_dim = 0;
  int32_t context_length = 0;
  float rms_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScalingType rope_scaling = RopeScalingType::kNone;
  float rope_factor = 1.0f;              //!< linear: positions divided by factor; llama3: factor
  float rope_low_freq_factor = 1.0f;     //!< llama3 only
  float rope_high_freq_factor = 4.0f;    //!< llama3 only
  int32_t rope_original_context = 8192;  //!< llama3 only
  bool tied_embeddings = false;          //!< output projection shares token_embd
  //! Per-pair frequency divisors (head_dim / 2 values; empty: none). LLaMA-3.1 style scaling is
  //! expressed this way (GGUF stores them as rope_freqs.weight; for HF configs they are computed).
  std::vector<float> rope_freq_factors;

  //! Checks ranges and divisibility (heads, GQA groups, even head_dim); InvalidArgument otherwise.
  Status Validate() const;
  //! Fills rope_freq_factors from the llama3 scaling parameters (as Hugging Face computes them).
  void ComputeLlama3FreqFactors();
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
  int32_t q_dim() const { return n_heads * head_dim; }
};

}  // namespace meridian::engine
