// A loaded model: config, tokenizer and weights. Weights point into a memory-mapped file where the
// on-disk layout is already the one the backends use, and into owned buffers otherwise
// (converted or quantized at load time). Immutable after loading; shared by reference.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/dtype/dtype.h"
#include "engine/model/llama_config.h"
#include "engine/model/weight_tensor.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {

struct LayerWeights {
  WeightTensor attn_norm;  //!< f32 [dim]
  WeightTensor wq;         //!< [q_dim, dim], rows in GGUF (interleaved-pair RoPE) order
  WeightTensor wk;         //!< [kv_dim, dim], likewise
  WeightTensor wv;         //!< [kv_dim, dim]
  WeightTensor wo;         //!< [dim, q_dim]
  WeightTensor ffn_norm;   //!< f32 [dim]
  WeightTensor w_gate;     //!< [ffn_dim, dim]
  WeightTensor w_up;       //!< [ffn_dim, dim]
  WeightTensor w_down;     //!< [dim, ffn_dim]
};

struct ModelWeights {
  WeightTensor token_embd;   //!< [n_vocab, dim]
  std::vector<LayerWeights> layers;
  WeightTensor output_norm;  //!< f32 [dim]
  WeightTensor output;       //!< [n_vocab, dim]; == token_embd when embeddings are tied
};

//! Options for loading.
struct LoadOptions {
  //! Quantize F32/F16/BF16 matrices to this type at load time (keeps no full-precision copy).
  std::optional<DType> quantize;
};

class Model {
 public:
  //! Loads a GGUF file or a Hugging Face model directory (config.json + safetensors).
  static Result<std::unique_ptr<Model>> Load(const std::string& path, const LoadOptions& options = {});

  ~Model();
  const LlamaConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& path() const { return path_; }
  //! Bytes of weight data read to produce one token (every matrix once, one embedding row).
  uint64_t WeightBytesPerToken() const;
  //! Total bytes of all weights.
  uint64_t WeightBytes() const;
  //! True if [p, p + n) is a read-only file mapping of the model (whose pages can be dropped and
  //! re-read), false for owned memory.
  bool IsFileMapped(const void* p, uint64_t n) const;
  //! The dtype most matrices have ("q8_0", "f16", ...), for reports.
  DType main_dtype() const;

  // Used by the loaders.
  struct Storage;
  Model();
  LlamaConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string path_;
  std::unique_ptr<Storage> storage_;  //!< keeps mappings and owned buffers alive
};

}  // namespace meridian::engine
