// LlamaConfig validation.
#include "engine/model/llama_config.h"

#include <cmath>

namespace meridian::engine {

Status LlamaConfig::Validate() const {
  auto bad = [](const std::string& what) { return InvalidArgument("model config: " + what); };
  if (n_vocab <= 0 || n_vocab > (1 << 24)) return bad("vocabulary size " + std::to_string(n_vocab) + " out of range");
  if (dim <= 0 || dim > (1 << 16)) return bad("embedding length " + std::to_string(dim) + " out of range");
  if (n_layers <= 0 || n_layers > 1024) return bad("layer count " + std::to_string(n_layers) + " out of range");
  if (n_heads <= 0 || n_heads > 1024) return bad("head count " + std::to_string(n_heads) + " out of range");
  if (n_kv_heads <= 0 || n_kv_heads > n_heads || n_heads % n_kv_heads != 0)
    return bad("KV head count " + std::to_string(n_kv_heads) + " must divide head count " + std::to_string(n_heads));
  if (head_dim <= 0 || head_dim % 2 != 0 || head_dim > 1024)
    return bad("head dimension " + std::to_string(head_dim) + " must be even and at most 1024");
  if (ffn_dim <= 0 || ffn_dim > (1 << 18)) return bad("feed-forward length " + std::to_string(ffn_dim) + " out of range");
  if (context_length <= 0 || context_length > (1 << 22))
    return bad("context length " + std::to_string(context_length) + " out of range");
  if (!(rms_eps > 0.0f && rms_eps < 1.0f)) return bad("RMS norm epsilon must be in (0, 1)");
  if (!(rope_theta > 0.0f)) return bad("RoPE base must be positive");
  if (!(rope_factor > 0.0f)) return bad("RoPE scaling factor must be positive");
  if (!rope_freq_factors.empty() && rope_freq_factors.size() != static_cast<size_t>(head_dim / 2))
    return bad("rope frequency factors: " + std::to_string(rope_freq_factors.size()) + " values, expected " +
               std::to_string(head_dim / 2));
  return Status::Ok();
}

void LlamaConfig::ComputeLlama3FreqFactors() {
  // transformers' _compute_llama3_parameters: long wavelengths are divided by factor, short ones
  // kept, and the band between interpolated smoothly.
  const double low_freq_wavelen = rope_original_context / rope_low_freq_factor;
  const double high_freq_wavelen = rope_original_context / rope_high_freq_factor;
  rope_freq_factors.assign(static_cast<size_t>(head_dim / 2), 1.0f);
  for (int i = 0; i < head_dim / 2; ++i) {
    double inv_freq = 1.0 / std::pow(static_cast<double>(rope_theta), 2.0 * i / head_dim);
    double wavelen = 2.0 * M_PI / inv_freq;
    double scaled_inv_freq;
    if (wavelen < high_freq_wavelen) {
      scaled_inv_freq = inv_freq;
    } else if (wavelen > low_freq_wavelen) {
      scaled_inv_freq = inv_freq / rope_factor;
    } else {
      double smooth = (rope_original_context / wavelen - rope_low_freq_factor) /
                      (rope_high_freq_factor - rope_low_freq_factor);
      scaled_inv_freq = (1.0 - smooth) * inv_freq / rope_factor + smooth * inv_freq;
    }
    rope_freq_factors[static_cast<size_t>(i)] = static_cast<float>(inv_freq / scaled_inv_freq);
  }
}

}  // namespace meridian::engine
