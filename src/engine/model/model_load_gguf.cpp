// Loads a llama-architecture GGUF: hyper-parameters from metadata, tokenizer from metadata, and
// weights as zero-copy views into the mapping (GGUF's layout is the backends' layout).
#include <cmath>
#include <cstring>
#include <tuple>

#include "engine/model/model_storage.h"

namespace meridian::engine {
namespace {

// Reads "<arch>.<key>" as an integer in [lo, hi]; `fallback` if absent (nullopt: required).
Result<int32_t> ArchInt(const GgufFile& f, const std::string& arch, const std::string& key,
                        std::optional<int64_t> fallback, int64_t lo, int64_t hi) {
  std::string full = arch + "." + key;
  if (f.Find(full) == nullptr) {
    if (fallback) return static_cast<int32_t>(*fallback);
    return NotFound("metadata key '" + full + "' is missing");
  }
  auto v = f.GetInt(full);
  if (!v.ok()) return v.status();
  if (*v < lo || *v > hi) {
    return InvalidArgument("metadata '" + full + "' = " + std::to_string(*v) + " is out of range [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int32_t>(*v);
}

Result<float> ArchFloat(const GgufFile& f, const std::string& arch, const std::string& key, float fallback) {
  std::string full = arch + "." + key;
  if (f.Find(full) == nullptr) return fallback;
  auto v = f.GetFloat(full);
  if (!v.ok()) return v.status();
  if (!std::isfinite(*v)) return InvalidArgument("metadata '" + full + "' is not finite");
  return static_cast<float>(*v);
}

Result<LlamaConfig> ConfigFromGguf(const GgufFile& f, int32_t n_vocab_tokens) {
  LlamaConfig c;
  MERIDIAN_ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  if (arch != "llama" && arch != "mistral") {
    return Unimplemented("architecture '" + arch + "' is not supported (llama, mistral)");
  }
  c.architecture = arch;
  MERIDIAN_ASSIGN_OR_RETURN(c.dim, ArchInt(f, arch, "embedding_length", std::nullopt, 1, 1 << 16));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_layers, ArchInt(f, arch, "block_count", std::nullopt, 1, 1024));
  MERIDIAN_ASSIGN_OR_RETURN(c.ffn_dim, ArchInt(f, arch, "feed_forward_length", std::nullopt, 1, 1 << 18));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_heads, ArchInt(f, arch, "attention.head_count", std::nullopt, 1, 1024));
  MERIDIAN_ASSIGN_OR_RETURN(c.n_kv_heads, ArchInt(f, arch, "attention.head_count_kv", c.n_heads, 1, 1024));
  MERIDIAN_ASSIGN_OR_RETURN(c.context_length, ArchInt(f, arch, "context_length", 2048, 1, 1 << 22));
  int64_t default_head_dim = c.dim / c.n_heads;
  MERIDIAN_ASSIGN_OR_RETURN(int32_t key_length, ArchInt(f, arch, "attention.key_length", default_head_dim, 1, 1024));
  MERIDIAN_ASSIGN_OR_RETURN(int32_t rope_dims, ArchInt(f, arch, "rope.dimension_count", key_length, 1, 1024));
  if (rope_dims != key_length) {
    return Unimplemented("partial rotary embeddings (rope.dimension_count " + std::to_string(rope_dims) +
                         " != head dimension " + std::to_string(key_length) + ")");
  }
  c.head_dim = key_length;
  MERIDIAN_ASSIGN_OR_RETURN(c.rms_eps, ArchFloat(f, arch, "attention.layer_norm_rms_epsilon", 1e-5f));
  MERIDIAN_ASSIGN_OR_RETURN(c.rope_theta, ArchFloat(f, arch, "rope.freq_base", 10000.0f));
  c.n_vocab = n_vocab_tokens;
  if (f.Find(arch + ".vocab_size") != nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(int32_t vs, ArchInt(f, arch, "vocab_size", std::nullopt, 1, 1 << 24));
    if (vs != n_vocab_tokens) {
      return InvalidArgument(arch + ".vocab_size = " + std::to_string(vs) + " but the tokenizer has " +
                             std::to_string(n_vocab_tokens) + " tokens");
    }
  }
  std::string scaling = "none";
  if (const GgufValue* v = f.Find(arch + ".rope.scaling.type"); v != nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(scaling, f.GetString(arch + ".rope.scaling.type"));
  }
  if (scaling == "linear") {
    c.rope_scaling = RopeScalingType::kLinear;
    MERIDIAN_ASSIGN_OR_RETURN(c.rope_factor, ArchFloat(f, arch, "rope.scaling.factor", 1.0f));
  } else if (scaling != "none") {
    return Unimplemented("RoPE scaling type '" + scaling + "' is not supported (none, linear, llama3)");
  }
  return c;
}

// Finds a tensor and checks its shape: rows x cols in Meridian terms = dims [cols, rows] in GGUF.
Result<WeightTensor> Tensor(const GgufFile& f, const std::string& name, int64_t rows, int64_t cols) {
  const GgufTensorInfo* info = f.FindTensor(name);
  if (info == nullptr) return NotFound("tensor '" + name + "' is missing");
  bool shape_ok = false;
  if (rows == 1) {
    shape_ok = info->dims.size() == 1 && info->dims[0] == cols;
  } else {
    shape_ok = info->dims.size() == 2 && info->dims[0] == cols && info->dims[1] == rows;
  }
  if (!shape_ok) {
    std::string got;
    for (size_t i = 0; i < info->dims.size(); ++i) got += (i ? ", " : "") + std::to_string(info->dims[i]);
    return InvalidArgument("tensor '" + name + "' has shape [" + got + "], expected [" + std::to_string(cols) +
                           (rows == 1 ? "" : ", " + std::to_string(rows)) + "] (GGUF order)");
  }
  WeightTensor t;
  t.dtype = info->dtype;
  t.rows = rows;
  t.cols = cols;
  t.data = f.TensorData(*info).data();
  return t;
}

}  // namespace

Status LoadGgufModel(const std::string& path, const LoadOptions& options, Model& model) {
  auto opened = GgufFile::Open(path);
  if (!opened.ok()) return opened.status();
  const GgufFile& f = **opened;
  auto with_path = [&path](const Status& s) { return s.WithContext(path); };

  auto vocab = VocabFromGguf(f);
  if (!vocab.ok()) return with_path(vocab.status());
  const auto n_tokens = static_cast<int32_t>(vocab->tokens.size());
  auto config = ConfigFromGguf(f, n_tokens);
  if (!config.ok()) return with_path(config.status());
  LlamaConfig& c = *config;

  if (const GgufTensorInfo* freqs = f.FindTensor("rope_freqs.weight"); freqs != nullptr) {
    if (freqs->dtype != DType::kF32 || freqs->n_elements() != c.head_dim / 2) {
      return with_path(InvalidArgument("tensor 'rope_freqs.weight' must be f32 with head_dim/2 values"));
    }
    auto bytes = f.TensorData(*freqs);
    c.rope_freq_factors.resize(static_cast<size_t>(c.head_dim / 2));
    std::memcpy(c.rope_freq_factors.data(), bytes.data(), bytes.size());
    c.rope_scaling = RopeScalingType::kLlama3;
  }

  ModelWeights& w = model.weights_;
  const int64_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), ffn = c.ffn_dim;
  auto load = [&](const std::string& name, int64_t rows, int64_t cols, WeightTensor* out) -> Status {
    auto t = Tensor(f, name, rows, cols);
    if (!t.ok()) return t.status();
    *out = *t;
    return Status::Ok();
  };
  Status s;
  if (!(s = load("token_embd.weight", c.n_vocab, dim, &w.token_embd)).ok()) return with_path(s);
  if (!(s = load("output_norm.weight", 1, dim, &w.output_norm)).ok()) return with_path(s);
  if (f.FindTensor("output.weight") != nullptr) {
    if (!(s = load("output.weight", c.n_vocab, dim, &w.output)).ok()) return with_path(s);
  } else {
    c.tied_embeddings = true;
    w.output = w.token_embd;
  }
  if (!(s = c.Validate()).ok()) return with_path(s);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    for (auto [name, rows, cols, out] : {std::tuple{"attn_norm.weight", int64_t{1}, dim, &l.attn_norm},
                                         std::tuple{"attn_q.weight", q_dim, dim, &l.wq},
                                         std::tuple{"attn_k.weight", kv_dim, dim, &l.wk},
                                         std::tuple{"attn_v.weight", kv_dim, dim, &l.wv},
                                         std::tuple{"attn_output.weight", dim, q_dim, &l.wo},
                                         std::tuple{"ffn_norm.weight", int64_t{1}, dim, &l.ffn_norm},
                                         std::tuple{"ffn_gate.weight", ffn, dim, &l.w_gate},
                                         std::tuple{"ffn_up.weight", ffn, dim, &l.w_up},
                                         std::tuple{"ffn_down.weight", dim, ffn, &l.w_down}}) {
      if (!(s = load(p + name, rows, cols, out)).ok()) return with_path(s);
    }
  }

  auto tokenizer = MakeTokenizer(std::move(*vocab));
  if (!tokenizer.ok()) return with_path(tokenizer.status());
  model.tokenizer_ = std::move(*tokenizer);
  model.config_ = std::move(c);
  model.storage_->gguf = std::move(*opened);
  return with_path(FinishWeights(options, model));
}

}  // namespace meridian::engine
