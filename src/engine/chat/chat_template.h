// Chat templates: turn a conversation into the prompt text a model was trained on, using the
// model's own Jinja template (tokenizer.chat_template) or a built-in one.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::engine {

struct ChatMessage {
  std::string role;  //!< "system", "user", "assistant", "tool", ...
  std::string content;
};

//! Renders `template_source` (a Hugging Face chat template) with the variables `messages`
//! (a list of {role, content}), `add_generation_prompt`, `bos_token` and `eos_token`.
//! Errors: InvalidArgument "template syntax error (line N): ..." or "template error (line N):
//! ..."; the template's own raise_exception('msg') gives InvalidArgument with exactly msg
//! (e.g. "Conversation roles must alternate ..."); ResourceExhausted when the template exceeds
//! the limits of jinja::TemplateLimits. For repeated use, parse once with jinja::Template.
Result<std::string> ApplyChatTemplate(std::string_view template_source, std::span<const ChatMessage> messages,
                                      bool add_generation_prompt, std::string_view bos_token,
                                      std::string_view eos_token);

//! The Jinja source of a built-in template: "llama2", "llama3" or "chatml"; nullopt otherwise.
std::optional<std::string> BuiltinChatTemplate(std::string_view name);

//! Which built-in family a template resembles, judged by its special markers: "llama3"
//! (<|start_header_id|>), "chatml" (<|im_start|>), "llama2" ([INST]); "" when none fits.
std::string_view DetectChatTemplateFamily(std::string_view source);

}  // namespace meridian::engine
