// Helpers shared by the subcommands: the default model path, model loading with a clear error,
// and a monotonic clock.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/flags.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"

namespace meridian::cli {

//! The model the project ships: $MERIDIAN_MODEL if set, else models/meridian-brown-q8_0.gguf next
//! to the installed binary or in the source tree it was built from.
std::string DefaultModelPath();

//! Loads a model (or prints why not to stderr and returns nullptr). `quantize` is "", "q8_0".
std::unique_ptr<engine::Model> LoadModelOrExplain(const std::string& path, const std::string& quantize);

//! --backend and --gpu-memory-fraction, shared by the subcommands that run a model.
struct BackendFlags {
  std::string backend = "cpu";
  float gpu_memory_fraction = 0.9f;
};
void AddBackendFlags(FlagSet& flags, BackendFlags* values);
//! Sets options->kind and gpu_memory_fraction; prints "`command`: why" and returns false if invalid.
bool ApplyBackendFlags(const BackendFlags& values, engine::BackendOptions* options, const char* command);

inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace meridian::cli
