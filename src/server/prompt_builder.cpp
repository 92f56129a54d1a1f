// Chat template choice and prompt tokenization (see prompt_builder.h).
#include "server/prompt_builder.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/log.h"

namespace meridian::server {

namespace {

std::string SpecialText(const engine::Tokenizer& tokenizer, int32_t id) {
  const auto& tokens = tokenizer.vocab().tokens;
  if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return "";
  return tokens[static_cast<size_t>(id)];
}

// The built-in family that fits a vocabulary without a template of its own.
std::string FamilyFromVocabulary(const engine::Tokenizer& tokenizer) {
  if (tokenizer.FindToken("<|start_header_id|>") >= 0) return "llama3";
  if (tokenizer.FindToken("<|im_start|>") >= 0) return "chatml";
  return "llama2";
}

}  // namespace

Result<PromptBuilder> PromptBuilder::Create(const engine::Tokenizer& tokenizer, const std::string& choice) {
  std::string source_text;
  std::string source_name;
  if (choice.empty()) {
    const std::string& own = tokenizer.vocab().chat_template;
    if (!own.empty()) {
      auto parsed = engine::jinja::Template::Parse(own);
      if (parsed.ok()) return PromptBuilder(tokenizer, std::move(*parsed), "model");
      std::string family(engine::DetectChatTemplateFamily(own));
      if (family.empty()) family = FamilyFromVocabulary(tokenizer);
      log::Warn("the model's chat template does not parse; using a built-in one",
                {{"error", parsed.status().message()}, {"template", "builtin:" + family}});
      source_name = "builtin:" + family;
      source_text = *engine::BuiltinChatTemplate(family);
    } else {
      const std::string family = FamilyFromVocabulary(tokenizer);
      source_name = "builtin:" + family;
      source_text = *engine::BuiltinChatTemplate(family);
    }
  } else if (auto builtin = engine::BuiltinChatTemplate(choice)) {
    source_name = "builtin:" + choice;
    source_text = std::move(*builtin);
  } else {
    std::ifstream in(choice, std::ios::binary);
    if (!in) {
      return InvalidArgument("--chat-template: '" + choice +
                             "' is neither a built-in template (llama2, llama3, chatml) nor a readable file");
    }
    std::ostringstream text;
    text << in.rdbuf();
    source_name = "file:" + choice;
    source_text = text.str();
  }
  auto parsed = engine::jinja::Template::Parse(source_text);
  if (!parsed.ok()) return parsed.status().WithContext("chat template " + source_name);
  return PromptBuilder(tokenizer, std::move(*parsed), std::move(source_name));
}

Result<std::vector<int32_t>> PromptBuilder::Chat(std::span<const engine::ChatMessage> messages,
                                                 bool add_generation_prompt) const {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const engine::ChatMessage& m : messages) {
    nlohmann::ordered_json msg = nlohmann::ordered_json::object();
    msg["role"] = m.role;
    msg["content"] = m.content;
    list.push_back(std::move(msg));
  }
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = SpecialText(*tokenizer_, tokenizer_->bos_id());
  context["eos_token"] = SpecialText(*tokenizer_, tokenizer_->eos_id());
  MERIDIAN_ASSIGN_OR_RETURN(std::string text, template_.Render(context));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                            tokenizer_->Encode(text, /*add_bos=*/false, /*parse_special=*/true));
  const int32_t bos = tokenizer_->bos_id();
  if (tokenizer_->vocab().add_bos && bos >= 0 && (ids.empty() || ids.front() != bos))
    ids.insert(ids.begin(), bos);
  return ids;
}

Result<std::vector<int32_t>> PromptBuilder::Text(std::string_view prompt, bool add_special) const {
  return tokenizer_->Encode(prompt, add_special, /*parse_special=*/true);
}

}  // namespace meridian::server
