// `meridian quantize IN OUT.gguf --type q8_0|f16|bf16|f32`: converts a GGUF file or a Hugging Face
// directory into a llama GGUF that other GGUF readers load.
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "engine/convert/gguf_export.h"

namespace meridian::cli {

int RunQuantize(int argc, char** argv) {
  std::string type = "q8_0";
  std::string name;
  int32_t threads = 0;
  FlagSet flags("meridian quantize IN OUT.gguf [--type q8_0|f16|bf16|f32]");
  flags.String("type", &type, "matrix type of the output (norms stay f32)");
  flags.String("name", &name, "general.name of the output (default: the input's base name)");
  flags.Int32("threads", &threads, "conversion threads (0: all cores)");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;
  if (flags.positional().size() != 2) {
    std::fprintf(stderr, "meridian quantize: expected IN and OUT.gguf, got %zu arguments\n", flags.positional().size());
    return 2;
  }
  const std::string& in = flags.positional()[0];
  const std::string& out = flags.positional()[1];
  auto dtype = engine::DTypeFromName(type);
  if (!dtype) {
    std::fprintf(stderr, "meridian quantize: --type: unknown type '%s' (q8_0, f16, bf16, f32)\n", type.c_str());
    return 2;
  }
  if (in == out) {
    std::fprintf(stderr, "meridian quantize: input and output are the same file\n");
    return 2;
  }
  const double t0 = NowSeconds();
  auto model = LoadModelOrExplain(in, "");
  if (!model) return 1;
  engine::GgufExportOptions options;
  options.n_threads = threads;
  if (!name.empty()) {
    options.name = name;
  } else {
    std::string base = in;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    options.name = base.substr(base.find_last_of('/') + 1);
  }
  Status s = engine::WriteLlamaGguf(model->config(), model->tokenizer().vocab(), model->weights(), *dtype, out, options);
  if (!s.ok()) {
    std::fprintf(stderr, "meridian quantize: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "meridian quantize: wrote %s (%s) in %.1f s\n", out.c_str(), type.c_str(), NowSeconds() - t0);
  return 0;
}

}  // namespace meridian::cli
