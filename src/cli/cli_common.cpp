// Shared subcommand helpers.
#include "cli/cli_common.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "engine/dtype/dtype.h"

namespace meridian::cli {

namespace {
constexpr const char* kShippedModel = "models/meridian-brown-q8_0.gguf";
}

std::string DefaultModelPath() {
  if (const char* env = std::getenv("MERIDIAN_MODEL"); env != nullptr && *env != '\0') return env;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      for (const fs::path& candidate : {dir / kShippedModel, dir / "share/meridian" / kShippedModel}) {
        if (fs::exists(candidate, ec)) return candidate.string();
      }
    }
  }
  return std::string(MERIDIAN_SOURCE_DIR) + "/" + kShippedModel;
}

std::unique_ptr<engine::Model> LoadModelOrExplain(const std::string& path, const std::string& quantize) {
  engine::LoadOptions options;
  if (!quantize.empty()) {
    auto dtype = engine::DTypeFromName(quantize);
    if (!dtype || *dtype != engine::DType::kQ8_0) {
      std::fprintf(stderr, "meridian: --quantize: unsupported type '%s' (supported: q8_0)\n", quantize.c_str());
      return nullptr;
    }
    options.quantize = dtype;
  }
  auto model = engine::Model::Load(path, options);
  if (!model.ok()) {
    std::fprintf(stderr, "meridian: cannot load model: %s\n", model.status().message().c_str());
    return nullptr;
  }
  return std::move(*model);
}

void AddBackendFlags(FlagSet& flags, BackendFlags* values) {
  flags.String("backend", &values->backend, "cpu or cuda (an NVIDIA GPU; see docs/cuda.md)");
  flags.Float("gpu-memory-fraction", &values->gpu_memory_fraction,
              "cuda: share of the GPU memory for weights, KV cache and scratch (0-1]");
}

bool ApplyBackendFlags(const BackendFlags& values, engine::BackendOptions* options, const char* command) {
  auto kind = engine::BackendKindFromName(values.backend);
  if (!kind.ok()) {
    std::fprintf(stderr, "%s: --backend: %s\n", command, kind.status().message().c_str());
    return false;
  }
  if (!(values.gpu_memory_fraction > 0.0f && values.gpu_memory_fraction <= 1.0f)) {
    std::fprintf(stderr, "%s: --gpu-memory-fraction must be in (0, 1]\n", command);
    return false;
  }
  options->kind = *kind;
  options->gpu_memory_fraction = values.gpu_memory_fraction;
  return true;
}

}  // namespace meridian::cli
