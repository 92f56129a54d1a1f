// HfCheckpoint: config, tokenizer and weights of a Hugging Face llama directory.
#include "engine/convert/hf_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "engine/convert/llama_tensors.h"
#include "engine/convert/row_convert.h"

namespace meridian::engine {
namespace {

namespace fs = std::filesystem;

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status PadVocab(VocabData& v, int32_t n_vocab, const std::string& where) {
  const size_t have = v.tokens.size();
  if (have > static_cast<size_t>(n_vocab)) {
    return InvalidArgument(where + ": the tokenizer has " + std::to_string(have) +
                           " tokens but config.json's vocab_size is " + std::to_string(n_vocab));
  }
  if (have == static_cast<size_t>(n_vocab)) return Status::Ok();
  // As llama.cpp's converter does: embedding rows past the tokenizer get "[PAD<id>]" tokens of type unused.
  const bool with_scores = !v.scores.empty();
  if (v.token_types.empty()) v.token_types.assign(have, static_cast<int32_t>(TokenType::kNormal));
  for (size_t id = have; id < static_cast<size_t>(n_vocab); ++id) {
    v.tokens.push_back("[PAD" + std::to_string(id) + "]");
    if (with_scores) v.scores.push_back(-1000.0f);
    v.token_types.push_back(static_cast<int32_t>(TokenType::kUnused));
  }
  return Status::Ok();
}

}  // namespace

HfCheckpoint::~HfCheckpoint() = default;

uint8_t* HfCheckpoint::Allocate(uint64_t bytes) {
  const uint64_t rounded = std::max<uint64_t>(64, (bytes + 63) / 64 * 64);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
  if (p != nullptr) owned_.emplace_back(p);
  return p;
}

Result<std::unique_ptr<HfCheckpoint>> HfCheckpoint::Open(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(dir + ": not a directory");
  auto ckpt = std::unique_ptr<HfCheckpoint>(new HfCheckpoint());
  ckpt->dir_ = dir;
  const fs::path d(dir);

  MERIDIAN_ASSIGN_OR_RETURN(ckpt->config_, LlamaConfigFromHfJson((d / "config.json").string()));
  const LlamaConfig& c = ckpt->config_;
  if (c.head_dim % 2 != 0 || c.n_heads % c.n_kv_heads != 0) {
    return InvalidArgument((d / "config.json").string() + ": head_dim " + std::to_string(c.head_dim) +
                           " must be even and num_key_value_heads " + std::to_string(c.n_kv_heads) +
                           " must divide num_attention_heads " + std::to_string(c.n_heads));
  }

  if (fs::exists(d / "tokenizer.json", ec)) {
    ckpt->tokenizer_file_ = "tokenizer.json";
    auto v = VocabFromTokenizerJson((d / "tokenizer.json").string());
    if (!v.ok()) return v.status();
    ckpt->vocab_ = std::move(*v);
  } else if (fs::exists(d / "tokenizer.model", ec)) {
    ckpt->tokenizer_file_ = "tokenizer.model";
    auto v = VocabFromSentencePieceModel((d / "tokenizer.model").string());
    if (!v.ok()) return v.status();
    ckpt->vocab_ = std::move(*v);  // tokenizer_config.json beside it is applied by the reader
  } else {
    return NotFound(dir + ": no tokenizer.json or tokenizer.model");
  }

  if (fs::exists(d / "generation_config.json", ec)) {
    MERIDIAN_ASSIGN_OR_RETURN(ckpt->generation_,
                              ReadHfGenerationConfig((d / "generation_config.json").string()));
  }
  VocabData& v = ckpt->vocab_;
  for (int32_t id : ckpt->generation_.eos_token_ids) {
    if (id >= c.n_vocab) continue;  // a stale id in generation_config.json never stops generation
    if (v.eos_id < 0) v.eos_id = id;
    if (id != v.eos_id && std::find(v.eog_ids.begin(), v.eog_ids.end(), id) == v.eog_ids.end()) {
      v.eog_ids.push_back(id);
    }
  }
  MERIDIAN_RETURN_IF_ERROR(PadVocab(v, c.n_vocab, dir));

  MERIDIAN_ASSIGN_OR_RETURN(ckpt->safetensors_, SafetensorsModel::Open(dir));
  return ckpt;
}

Result<WeightTensor> HfCheckpoint::Weight(std::string_view gguf_name) {
  if (auto it = served_.find(gguf_name); it != served_.end()) return it->second;
  std::optional<LlamaTensorSpec> spec = FindLlamaTensor(config_, gguf_name);
  if (!spec) {
    if (gguf_name == "output.weight" && config_.tied_embeddings) return Weight("token_embd.weight");
    return NotFound(dir_ + ": '" + std::string(gguf_name) + "' is not a llama weight name");
  }
  MERIDIAN_ASSIGN_OR_RETURN(const SafetensorsTensor* st, safetensors_->Get(spec->hf_name));
  const std::vector<int64_t> want =
      spec->is_norm() ? std::vector<int64_t>{spec->cols} : std::vector<int64_t>{spec->rows, spec->cols};
  if (st->shape != want) {
    return InvalidArgument(dir_ + ": tensor '" + spec->hf_name + "' has shape " + ShapeText(st->shape) +
                           ", config.json implies " + ShapeText(want));
  }
  WeightTensor t;
  t.dtype = *st->dtype;
  t.rows = spec->rows;
  t.cols = spec->cols;
  const uint64_t elem = static_cast<uint64_t>(DTypeBlockBytes(t.dtype));
  const uint8_t* src = st->data.data();
  const bool aligned = reinterpret_cast<uintptr_t>(src) % elem == 0;

  if (spec->is_norm() && t.dtype != DType::kF32) {
    auto* out = reinterpret_cast<float*>(Allocate(static_cast<uint64_t>(t.cols) * 4));
    if (out == nullptr) return ResourceExhausted("out of memory converting " + spec->hf_name);
    for (int64_t i = 0; i < t.cols; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = t.dtype == DType::kF16 ? Fp16ToFp32(h) : Bf16ToFp32(h);
    }
    t.dtype = DType::kF32;
    t.data = out;
  } else if (spec->is_rope_permuted()) {
    const uint64_t row_bytes = t.row_bytes();
    uint8_t* out = Allocate(row_bytes * static_cast<uint64_t>(t.rows));
    if (out == nullptr) return ResourceExhausted("out of memory permuting " + spec->hf_name);
    for (int64_t r = 0; r < t.rows; ++r) {
      const int64_t from = convert::HfRowForGgufRow(r, config_.head_dim);
      std::memcpy(out + static_cast<uint64_t>(r) * row_bytes, src + static_cast<uint64_t>(from) * row_bytes,
                  row_bytes);
    }
    t.data = out;
  } else if (!aligned) {
    uint8_t* out = Allocate(st->data.size());
    if (out == nullptr) return ResourceExhausted("out of memory copying " + spec->hf_name);
    std::memcpy(out, src, st->data.size());
    t.data = out;
  } else {
    t.data = src;
  }
  served_.emplace(std::string(gguf_name), t);
  return t;
}

Result<ModelWeights> HfCheckpoint::Weights() {
  ModelWeights w;
  MERIDIAN_ASSIGN_OR_RETURN(w.token_embd, Weight("token_embd.weight"));
  MERIDIAN_ASSIGN_OR_RETURN(w.output_norm, Weight("output_norm.weight"));
  MERIDIAN_ASSIGN_OR_RETURN(w.output, Weight("output.weight"));
  w.layers.resize(static_cast<size_t>(config_.n_layers));
  for (int32_t i = 0; i < config_.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    MERIDIAN_ASSIGN_OR_RETURN(l.attn_norm, Weight(p + "attn_norm.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.wq, Weight(p + "attn_q.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.wk, Weight(p + "attn_k.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.wv, Weight(p + "attn_v.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.wo, Weight(p + "attn_output.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.ffn_norm, Weight(p + "ffn_norm.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.w_gate, Weight(p + "ffn_gate.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.w_up, Weight(p + "ffn_up.weight"));
    MERIDIAN_ASSIGN_OR_RETURN(l.w_down, Weight(p + "ffn_down.weight"));
  }
  return w;
}

}  // namespace meridian::engine
