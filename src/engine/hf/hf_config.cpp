// config.json / generation_config.json readers.
#include "engine/hf/hf_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace meridian::engine {
namespace {

using nlohmann::json;

Result<std::string> ReadText(const std::string& path, const std::string& default_name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) p /= default_name;
  // Real configs are a few kB; refusing large files keeps a bad path from filling memory.
  constexpr uintmax_t kMaxConfigBytes = 16u << 20;
  const uintmax_t size = fs::file_size(p, ec);
  if (!ec && size > kMaxConfigBytes) {
    return InvalidArgument(p.string() + ": " + std::to_string(size) +
                           " bytes is too large for a config file");
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound(p.string() + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<json> ParseObject(std::string_view text, const std::string& name) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(name + ": not valid JSON");
  if (!j.is_object()) return InvalidArgument(name + ": not a JSON object");
  return j;
}

//! Reads j[key] into *out as an integer in [lo, hi]. Absent or null leaves *out unchanged
//! (an error when `required`).
Status GetInt(const json& j, const char* key, bool required, int64_t lo, int64_t hi, int32_t* out,
              const std::string& name) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return InvalidArgument(name + ": required field '" + key + "' is missing");
    return Status::Ok();
  }
  int64_t v = 0;
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(hi))
      return InvalidArgument(name + ": '" + key + "' = " + std::to_string(u) + " is too large");
    v = static_cast<int64_t>(u);
  } else if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else {
    return InvalidArgument(name + ": '" + key + "' must be an integer");
  }
  if (v < lo || v > hi) {
    return InvalidArgument(name + ": '" + key + "' = " + std::to_string(v) + " is out of range [" +
                           std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  *out = static_cast<int32_t>(v);
  return Status::Ok();
}

Status GetFloat(const json& j, const char* key, float* out, const std::string& name) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return InvalidArgument(name + ": '" + key + "' must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max()) {
    return InvalidArgument(name + ": '" + key + "' is not a finite float");
  }
  *out = static_cast<float>(v);
  return Status::Ok();
}

Status GetBool(const json& j, const char* key, bool* out, const std::string& name) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return InvalidArgument(name + ": '" + key + "' must be true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status CheckArchitecture(const json& j, const std::string& name) {
  auto arch = j.find("architectures");
  if (arch != j.end() && !arch->is_null()) {
    if (!arch->is_array()) return InvalidArgument(name + ": 'architectures' must be a list of strings");
    std::string seen;
    for (const json& a : *arch) {
      if (!a.is_string()) return InvalidArgument(name + ": 'architectures' must be a list of strings");
      const std::string s = a.get<std::string>();
      if (s == "LlamaForCausalLM" || s == "MistralForCausalLM") return Status::Ok();
      seen += (seen.empty() ? "" : ", ") + s;
    }
    return Unimplemented(name + ": architecture " + (seen.empty() ? "(none listed)" : seen) +
                         " is not supported (LlamaForCausalLM, MistralForCausalLM)");
  }
  auto type = j.find("model_type");
  if (type != j.end() && type->is_string() && (*type == "llama" || *type == "mistral")) return Status::Ok();
  return Unimplemented(name +
                       ": neither 'architectures' nor 'model_type' names a supported model "
                       "(LlamaForCausalLM, MistralForCausalLM)");
}

Status ReadRopeScaling(const json& rs, LlamaConfig& c, const std::string& name) {
  if (rs.is_null()) return Status::Ok();
  if (!rs.is_object()) return InvalidArgument(name + ": 'rope_scaling' must be an object or null");
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto it = rs.find(key);
    if (it != rs.end() && it->is_string()) {
      type = it->get<std::string>();
      break;
    }
  }
  const std::string where = name + ": rope_scaling";
  if (type.empty() || type == "default") return Status::Ok();
  if (type == "linear") {
    if (!rs.contains("factor")) return InvalidArgument(where + ": linear scaling needs 'factor'");
    MERIDIAN_RETURN_IF_ERROR(GetFloat(rs, "factor", &c.rope_factor, where));
    c.rope_scaling = RopeScalingType::kLinear;
    return Status::Ok();
  }
  if (type == "llama3") {
    if (!rs.contains("factor")) return InvalidArgument(where + ": llama3 scaling needs 'factor'");
    MERIDIAN_RETURN_IF_ERROR(GetFloat(rs, "factor", &c.rope_factor, where));
    MERIDIAN_RETURN_IF_ERROR(GetFloat(rs, "low_freq_factor", &c.rope_low_freq_factor, where));
    MERIDIAN_RETURN_IF_ERROR(GetFloat(rs, "high_freq_factor", &c.rope_high_freq_factor, where));
    MERIDIAN_RETURN_IF_ERROR(
        GetInt(rs, "original_max_position_embeddings", false, 1, 1 << 24, &c.rope_original_context, where));
    if (!(c.rope_high_freq_factor > c.rope_low_freq_factor) || !(c.rope_low_freq_factor > 0)) {
      return InvalidArgument(where + ": need 0 < low_freq_factor < high_freq_factor");
    }
    c.rope_scaling = RopeScalingType::kLlama3;
    return Status::Ok();
  }
  return Unimplemented(where + " type '" + type + "' is not supported (linear, llama3)");
}

}  // namespace

