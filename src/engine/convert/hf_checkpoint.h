// A Hugging Face llama checkpoint directory opened for loading: config.json, the tokenizer
// (tokenizer.json, else tokenizer.model + tokenizer_config.json), generation_config.json, and the
// safetensors shards, with each weight served under its GGUF name in Meridian's layout.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/hf/hf_config.h"
#include "engine/hf/safetensors.h"
#include "engine/model/llama_config.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::engine {

//! Thread-safety: const methods are safe from any thread; Weight() and Weights() create owned
//! buffers and must not run concurrently with each other.
class HfCheckpoint {
 public:
  //! Opens `dir`. Errors name the file at fault: NotFound for a missing config/tokenizer/
  //! weights file, Unimplemented for an unsupported architecture or feature, DataLoss for a
  //! corrupt safetensors shard, InvalidArgument for an inconsistent config or vocabulary.
  static Result<std::unique_ptr<HfCheckpoint>> Open(const std::string& dir);

  ~HfCheckpoint();
  HfCheckpoint(const HfCheckpoint&) = delete;
  HfCheckpoint& operator=(const HfCheckpoint&) = delete;

  const std::string& dir() const { return dir_; }
  //! From config.json (llama3 rope_freq_factors not yet computed; Validate() not yet run).
  const LlamaConfig& config() const { return config_; }
  //! The vocabulary, padded with "[PAD<id>]" tokens (type unused) up to config().n_vocab when
  //! the checkpoint's embedding has more rows than the tokenizer has tokens. EOS ids of
  //! generation_config.json other than eos_id are added to eog_ids.
  const VocabData& vocab() const { return vocab_; }
  //! Defaults from generation_config.json (empty if the file is absent).
  const HfGenerationConfig& generation_config() const { return generation_; }
  //! "tokenizer.json" or "tokenizer.model": which file the vocabulary came from.
  const std::string& tokenizer_file() const { return tokenizer_file_; }
  const SafetensorsModel& safetensors() const { return *safetensors_; }

  //! The weight with GGUF name `gguf_name` ("blk.0.attn_q.weight") as Meridian lays it out:
  //! matrices [out, in] in their checkpoint dtype (F32/F16/BF16), zero-copy views into the
  //! mapping when aligned; Q and K rows permuted into GGUF order in owned memory; norms as F32
  //! (converted into owned memory when stored F16/BF16). For a tied model "output.weight" is
  //! the token embedding. The memory lives as long as this object. Repeated calls return the
  //! same view. NotFound for an unknown name or a tensor the checkpoint lacks; InvalidArgument
  //! for a shape that disagrees with config.json; Unimplemented for another dtype.
  Result<WeightTensor> Weight(std::string_view gguf_name);
  //! Every weight of the model (output == token_embd when tied).
  Result<ModelWeights> Weights();

 private:
  HfCheckpoint() = default;
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  uint8_t* Allocate(uint64_t bytes);

  std::string dir_;
  LlamaConfig config_;
  VocabData vocab_;
  HfGenerationConfig generation_;
  std::string tokenizer_file_;
  std::unique_ptr<SafetensorsModel> safetensors_;
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> owned_;
  std::map<std::string, WeightTensor, std::less<>> served_;
};

//! Same as HfCheckpoint::Open.
inline Result<std::unique_ptr<HfCheckpoint>> OpenHfCheckpoint(const std::string& dir) {
  return HfCheckpoint::Open(dir);
}

}  // namespace meridian::engine
