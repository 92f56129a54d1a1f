// `meridian make-model`: flags to a RandomModelSpec, then the GGUF or Hugging Face writer.
#include "cli/cmd_make_model.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>

#include "core/flags.h"
#include "engine/convert/random_model.h"

namespace meridian::cli {

int RunMakeModel(int argc, char** argv) {
  std::string preset = "tiny";
  std::string dtype_name = "f32";
  std::string format = "gguf";
  std::string out;
  int64_t seed = 0;
  bool tied = false;
  int32_t threads = 0;
  int32_t dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, ctx = 0;
  std::string presets;
  for (const std::string& p : engine::RandomModelPresetNames()) presets += (presets.empty() ? "" : "|") + p;
  FlagSet flags("meridian make-model --out PATH [flags]");
  flags.String("preset", &preset, "model shape: " + presets);
  flags.String("dtype", &dtype_name, "matrix type: f32|f16|bf16|q8_0 (q8_0: gguf only)");
  flags.String("format", &format, "gguf (one file) or hf (a Hugging Face directory)");
  flags.Int("seed", &seed, "weights seed (same seed: same bytes, and the same model in both formats)");
  flags.String("out", &out, "output file (gguf) or directory (hf)");
  flags.Bool("tied", &tied, "tie the output projection to the token embedding");
  flags.Int32("threads", &threads, "generator threads (0: all cores; the output never depends on it)");
  flags.Int32("dim", &dim, "override the embedding size (0: the preset's)");
  flags.Int32("layers", &layers, "override the layer count");
  flags.Int32("heads", &heads, "override the attention head count");
  flags.Int32("kv-heads", &kv_heads, "override the KV head count");
  flags.Int32("ffn", &ffn, "override the feed-forward size");
  flags.Int32("vocab", &vocab, "override the vocabulary size (at least 260)");
  flags.Int32("ctx", &ctx, "override the context length");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "meridian make-model: %s\n", message.c_str());
    return 2;
  };
  if (out.empty()) return fail("--out is required");
  if (format != "gguf" && format != "hf") return fail("--format must be gguf or hf, got '" + format + "'");
  if (seed < 0) return fail("--seed must not be negative");
  auto dtype = engine::DTypeFromName(dtype_name);
  if (!dtype) return fail("--dtype must be f32, f16, bf16 or q8_0, got '" + dtype_name + "'");

  auto spec_or = engine::RandomModelPreset(preset);
  if (!spec_or.ok()) return fail(spec_or.status().message());
  engine::RandomModelSpec spec = std::move(spec_or).value();
  engine::LlamaConfig& c = spec.config;
  for (auto [value, target, name] :
       {std::tuple{dim, &c.dim, "dim"}, std::tuple{layers, &c.n_layers, "layers"},
        std::tuple{heads, &c.n_heads, "heads"}, std::tuple{kv_heads, &c.n_kv_heads, "kv-heads"},
        std::tuple{ffn, &c.ffn_dim, "ffn"}, std::tuple{vocab, &c.n_vocab, "vocab"},
        std::tuple{ctx, &c.context_length, "ctx"}}) {
    if (value < 0) return fail(std::string("--") + name + " must be positive");
    if (value > 0) *target = value;
  }
  if (kv_heads == 0 && heads > 0 && c.n_kv_heads > c.n_heads) c.n_kv_heads = c.n_heads;
  if (c.n_heads <= 0 || c.dim % c.n_heads != 0) {
    return fail("--dim " + std::to_string(c.dim) + " must be a multiple of --heads " +
                std::to_string(c.n_heads));
  }
  c.head_dim = c.dim / c.n_heads;
  c.tied_embeddings = tied;
  spec.seed = static_cast<uint64_t>(seed);
  spec.dtype = *dtype;
  spec.n_threads = threads;
  if (auto s = c.Validate(); !s.ok()) return fail(s.message());
  if (auto s = engine::CheckRandomModelSpec(spec, format == "hf"); !s.ok()) return fail(s.message());

  const auto start = std::chrono::steady_clock::now();
  Status s = format == "gguf" ? engine::WriteRandomGguf(spec, out) : engine::WriteRandomHfDir(spec, out);
  if (!s.ok()) {
    std::fprintf(stderr, "meridian make-model: %s\n", s.message().c_str());
    return 1;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::error_code ec;
  uint64_t bytes = 0;
  if (format == "gguf") {
    bytes = std::filesystem::file_size(out, ec);
  } else {
    bytes = std::filesystem::file_size(std::filesystem::path(out) / "model.safetensors", ec);
  }
  std::fprintf(stderr, "meridian make-model: wrote %s (%s %s, seed %llu, %.2f GB of weights) in %.1f s\n",
               out.c_str(), preset.c_str(), dtype_name.c_str(), static_cast<unsigned long long>(spec.seed),
               static_cast<double>(bytes) / 1e9, seconds);
  return 0;
}

}  // namespace meridian::cli