Result<LlamaConfig> LlamaConfigFromHfJsonText(std::string_view text, const std::string& name) {
  try {
    MERIDIAN_ASSIGN_OR_RETURN(json j, ParseObject(text, name));
    MERIDIAN_RETURN_IF_ERROR(CheckArchitecture(j, name));
    LlamaConfig c;
    c.architecture = "llama";  // Mistral checkpoints run the llama graph (llama.cpp does the same)
    // transformers' LlamaConfig defaults for the optional fields.
    c.context_length = 2048;
    c.rms_eps = 1e-6f;
    c.rope_theta = 10000.0f;
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "vocab_size", true, 1, 1 << 24, &c.n_vocab, name));
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "hidden_size", true, 1, 1 << 16, &c.dim, name));
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "intermediate_size", true, 1, 1 << 18, &c.ffn_dim, name));
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", true, 1, 1024, &c.n_layers, name));
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "num_attention_heads", true, 1, 1024, &c.n_heads, name));
    c.n_kv_heads = c.n_heads;
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "num_key_value_heads", false, 1, 1024, &c.n_kv_heads, name));
    c.head_dim = c.dim / c.n_heads;
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "head_dim", false, 1, 1024, &c.head_dim, name));
    MERIDIAN_RETURN_IF_ERROR(
        GetInt(j, "max_position_embeddings", false, 1, 1 << 24, &c.context_length, name));
    MERIDIAN_RETURN_IF_ERROR(GetFloat(j, "rms_norm_eps", &c.rms_eps, name));
    MERIDIAN_RETURN_IF_ERROR(GetFloat(j, "rope_theta", &c.rope_theta, name));
    MERIDIAN_RETURN_IF_ERROR(GetBool(j, "tie_word_embeddings", &c.tied_embeddings, name));

    if (auto it = j.find("rope_scaling"); it != j.end())
      MERIDIAN_RETURN_IF_ERROR(ReadRopeScaling(*it, c, name));
    // transformers 5 moves the RoPE settings into one "rope_parameters" object.
    if (auto it = j.find("rope_parameters"); it != j.end() && it->is_object()) {
      MERIDIAN_RETURN_IF_ERROR(GetFloat(*it, "rope_theta", &c.rope_theta, name + ": rope_parameters"));
      MERIDIAN_RETURN_IF_ERROR(ReadRopeScaling(*it, c, name));
    }

    if (auto it = j.find("hidden_act"); it != j.end() && !it->is_null()) {
      if (!it->is_string() || (*it != "silu" && *it != "swish")) {
        return Unimplemented(name + ": hidden_act " + it->dump() + " is not supported (silu)");
      }
    }
    for (const char* bias : {"attention_bias", "mlp_bias"}) {
      bool has = false;
      MERIDIAN_RETURN_IF_ERROR(GetBool(j, bias, &has, name));
      if (has) return Unimplemented(name + ": '" + bias + "' is true; Meridian's llama graph has no biases");
    }
    // A sliding window only changes attention for sequences longer than the window; capping the
    // context there keeps every result exact.
    int32_t window = 0;
    MERIDIAN_RETURN_IF_ERROR(GetInt(j, "sliding_window", false, 1, 1 << 24, &window, name));
    if (window > 0 && window < c.context_length) c.context_length = window;
    return c;
  } catch (const std::exception& e) {
    return InvalidArgument(name + ": malformed config: " + e.what());
  }
}

Result<LlamaConfig> LlamaConfigFromHfJson(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, ReadText(path, "config.json"));
  return LlamaConfigFromHfJsonText(text, path);
}

Result<HfGenerationConfig> HfGenerationConfigFromText(std::string_view text, const std::string& name) {
  try {
    MERIDIAN_ASSIGN_OR_RETURN(json j, ParseObject(text, name));
    HfGenerationConfig g;
    auto id = [&](const json& v) -> Result<int32_t> {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= (1 << 24)) {
        return InvalidArgument(name + ": token ids must be integers in [0, 2^24)");
      }
      return static_cast<int32_t>(v.get<int64_t>());
    };
    if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
      if (it->is_array()) {
        for (const json& v : *it) {
          MERIDIAN_ASSIGN_OR_RETURN(int32_t x, id(v));
          g.eos_token_ids.push_back(x);
        }
      } else {
        MERIDIAN_ASSIGN_OR_RETURN(int32_t x, id(*it));
        g.eos_token_ids.push_back(x);
      }
    }
    for (auto [key, out] :
         {std::pair{"bos_token_id", &g.bos_token_id}, std::pair{"pad_token_id", &g.pad_token_id}}) {
      if (auto it = j.find(key); it != j.end() && !it->is_null()) {
        MERIDIAN_ASSIGN_OR_RETURN(int32_t x, id(*it));
        *out = x;
      }
    }
    for (auto [key, out] : {std::pair{"temperature", &g.temperature}, std::pair{"top_p", &g.top_p}}) {
      if (j.contains(key) && !j[key].is_null()) {
        float v = 0;
        MERIDIAN_RETURN_IF_ERROR(GetFloat(j, key, &v, name));
        *out = v;
      }
    }
    if (j.contains("top_k") && !j["top_k"].is_null()) {
      int32_t k = 0;
      MERIDIAN_RETURN_IF_ERROR(GetInt(j, "top_k", false, 0, 1 << 24, &k, name));
      g.top_k = k;
    }
    if (j.contains("do_sample") && !j["do_sample"].is_null()) {
      bool b = false;
      MERIDIAN_RETURN_IF_ERROR(GetBool(j, "do_sample", &b, name));
      g.do_sample = b;
    }
    return g;
  } catch (const std::exception& e) {
    return InvalidArgument(name + ": malformed generation config: " + e.what());
  }
}

Result<HfGenerationConfig> ReadHfGenerationConfig(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, ReadText(path, "generation_config.json"));
  return HfGenerationConfigFromText(text, path);
}

}  // namespace meridian::engine
