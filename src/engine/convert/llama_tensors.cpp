// The llama tensor table.
#include "engine/convert/llama_tensors.h"

#include <charconv>

namespace meridian::engine {
namespace {

struct LayerTensor {
  const char* gguf;
  const char* hf;
  LlamaTensorRole role;
};

constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm.weight", "input_layernorm.weight", LlamaTensorRole::kAttnNorm},
    {"attn_q.weight", "self_attn.q_proj.weight", LlamaTensorRole::kQ},
    {"attn_k.weight", "self_attn.k_proj.weight", LlamaTensorRole::kK},
    {"attn_v.weight", "self_attn.v_proj.weight", LlamaTensorRole::kV},
    {"attn_output.weight", "self_attn.o_proj.weight", LlamaTensorRole::kAttnOutput},
    {"ffn_norm.weight", "post_attention_layernorm.weight", LlamaTensorRole::kFfnNorm},
    {"ffn_gate.weight", "mlp.gate_proj.weight", LlamaTensorRole::kGate},
    {"ffn_up.weight", "mlp.up_proj.weight", LlamaTensorRole::kUp},
    {"ffn_down.weight", "mlp.down_proj.weight", LlamaTensorRole::kDown},
};

LlamaTensorSpec LayerSpec(const LlamaConfig& c, int32_t layer, const LayerTensor& t) {
  LlamaTensorSpec s;
  s.gguf_name = "blk." + std::to_string(layer) + "." + t.gguf;
  s.hf_name = "model.layers." + std::to_string(layer) + "." + t.hf;
  s.role = t.role;
  s.layer = layer;
  s.cols = c.dim;
  switch (t.role) {
    case LlamaTensorRole::kAttnNorm:
    case LlamaTensorRole::kFfnNorm: s.rows = 1; break;
    case LlamaTensorRole::kQ: s.rows = c.q_dim(); break;
    case LlamaTensorRole::kK:
    case LlamaTensorRole::kV: s.rows = c.kv_dim(); break;
    case LlamaTensorRole::kAttnOutput:
      s.rows = c.dim;
      s.cols = c.q_dim();
      break;
    case LlamaTensorRole::kGate:
    case LlamaTensorRole::kUp: s.rows = c.ffn_dim; break;
    case LlamaTensorRole::kDown:
      s.rows = c.dim;
      s.cols = c.ffn_dim;
      break;
    default: break;
  }
  return s;
}

LlamaTensorSpec Global(const char* gguf, const char* hf, LlamaTensorRole role, int64_t rows, int64_t cols) {
  LlamaTensorSpec s;
  s.gguf_name = gguf;
  s.hf_name = hf;
  s.role = role;
  s.rows = rows;
  s.cols = cols;
  return s;
}

}  // namespace

std::vector<LlamaTensorSpec> LlamaTensors(const LlamaConfig& c) {
  std::vector<LlamaTensorSpec> out;
  out.push_back(Global("token_embd.weight", "model.embed_tokens.weight", LlamaTensorRole::kTokenEmbedding,
                       c.n_vocab, c.dim));
  for (int32_t i = 0; i < c.n_layers; ++i) {
    for (const LayerTensor& t : kLayerTensors) out.push_back(LayerSpec(c, i, t));
  }
  out.push_back(Global("output_norm.weight", "model.norm.weight", LlamaTensorRole::kOutputNorm, 1, c.dim));
  if (!c.tied_embeddings) {
    out.push_back(Global("output.weight", "lm_head.weight", LlamaTensorRole::kOutput, c.n_vocab, c.dim));
  }
  return out;
}

std::optional<LlamaTensorSpec> FindLlamaTensor(const LlamaConfig& c, std::string_view name) {
  if (name == "token_embd.weight") {
    return Global("token_embd.weight", "model.embed_tokens.weight", LlamaTensorRole::kTokenEmbedding,
                  c.n_vocab, c.dim);
  }
  if (name == "output_norm.weight") {
    return Global("output_norm.weight", "model.norm.weight", LlamaTensorRole::kOutputNorm, 1, c.dim);
  }
  if (name == "output.weight") {
    if (c.tied_embeddings) return std::nullopt;
    return Global("output.weight", "lm_head.weight", LlamaTensorRole::kOutput, c.n_vocab, c.dim);
  }
  constexpr std::string_view kPrefix = "blk.";
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  int32_t layer = -1;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + dot, layer);
  if (ec != std::errc() || ptr != name.data() + dot || layer < 0 || layer >= c.n_layers) return std::nullopt;
  if (std::to_string(layer) != name.substr(0, dot)) return std::nullopt;  // no "01"
  const std::string_view rest = name.substr(dot + 1);
  for (const LayerTensor& t : kLayerTensors) {
    if (rest == t.gguf) return LayerSpec(c, layer, t);
  }
  return std::nullopt;
}

}  // namespace meridian::engine
