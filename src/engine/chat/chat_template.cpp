// ApplyChatTemplate and the built-in templates (the widely published Jinja sources of the
// LLaMA-2 chat, LLaMA-3 instruct and ChatML formats).
#include "engine/chat/chat_template.h"

#include <nlohmann/json.hpp>

#include "engine/chat/jinja_template.h"

namespace meridian::engine {
namespace {

// Meta's Llama-2-chat format: [INST] turns, <<SYS>> folded into the first user turn.
constexpr std::string_view kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}";

// Meta-Llama-3-Instruct: header-delimited turns ending in <|eot_id|>.
constexpr std::string_view kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

// ChatML (OpenAI's format, used by Qwen, Yi, OpenHermes and many fine-tunes).
constexpr std::string_view kChatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

}  // namespace

Result<std::string> ApplyChatTemplate(std::string_view template_source, std::span<const ChatMessage> messages,
                                      bool add_generation_prompt, std::string_view bos_token,
                                      std::string_view eos_token) {
  MERIDIAN_ASSIGN_OR_RETURN(jinja::Template tmpl, jinja::Template::Parse(template_source));
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) {
    nlohmann::ordered_json msg = nlohmann::ordered_json::object();
    msg["role"] = m.role;
    msg["content"] = m.content;
    list.push_back(std::move(msg));
  }
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  context["bos_token"] = std::string(bos_token);
  context["eos_token"] = std::string(eos_token);
  return tmpl.Render(context);
}

std::optional<std::string> BuiltinChatTemplate(std::string_view name) {
  if (name == "llama2") return std::string(kLlama2);
  if (name == "llama3") return std::string(kLlama3);
  if (name == "chatml") return std::string(kChatml);
  return std::nullopt;
}

std::string_view DetectChatTemplateFamily(std::string_view source) {
  if (source.find("<|start_header_id|>") != std::string_view::npos) return "llama3";
  if (source.find("<|im_start|>") != std::string_view::npos) return "chatml";
  if (source.find("[INST]") != std::string_view::npos) return "llama2";
  return "";
}

}  // namespace meridian::engine
