// The Hugging Face directory form of a random model: config and tokenizer files, and
// model.safetensors holding the same weights as the GGUF form with Q/K rows in HF order.
#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/convert/random_model.h"
#include "engine/convert/row_convert.h"
#include "engine/convert/spm_model_writer.h"
#include "engine/hf/safetensors.h"

namespace meridian::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

//! A float as the shortest decimal that reads back as it ("1e-05", not 9.99999974738e-06), the
//! way Python writes the configs.
double ShortestDouble(float f) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  double d = f;
  std::from_chars(buf, end, d);
  return d;
}

const char* TorchDType(DType d) {
  switch (d) {
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
    default: return "float32";
  }
}

Status WriteFile(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgument(tmp.string() + ": cannot create");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Internal(tmp.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Internal(path.string() + ": rename failed: " + ec.message());
  return Status::Ok();
}

Status WriteJson(const fs::path& path, const json& j) {
  return WriteFile(path, j.dump(2) + "\n");
}

json ConfigJson(const RandomModelSpec& spec) {
  const LlamaConfig& c = spec.config;
  json rope_scaling = nullptr;
  if (c.rope_scaling == RopeScalingType::kLinear) {
    rope_scaling = {{"rope_type", "linear"}, {"factor", ShortestDouble(c.rope_factor)}};
  } else if (c.rope_scaling == RopeScalingType::kLlama3) {
    rope_scaling = {{"rope_type", "llama3"},
                    {"factor", ShortestDouble(c.rope_factor)},
                    {"low_freq_factor", ShortestDouble(c.rope_low_freq_factor)},
                    {"high_freq_factor", ShortestDouble(c.rope_high_freq_factor)},
                    {"original_max_position_embeddings", c.rope_original_context}};
  }
  return {
      {"architectures", json::array({"LlamaForCausalLM"})},
      {"model_type", "llama"},
      {"vocab_size", c.n_vocab},
      {"hidden_size", c.dim},
      {"intermediate_size", c.ffn_dim},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_dim},
      {"max_position_embeddings", c.context_length},
      {"rms_norm_eps", ShortestDouble(c.rms_eps)},
      {"rope_theta", ShortestDouble(c.rope_theta)},
      {"rope_scaling", rope_scaling},
      {"tie_word_embeddings", c.tied_embeddings},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"attention_dropout", 0.0},
      {"initializer_range", 0.02},
      {"pretraining_tp", 1},
      {"use_cache", true},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"torch_dtype", TorchDType(spec.dtype)},
      // Unknown keys are kept as attributes by transformers; the golden-logit tool reads this.
      {"meridian_random_model",
       {{"preset", spec.preset},
        {"seed", spec.seed},
        {"dtype", DTypeName(spec.dtype)},
        {"tied", c.tied_embeddings}}},
  };
}

}  // namespace

Status WriteRandomHfDir(const RandomModelSpec& spec, const std::string& dir) {
  MERIDIAN_RETURN_IF_ERROR(CheckRandomModelSpec(spec, /*hf=*/true));
  const LlamaConfig& c = spec.config;
  const fs::path d(dir);
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) return InvalidArgument(dir + ": cannot create directory: " + ec.message());

  const VocabData vocab = RandomModelVocab(c.n_vocab);
  MERIDIAN_RETURN_IF_ERROR(WriteJson(d / "config.json", ConfigJson(spec)));
  MERIDIAN_RETURN_IF_ERROR(WriteJson(d / "generation_config.json", {{"bos_token_id", vocab.bos_id},
                                                                    {"eos_token_id", vocab.eos_id},
                                                                    {"do_sample", true},
                                                                    {"temperature", 0.6},
                                                                    {"top_p", 0.9}}));
  MERIDIAN_RETURN_IF_ERROR(WriteJson(d / "special_tokens_map.json",
                                     {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}}));
  MERIDIAN_RETURN_IF_ERROR(WriteJson(d / "tokenizer_config.json", {{"add_bos_token", vocab.add_bos},
                                                                   {"add_eos_token", vocab.add_eos},
                                                                   {"bos_token", "<s>"},
                                                                   {"eos_token", "</s>"},
                                                                   {"unk_token", "<unk>"},
                                                                   {"pad_token", nullptr},
                                                                   {"chat_template", vocab.chat_template},
                                                                   {"clean_up_tokenization_spaces", false},
                                                                   {"legacy", false},
                                                                   {"model_max_length", c.context_length},
                                                                   {"tokenizer_class", "LlamaTokenizer"}}));
  MERIDIAN_ASSIGN_OR_RETURN(std::string spm, SerializeSentencePieceModel(vocab));
  MERIDIAN_RETURN_IF_ERROR(WriteFile(d / "tokenizer.model", spm));

  SafetensorsWriter writer;
  writer.SetMetadata("format", "pt");
  for (const LlamaTensorSpec& t : LlamaTensors(c)) {
    std::vector<int64_t> shape =
        t.is_norm() ? std::vector<int64_t>{t.cols} : std::vector<int64_t>{t.rows, t.cols};
    writer.AddTensor(t.hf_name, spec.dtype, std::move(shape), [&spec, t](std::span<uint8_t> out) {
      const uint64_t row_bytes = *DTypeRowBytes(spec.dtype, t.cols);
      const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>((1u << 20) / row_bytes));
      const int64_t head_dim = spec.config.head_dim;
      return convert::ParallelRows(t.rows, spec.n_threads, grain, [&](int64_t begin, int64_t end) {
        std::vector<float> row(static_cast<size_t>(t.cols));
        for (int64_t r = begin; r < end; ++r) {
          const int64_t gguf_row = t.is_rope_permuted() ? convert::GgufRowForHfRow(r, head_dim) : r;
          RandomModelRow(spec, t, gguf_row, row.data());
          convert::EncodeRow(row.data(), t.cols, spec.dtype,
                             out.data() + static_cast<uint64_t>(r) * row_bytes);
        }
        return Status::Ok();
      });
    });
  }
  return writer.Write((d / "model.safetensors").string());
}

}  // namespace meridian::engine
