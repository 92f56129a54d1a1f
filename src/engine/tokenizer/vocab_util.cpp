// Shared vocabulary-loader helpers: well-known end-of-generation tokens and the Hugging Face
// config files beside a tokenizer.
#include "engine/tokenizer/vocab_util.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>

namespace meridian::engine::tokenizer_internal {
namespace {

using nlohmann::json;

constexpr std::string_view kKnownEndOfGeneration[] = {
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<EOT>",
    "<|end_of_text|>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81"
    "of\xE2\x96\x81"
    "sentence\xEF\xBD\x9C>",  // DeepSeek
};

// A special-token entry of tokenizer_config.json: "text", {"content": "text", ...} or null.
std::optional<std::string> TokenText(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return std::nullopt;
}

int32_t FindTokenText(const VocabData& vocab, const std::string& text) {
  for (size_t i = vocab.tokens.size(); i-- > 0;) {  // the last duplicate wins, as in the index
    if (vocab.tokens[i] == text) return static_cast<int32_t>(i);
  }
  return -1;
}

Result<json> ParseJsonFile(const std::string& path) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss(path + ": not valid JSON");
  if (!j.is_object()) return DataLoss(path + ": expected a JSON object at the top level");
  return j;
}

}  // namespace

void AddEndOfGenerationId(VocabData& vocab, int64_t id) {
  if (id < 0 || id >= static_cast<int64_t>(vocab.tokens.size()) || id == vocab.eos_id) return;
  if (std::find(vocab.eog_ids.begin(), vocab.eog_ids.end(), id) != vocab.eog_ids.end()) return;
  vocab.eog_ids.push_back(static_cast<int32_t>(id));
}

void AddKnownEndOfGenerationTokens(VocabData& vocab) {
  for (size_t i = 0; i < vocab.tokens.size(); ++i) {
    const std::string& text = vocab.tokens[i];
    if (text.size() < 5 || text.front() != '<' || text.back() != '>') continue;
    if (std::find(std::begin(kKnownEndOfGeneration), std::end(kKnownEndOfGeneration), text) ==
        std::end(kKnownEndOfGeneration)) {
      continue;
    }
    if (!vocab.token_types.empty()) {
      const auto type = static_cast<TokenType>(vocab.token_types[i]);
      if (type != TokenType::kControl && type != TokenType::kUserDefined) continue;
    }
    AddEndOfGenerationId(vocab, static_cast<int64_t>(i));
  }
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return DataLoss(path + ": read error");
  return std::move(buffer).str();
}

Result<HfTokenizerConfig> ReadHfConfigsBeside(const std::string& path) {
  HfTokenizerConfig config;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  const std::string tokenizer_config = (dir / "tokenizer_config.json").string();
  if (std::filesystem::exists(tokenizer_config, ec)) {
    MERIDIAN_ASSIGN_OR_RETURN(json j, ParseJsonFile(tokenizer_config));
    config.bos_token = TokenText(j, "bos_token");
    config.eos_token = TokenText(j, "eos_token");
    config.unk_token = TokenText(j, "unk_token");
    config.pad_token = TokenText(j, "pad_token");
    if (auto it = j.find("add_bos_token"); it != j.end() && it->is_boolean())
      config.add_bos = it->get<bool>();
    if (auto it = j.find("add_eos_token"); it != j.end() && it->is_boolean())
      config.add_eos = it->get<bool>();
    if (auto it = j.find("chat_template"); it != j.end()) {
      if (it->is_string()) {
        config.chat_template = it->get<std::string>();
      } else if (it->is_array()) {  // [{"name": "default", "template": "..."}, ...]
        for (const json& entry : *it) {
          if (!entry.is_object()) continue;
          auto name = entry.find("name");
          auto tmpl = entry.find("template");
          if (tmpl == entry.end() || !tmpl->is_string()) continue;
          const bool is_default =
              name != entry.end() && name->is_string() && name->get<std::string>() == "default";
          if (config.chat_template.empty() || is_default) config.chat_template = tmpl->get<std::string>();
          if (is_default) break;
        }
      }
    }
  }
  const std::string generation_config = (dir / "generation_config.json").string();
  if (std::filesystem::exists(generation_config, ec)) {
    MERIDIAN_ASSIGN_OR_RETURN(json j, ParseJsonFile(generation_config));
    if (auto it = j.find("eos_token_id"); it != j.end()) {
      if (it->is_number_integer()) config.generation_eos_ids.push_back(it->get<int64_t>());
      if (it->is_array()) {
        for (const json& id : *it) {
          if (id.is_number_integer()) config.generation_eos_ids.push_back(id.get<int64_t>());
        }
      }
    }
  }
  return config;
}

void ApplyHfConfig(const HfTokenizerConfig& config, VocabData& vocab) {
  auto apply = [&](const std::optional<std::string>& text, int32_t& id) {
    if (!text) return;
    const int32_t found = FindTokenText(vocab, *text);
    if (found >= 0) id = found;
  };
  apply(config.bos_token, vocab.bos_id);
  apply(config.eos_token, vocab.eos_id);
  apply(config.unk_token, vocab.unk_id);
  apply(config.pad_token, vocab.pad_id);
  if (config.add_bos) vocab.add_bos = *config.add_bos;
  if (config.add_eos) vocab.add_eos = *config.add_eos;
  if (!config.chat_template.empty()) vocab.chat_template = config.chat_template;
  for (int64_t id : config.generation_eos_ids) {
    if (vocab.eos_id < 0 && id >= 0 && id < static_cast<int64_t>(vocab.tokens.size())) {
      vocab.eos_id = static_cast<int32_t>(id);
    }
    AddEndOfGenerationId(vocab, id);
  }
}

}  // namespace meridian::engine::tokenizer_internal
