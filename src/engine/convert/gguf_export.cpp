// Llama GGUF export: metadata as llama.cpp names it, tensors converted row by row on write.
#include "engine/convert/gguf_export.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/convert/row_convert.h"

namespace meridian::engine {

uint32_t GgufFileType(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
  }
  return 0;
}

DType MatrixStorageDType(DType requested, int64_t cols) {
  if (requested == DType::kQ8_0 && cols % kQ8BlockSize != 0) return DType::kF16;
  return requested;
}

Status SetLlamaGgufMetadata(const LlamaConfig& c, const VocabData& v, uint32_t file_type,
                            const std::string& name, GgufWriter& w) {
  const size_t n = v.tokens.size();
  if (n != static_cast<size_t>(c.n_vocab)) {
    return InvalidArgument("the vocabulary has " + std::to_string(n) + " tokens but the model config says " +
                           std::to_string(c.n_vocab));
  }
  if ((!v.scores.empty() && v.scores.size() != n) || (!v.token_types.empty() && v.token_types.size() != n)) {
    return InvalidArgument("vocabulary scores/token types do not match the token count " + std::to_string(n));
  }
  for (int32_t id : {v.bos_id, v.eos_id, v.unk_id, v.pad_id}) {
    if (id >= static_cast<int32_t>(n)) {
      return InvalidArgument("special token id " + std::to_string(id) + " is outside the vocabulary");
    }
  }
  const std::string a = "llama.";
  w.SetString("general.architecture", "llama");
  w.SetString("general.name", name);
  w.SetUint32("general.file_type", file_type);
  if (file_type == GgufFileType(DType::kQ8_0)) w.SetUint32("general.quantization_version", 2);
  w.SetUint32(a + "vocab_size", static_cast<uint32_t>(c.n_vocab));
  w.SetUint32(a + "context_length", static_cast<uint32_t>(c.context_length));
  w.SetUint32(a + "embedding_length", static_cast<uint32_t>(c.dim));
  w.SetUint32(a + "block_count", static_cast<uint32_t>(c.n_layers));
  w.SetUint32(a + "feed_forward_length", static_cast<uint32_t>(c.ffn_dim));
  w.SetUint32(a + "attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.SetUint32(a + "attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.SetUint32(a + "attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.SetUint32(a + "attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.SetFloat32(a + "attention.layer_norm_rms_epsilon", c.rms_eps);
  w.SetFloat32(a + "rope.freq_base", c.rope_theta);
  w.SetUint32(a + "rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  if (c.rope_scaling == RopeScalingType::kLinear) {
    w.SetString(a + "rope.scaling.type", "linear");
    w.SetFloat32(a + "rope.scaling.factor", c.rope_factor);
  } else if (c.rope_scaling == RopeScalingType::kLlama3) {
    // llama.cpp expresses llama3 scaling only through rope_freqs.weight; a scaling type key would
    // make it apply linear scaling on top. The original context length is informational.
    w.SetUint32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(c.rope_original_context));
  }

  const bool spm = v.kind == TokenizerKind::kSentencePiece;
  w.SetString("tokenizer.ggml.model", spm ? "llama" : "gpt2");
  if (!spm) w.SetString("tokenizer.ggml.pre", v.pre);
  w.SetStringArray("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.SetFloat32Array("tokenizer.ggml.scores", v.scores);
  if (!v.token_types.empty()) w.SetInt32Array("tokenizer.ggml.token_type", v.token_types);
  if (!v.merges.empty()) w.SetStringArray("tokenizer.ggml.merges", v.merges);
  auto set_id = [&w](const char* key, int32_t id) {
    if (id >= 0) w.SetUint32(key, static_cast<uint32_t>(id));
  };
  set_id("tokenizer.ggml.bos_token_id", v.bos_id);
  set_id("tokenizer.ggml.eos_token_id", v.eos_id);
  set_id("tokenizer.ggml.unknown_token_id", v.unk_id);
  set_id("tokenizer.ggml.padding_token_id", v.pad_id);
  for (int32_t id : v.eog_ids) {
    if (id != v.eos_id && id >= 0 && id < static_cast<int32_t>(n)) {
      set_id("tokenizer.ggml.eot_token_id", id);
      break;
    }
  }
  w.SetBool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.SetBool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (spm) w.SetBool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  if (!v.chat_template.empty()) w.SetString("tokenizer.chat_template", v.chat_template);
  return Status::Ok();
}

void AddGgufRowTensor(GgufWriter& writer, GgufRowSource source, int n_threads) {
  std::vector<int64_t> dims =
      source.is_vector ? std::vector<int64_t>{source.cols} : std::vector<int64_t>{source.cols, source.rows};
  const DType dtype = source.dtype;
  const std::string name = source.name;  // copied before `source` moves into the filler
  writer.AddTensor(
      name, dtype, std::move(dims), [src = std::move(source), n_threads](std::span<uint8_t> out) -> Status {
        const std::optional<uint64_t> row_bytes = DTypeRowBytes(src.dtype, src.cols);
        if (!row_bytes || out.size() != *row_bytes * static_cast<uint64_t>(src.rows)) {
          return Internal("tensor '" + src.name + "': buffer size does not match its shape");
        }
        // Ranges of at least ~1 MB each, so small tensors stay on one thread.
        const int64_t grain =
            std::max<int64_t>(1, static_cast<int64_t>((1u << 20) / std::max<uint64_t>(1, *row_bytes)));
        return convert::ParallelRows(src.rows, n_threads, grain, [&](int64_t begin, int64_t end) {
          return src.write_rows(begin, end, out.data() + static_cast<uint64_t>(begin) * *row_bytes);
        });
      });
}

Result<std::optional<GgufRowSource>> RopeFreqsTensor(const LlamaConfig& c) {
  if (c.rope_freq_factors.empty()) {
    if (c.rope_scaling == RopeScalingType::kLlama3) {
      return InvalidArgument(
          "llama3 RoPE scaling needs rope_freq_factors (LlamaConfig::ComputeLlama3FreqFactors)");
    }
    return std::optional<GgufRowSource>();
  }
  if (c.rope_freq_factors.size() != static_cast<size_t>(c.head_dim / 2)) {
    return InvalidArgument("rope_freq_factors has " + std::to_string(c.rope_freq_factors.size()) +
                           " values, expected head_dim/2 = " + std::to_string(c.head_dim / 2));
  }
  GgufRowSource s;
  s.name = "rope_freqs.weight";
  s.cols = c.head_dim / 2;
  s.is_vector = true;
  s.dtype = DType::kF32;
  s.write_rows = [factors = c.rope_freq_factors](int64_t, int64_t, uint8_t* out) {
    std::memcpy(out, factors.data(), factors.size() * sizeof(float));
    return Status::Ok();
  };
  return std::optional<GgufRowSource>(std::move(s));
}

namespace {

//! A source that reads `t` and stores it as `out_dtype`, converting through f32 when they differ.
GgufRowSource FromWeight(const std::string& name, const WeightTensor& t, DType out_dtype, bool is_vector) {
  GgufRowSource s;
  s.name = name;
  s.rows = t.rows;
  s.cols = t.cols;
  s.is_vector = is_vector;
  s.dtype = out_dtype;
  s.write_rows = [t, out_dtype](int64_t begin, int64_t end, uint8_t* out) -> Status {
    const uint64_t in_row = t.row_bytes();
    const uint64_t out_row = *DTypeRowBytes(out_dtype, t.cols);
    const auto* in = static_cast<const uint8_t*>(t.data);
    if (out_dtype == t.dtype) {
      std::memcpy(out, in + static_cast<uint64_t>(begin) * in_row,
                  static_cast<size_t>((end - begin) * in_row));
      return Status::Ok();
    }
    std::vector<float> row(static_cast<size_t>(t.cols));
    for (int64_t r = begin; r < end; ++r) {
      cpu::DequantizeRow(t.dtype, in + static_cast<uint64_t>(r) * in_row, row.data(), t.cols);
      convert::EncodeRow(row.data(), t.cols, out_dtype, out + static_cast<uint64_t>(r - begin) * out_row);
    }
    return Status::Ok();
  };
  return s;
}

Status CheckShape(const std::string& name, const WeightTensor& t, int64_t rows, int64_t cols) {
  if (t.data == nullptr) return InvalidArgument("tensor '" + name + "' has no data");
  if (t.rows != rows || t.cols != cols) {
    return InvalidArgument("tensor '" + name + "' is [" + std::to_string(t.rows) + ", " +
                           std::to_string(t.cols) + "], the config needs [" + std::to_string(rows) + ", " +
                           std::to_string(cols) + "]");
  }
  if (!DTypeRowBytes(t.dtype, t.cols)) {
    return InvalidArgument("tensor '" + name + "': " + std::to_string(t.cols) + " columns do not fit " +
                           DTypeName(t.dtype) + " blocks");
  }
  return Status::Ok();
}

}  // namespace

Status WriteLlamaGguf(const LlamaConfig& c, const VocabData& vocab, const ModelWeights& w,
                      std::optional<DType> matrix_dtype, const std::string& path,
                      const GgufExportOptions& options) {
  if (w.layers.size() != static_cast<size_t>(c.n_layers)) {
    return InvalidArgument("the weights have " + std::to_string(w.layers.size()) + " layers, the config " +
                           std::to_string(c.n_layers));
  }
  const bool tied = c.tied_embeddings || w.output.data == w.token_embd.data;
  std::vector<GgufRowSource> sources;
  std::map<DType, int64_t> matrix_elements;  // for general.file_type
  bool all_f32 = true;
  auto add = [&](const std::string& name, const WeightTensor& t, int64_t rows, int64_t cols,
                 bool matrix) -> Status {
    MERIDIAN_RETURN_IF_ERROR(CheckShape(name, t, rows, cols));
    DType out = DType::kF32;
    if (matrix) out = matrix_dtype ? MatrixStorageDType(*matrix_dtype, cols) : t.dtype;
    if (matrix) matrix_elements[out] += rows * cols;
    all_f32 = all_f32 && out == DType::kF32;
    sources.push_back(FromWeight(name, t, out, !matrix));
    return Status::Ok();
  };
  const int64_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim(), ffn = c.ffn_dim;
  MERIDIAN_RETURN_IF_ERROR(add("token_embd.weight", w.token_embd, c.n_vocab, dim, true));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    const LayerWeights& l = w.layers[static_cast<size_t>(i)];
    const std::string p = "blk." + std::to_string(i) + ".";
    MERIDIAN_RETURN_IF_ERROR(add(p + "attn_norm.weight", l.attn_norm, 1, dim, false));
    MERIDIAN_RETURN_IF_ERROR(add(p + "attn_q.weight", l.wq, q, dim, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "attn_k.weight", l.wk, kv, dim, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "attn_v.weight", l.wv, kv, dim, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "attn_output.weight", l.wo, dim, q, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "ffn_norm.weight", l.ffn_norm, 1, dim, false));
    MERIDIAN_RETURN_IF_ERROR(add(p + "ffn_gate.weight", l.w_gate, ffn, dim, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "ffn_up.weight", l.w_up, ffn, dim, true));
    MERIDIAN_RETURN_IF_ERROR(add(p + "ffn_down.weight", l.w_down, dim, ffn, true));
  }
  MERIDIAN_RETURN_IF_ERROR(add("output_norm.weight", w.output_norm, 1, dim, false));
  if (!tied) MERIDIAN_RETURN_IF_ERROR(add("output.weight", w.output, c.n_vocab, dim, true));

  DType main = DType::kF32;
  int64_t most = -1;
  for (const auto& [dtype, elements] : matrix_elements) {
    if (elements > most) {
      most = elements;
      main = dtype;
    }
  }
  const uint32_t file_type = all_f32 ? 0 : GgufFileType(main);

  GgufWriter writer;
  Status s = SetLlamaGgufMetadata(c, vocab, file_type, options.name, writer);
  if (!s.ok()) return s.WithContext(path);
  for (const auto& [key, value] : options.extra_strings) writer.SetString(key, value);
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<GgufRowSource> freqs, RopeFreqsTensor(c));
  if (freqs) AddGgufRowTensor(writer, std::move(*freqs), 1);
  for (GgufRowSource& src : sources) AddGgufRowTensor(writer, std::move(src), options.n_threads);
  return writer.Write(path);
}

}  // namespace meridian::engine
