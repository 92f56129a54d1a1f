// VocabFromTokenizerJson: a Hugging Face tokenizer.json whose model is BPE, either byte-level
// (GPT-2, LLaMA-3, Qwen2) or SentencePiece-style with byte fallback (LLaMA-2 exports), plus the
// tokenizer_config.json / generation_config.json beside it.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_base.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab_util.h"

namespace meridian::engine {
namespace {

using nlohmann::json;
using tokenizer_internal::kSpmSpace;

// The Split regexes of the byte-level pre-tokenizers we implement, as tokenizer.json spells them.
constexpr std::string_view kLlama3Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2Regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// j[key] if j is an object that has it, else null; never copies.
const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string TypeOf(const json& j) {
  if (j.is_object()) {
    auto it = j.find("type");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

// The members of a "Sequence" component (pretokenizers / normalizers / decoders), or the
// component itself.
std::vector<const json*> Flatten(const json& component, const char* list_key) {
  std::vector<const json*> out;
  if (component.is_null()) return out;
  if (TypeOf(component) == "Sequence") {
    auto it = component.find(list_key);
    if (it != component.end() && it->is_array()) {
      for (const json& c : *it) out.push_back(&c);
    }
  } else {
    out.push_back(&component);
  }
  return out;
}

std::string JsonString(const json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

bool JsonBool(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return (it != j.end() && it->is_boolean()) ? it->get<bool>() : fallback;
}

// Decides the byte-level pre-tokenizer name from the pre_tokenizer section.
Result<std::string> ByteLevelPreName(const std::string& path, const json& pre_tokenizer, bool ignore_merges) {
  std::string regex;
  bool byte_level_regex = false;
  for (const json* c : Flatten(pre_tokenizer, "pretokenizers")) {
    const std::string type = TypeOf(*c);
    if (type == "ByteLevel") {
      if (JsonBool(*c, "add_prefix_space", false)) {
        return Unimplemented(path + ": ByteLevel pre-tokenizer with add_prefix_space=true is not supported");
      }
      byte_level_regex = byte_level_regex || JsonBool(*c, "use_regex", true);
    } else if (type == "Split") {
      auto pattern = c->find("pattern");
      if (pattern == c->end() || !pattern->is_object()) {
        return Unimplemented(path + ": Split pre-tokenizer without a pattern is not supported");
      }
      regex = JsonString(*pattern, "Regex");
      if (regex.empty()) regex = JsonString(*pattern, "String");
    } else if (type == "Digits" || type == "Whitespace" || type == "Punctuation" || type == "Metaspace") {
      return Unimplemented(path + ": pre-tokenizer '" + type +
                           "' is not supported with a byte-level BPE model");
    }
  }
  if (!regex.empty()) {
    if (byte_level_regex) {
      return Unimplemented(path +
                           ": a Split pre-tokenizer followed by a ByteLevel one that splits again is "
                           "not supported");
    }
    if (regex == kLlama3Regex) return std::string(ignore_merges ? "llama-bpe" : "smaug-bpe");
    if (regex == kQwen2Regex) return std::string("qwen2");
    if (regex == kGpt2Regex) return std::string("gpt2");
    return Unimplemented(path +
                         ": pre-tokenizer regex is not one Meridian implements (GPT-2, LLaMA-3, Qwen2): " +
                         regex.substr(0, 200));
  }
  return std::string("gpt2");
}

// Reads the SentencePiece-style normalizer / pre-tokenizer and returns add_space_prefix.
Result<bool> SentencePieceSpacePrefix(const std::string& path, const json& root) {
  bool prepend = false;
  for (const json* c : Flatten(Member(root, "normalizer"), "normalizers")) {
    const std::string type = TypeOf(*c);
    if (type == "Prepend" && JsonString(*c, "prepend") == kSpmSpace) {
      prepend = true;
    } else if (type == "Replace") {
      auto pattern = c->find("pattern");
      const bool space = pattern != c->end() && pattern->is_object() && JsonString(*pattern, "String") == " ";
      if (!space || JsonString(*c, "content") != kSpmSpace) {
        return Unimplemented(path + ": normalizer Replace other than ' ' -> '\xE2\x96\x81' is not supported");
      }
    } else {
      return Unimplemented(path + ": normalizer '" + type + "' is not supported");
    }
  }
  for (const json* c : Flatten(Member(root, "pre_tokenizer"), "pretokenizers")) {
    const std::string type = TypeOf(*c);
    if (type != "Metaspace")
      return Unimplemented(path + ": pre-tokenizer '" + type + "' is not supported here");
    if (JsonString(*c, "replacement") != kSpmSpace) {
      return Unimplemented(path + ": Metaspace replacement other than '\xE2\x96\x81' is not supported");
    }
    if (JsonBool(*c, "split", true)) {
      return Unimplemented(path + ": Metaspace pre-tokenizer with split=true is not supported");
    }
    const std::string scheme = JsonString(*c, "prepend_scheme");
    prepend = scheme.empty() ? JsonBool(*c, "add_prefix_space", true) : scheme != "never";
  }
  return prepend;
}

// SentencePiece scores from merge ranks: the first (lowest-rank) merge forming a token gives it
// score -rank, so the highest-scoring pair is the one BPE would merge first. Single characters
// never form from a pair (score 0); longer tokens no merge forms get the lowest score.
std::vector<float> ScoresFromMerges(const VocabData& v, const std::unordered_map<std::string, int32_t>& ids) {
  std::vector<float> scores(v.tokens.size(), 0.0f);
  std::vector<bool> formed(v.tokens.size(), false);
  std::string joined;
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    const std::string& m = v.merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) continue;
    joined.assign(m, 0, space);
    joined.append(m, space + 1);
    auto it = ids.find(joined);
    if (it == ids.end() || formed[static_cast<size_t>(it->second)]) continue;
    formed[static_cast<size_t>(it->second)] = true;
    scores[static_cast<size_t>(it->second)] = -static_cast<float>(rank);
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const std::string& t = v.tokens[i];
    const bool single_char =
        !t.empty() && tokenizer_internal::Utf8SequenceLength(static_cast<uint8_t>(t[0])) >= t.size();
    if (!formed[i] && !single_char) scores[i] = -1e30f;
  }
  return scores;
}

Result<VocabData> ParseTokenizerJson(const std::string& path, const json& root) {
  const json& model = Member(root, "model");
  const std::string model_type = TypeOf(model);
  if (model_type != "BPE") {
    return Unimplemented(path + ": tokenizer model type '" + model_type + "' is not supported (only BPE)");
  }
  auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object()) return DataLoss(path + ": model.vocab is missing");

  VocabData v;
  std::unordered_map<std::string, int32_t> ids;
  int64_t n = 0;
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    if (!it.value().is_number_integer())
      return DataLoss(path + ": model.vocab['" + it.key() + "'] is not an id");
    const int64_t id = it.value().get<int64_t>();
    if (id < 0 || id >= (int64_t{1} << 30))
      return DataLoss(path + ": token id " + std::to_string(id) + " out of range");
    n = std::max(n, id + 1);
  }
  const json& added_member = Member(root, "added_tokens");
  static const json kEmptyArray = json::array();
  const json& added = added_member.is_array() ? added_member : kEmptyArray;
  for (const json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
        !a["content"].is_string()) {
      return DataLoss(path + ": added_tokens entries need an integer 'id' and a string 'content'");
    }
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id >= (int64_t{1} << 30))
      return DataLoss(path + ": token id " + std::to_string(id) + " out of range");
    n = std::max(n, id + 1);
  }
  v.tokens.assign(static_cast<size_t>(n), std::string());
  v.token_types.assign(static_cast<size_t>(n), static_cast<int32_t>(TokenType::kNormal));
  for (auto it = vocab_it->begin(); it != vocab_it->end(); ++it) {
    v.tokens[static_cast<size_t>(it.value().get<int64_t>())] = it.key();
  }
  std::vector<bool> special_added(static_cast<size_t>(n), false);
  for (const json& a : added) {
    const auto id = static_cast<size_t>(a["id"].get<int64_t>());
    v.tokens[id] = a["content"].get<std::string>();
    const bool special = a.value("special", false);
    v.token_types[id] = static_cast<int32_t>(special ? TokenType::kControl : TokenType::kUserDefined);
    special_added[id] = true;
  }
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i].empty()) {  // a hole in the id space
      v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.token_types[i] = static_cast<int32_t>(TokenType::kUnused);
    }
    ids[v.tokens[i]] = static_cast<int32_t>(i);
  }

  if (auto merges = model.find("merges"); merges != model.end() && merges->is_array()) {
    v.merges.reserve(merges->size());
    for (const json& m : *merges) {
      if (m.is_string()) {
        v.merges.push_back(m.get<std::string>());
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      } else {
        return DataLoss(path + ": model.merges entries must be \"a b\" strings or [\"a\", \"b\"] pairs");
      }
    }
  }

  const std::string unk = JsonString(model, "unk_token");
  if (!unk.empty()) {
    if (auto it = ids.find(unk); it != ids.end()) {
      v.unk_id = it->second;
      v.token_types[static_cast<size_t>(v.unk_id)] = static_cast<int32_t>(TokenType::kUnknown);
    }
  }

  const json& pre_tokenizer = Member(root, "pre_tokenizer");
  const json& decoder = Member(root, "decoder");
  bool byte_level = false;
  for (const json* c : Flatten(pre_tokenizer, "pretokenizers"))
    byte_level = byte_level || TypeOf(*c) == "ByteLevel";
  for (const json* c : Flatten(decoder, "decoders")) byte_level = byte_level || TypeOf(*c) == "ByteLevel";

  if (byte_level) {
    v.kind = TokenizerKind::kBytePairBpe;
    v.add_space_prefix = false;
    v.add_bos = false;
    MERIDIAN_ASSIGN_OR_RETURN(v.pre,
                              ByteLevelPreName(path, pre_tokenizer, JsonBool(model, "ignore_merges", false)));
  } else {
    v.kind = TokenizerKind::kSentencePiece;
    if (!JsonBool(model, "byte_fallback", false) && v.unk_id < 0) {
      return Unimplemented(path +
                           ": BPE model is neither byte-level nor SentencePiece-style (no byte_fallback, "
                           "no unk_token)");
    }
    MERIDIAN_ASSIGN_OR_RETURN(v.add_space_prefix, SentencePieceSpacePrefix(path, root));
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (!special_added[i] && tokenizer_internal::ParseByteToken(v.tokens[i]) >= 0) {
        v.token_types[i] = static_cast<int32_t>(TokenType::kByte);
      }
    }
    v.scores = ScoresFromMerges(v, ids);
    // LLaMA-2 conventions where no config says otherwise.
    if (auto it = ids.find("<s>"); it != ids.end()) v.bos_id = it->second, v.add_bos = true;
    if (auto it = ids.find("</s>"); it != ids.end()) v.eos_id = it->second;
  }

  // post_processor TemplateProcessing: a special token before $A means "add BOS", after means "add EOS".
  const json& post = Member(root, "post_processor");
  for (const json* c : Flatten(post, "processors")) {
    if (TypeOf(*c) != "TemplateProcessing") continue;
    auto single = c->find("single");
    if (single == c->end() || !single->is_array() || single->empty()) continue;
    auto special_of = [&](const json& item) -> int32_t {
      if (!item.is_object() || !item.contains("SpecialToken")) return -1;
      const std::string text = JsonString(item["SpecialToken"], "id");
      auto it = ids.find(text);
      return it == ids.end() ? -1 : it->second;
    };
    const int32_t first = special_of(single->front());
    const int32_t last = single->size() > 1 ? special_of(single->back()) : -1;
    v.add_bos = first >= 0;
    if (first >= 0) v.bos_id = first;
    v.add_eos = last >= 0;
    if (last >= 0) v.eos_id = last;
  }
  return v;
}

}  // namespace

Result<VocabData> VocabFromTokenizerJson(const std::string& tokenizer_json_path) {
  const std::string& path = tokenizer_json_path;
  try {
    MERIDIAN_ASSIGN_OR_RETURN(std::string text, tokenizer_internal::ReadWholeFile(path));
    const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object())
      return DataLoss(path + ": not a valid tokenizer.json (bad JSON)");
    MERIDIAN_ASSIGN_OR_RETURN(VocabData v, ParseTokenizerJson(path, root));
    MERIDIAN_ASSIGN_OR_RETURN(tokenizer_internal::HfTokenizerConfig config,
                              tokenizer_internal::ReadHfConfigsBeside(path));
    tokenizer_internal::ApplyHfConfig(config, v);
    if (v.add_bos && v.bos_id < 0) v.add_bos = false;
    if (v.add_eos && v.eos_id < 0) v.add_eos = false;
    tokenizer_internal::AddKnownEndOfGenerationTokens(v);
    return v;
  } catch (const std::exception& e) {
    return DataLoss(path + ": malformed tokenizer.json (" + e.what() + ")");
  }
}

}  // namespace meridian::engine
