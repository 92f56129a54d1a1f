// Model::Storage: what keeps a model's weight memory alive (file mappings, checkpoints, owned
// buffers), shared by the GGUF and Hugging Face loaders.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/model.h"

namespace meridian::engine {

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedFree>;

struct Model::Storage {
  std::unique_ptr<GgufFile> gguf;
  std::vector<std::shared_ptr<void>> keep_alive;  //!< e.g. an open Hugging Face checkpoint
  std::vector<AlignedBuffer> buffers;

  //! A 64-byte aligned buffer owned by the model.
  uint8_t* Allocate(uint64_t bytes);
};

//! Loaders, one per format (model_load_gguf.cpp, model_load_hf.cpp).
Status LoadGgufModel(const std::string& path, const LoadOptions& options, Model& model);
Status LoadHfModel(const std::string& dir, const LoadOptions& options, Model& model);

//! Shared post-processing: norms to f32, optional quantization, shape checks.
//! `source` says where each tensor came from, for messages.
Status FinishWeights(const LoadOptions& options, Model& model);

}  // namespace meridian::engine
