// Loads a Hugging Face model directory through HfCheckpoint: config.json, tokenizer, and
// safetensors weights (zero-copy where the layout allows; Q/K rows permuted into GGUF order).
#include "engine/convert/hf_checkpoint.h"
#include "engine/model/model_storage.h"

namespace meridian::engine {

Status LoadHfModel(const std::string& dir, const LoadOptions& options, Model& model) {
  auto opened = HfCheckpoint::Open(dir);
  if (!opened.ok()) return opened.status();
  std::shared_ptr<HfCheckpoint> checkpoint = std::move(*opened);
  LlamaConfig config = checkpoint->config();
  if (config.rope_scaling == RopeScalingType::kLlama3 && config.rope_freq_factors.empty()) {
    config.ComputeLlama3FreqFactors();
  }
  MERIDIAN_RETURN_IF_ERROR(config.Validate().WithContext(dir + "/config.json"));
  auto weights = checkpoint->Weights();
  if (!weights.ok()) return weights.status();
  auto tokenizer = MakeTokenizer(checkpoint->vocab());
  if (!tokenizer.ok()) return tokenizer.status().WithContext(dir + "/" + checkpoint->tokenizer_file());
  model.config_ = std::move(config);
  model.weights_ = std::move(*weights);
  model.tokenizer_ = std::move(*tokenizer);
  model.storage_->keep_alive.push_back(std::move(checkpoint));
  return FinishWeights(options, model).WithContext(dir);
}

}  // namespace meridian::engine
