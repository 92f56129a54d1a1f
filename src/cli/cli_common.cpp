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

}  // namespace meridian::cli
