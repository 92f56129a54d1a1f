// The tensors of a llama model: GGUF name, Hugging Face name, shape and role, in one table that
// the checkpoint reader, the exporter and the random-model generator share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/llama_config.h"

namespace meridian::engine {

enum class LlamaTensorRole {
  kTokenEmbedding,
  kAttnNorm,
  kQ,
  kK,
  kV,
  kAttnOutput,
  kFfnNorm,
  kGate,
  kUp,
  kDown,
  kOutputNorm,
  kOutput,
};

struct LlamaTensorSpec {
  std::string gguf_name;  //!< "blk.3.attn_q.weight"
  std::string hf_name;    //!< "model.layers.3.self_attn.q_proj.weight"
  LlamaTensorRole role = LlamaTensorRole::kTokenEmbedding;
  int32_t layer = -1;  //!< -1 for tensors outside the blocks
  int64_t rows = 1;    //!< output features (1 for a norm vector)
  int64_t cols = 0;    //!< input features
  bool is_norm() const {
    return role == LlamaTensorRole::kAttnNorm || role == LlamaTensorRole::kFfnNorm ||
           role == LlamaTensorRole::kOutputNorm;
  }
  //! Q and K rows differ between Hugging Face and GGUF order (see row_convert.h).
  bool is_rope_permuted() const { return role == LlamaTensorRole::kQ || role == LlamaTensorRole::kK; }
};

//! Every tensor of a model with `config`, in file order: token_embd, the blocks, output_norm,
//! output (absent when config.tied_embeddings).
std::vector<LlamaTensorSpec> LlamaTensors(const LlamaConfig& config);
//! The entry for a GGUF tensor name, or nullopt (including output.weight of a tied model).
std::optional<LlamaTensorSpec> FindLlamaTensor(const LlamaConfig& config, std::string_view gguf_name);

}  // namespace meridian::engine
