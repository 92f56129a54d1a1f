// Prompt building: picks the chat template once at start-up (the model's own, else a built-in one
// for its family) and turns chat messages or prompt text into token ids for the scheduler.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/chat/chat_template.h"
#include "engine/chat/jinja_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::server {

//! Immutable after Create: every method is safe to call from many threads at once.
class PromptBuilder {
 public:
  //! `template_choice`: "" (the model's template; a built-in one when it has none or it does not
  //! parse), "llama2", "llama3", "chatml", or a path to a Jinja file. The tokenizer must outlive
  //! the builder. InvalidArgument for an unreadable file or a template that does not parse.
  static Result<PromptBuilder> Create(const engine::Tokenizer& tokenizer, const std::string& template_choice);

  //! Renders `messages` with the chat template and tokenizes the result (special-token text such
  //! as "<s>" becomes its token; BOS is added when the vocabulary asks for it and the template did
  //! not). Errors (InvalidArgument, ResourceExhausted) carry the template's own message, e.g.
  //! "Conversation roles must alternate user/assistant/user/assistant/...".
  Result<std::vector<int32_t>> Chat(std::span<const engine::ChatMessage> messages,
                                    bool add_generation_prompt) const;
  //! Tokenizes prompt text; `add_special` adds BOS (and EOS) as the vocabulary says.
  Result<std::vector<int32_t>> Text(std::string_view prompt, bool add_special) const;

  //! Where the template came from: "model", "builtin:llama2", "file:/path", ...
  const std::string& template_source() const { return source_; }

 private:
  PromptBuilder(const engine::Tokenizer& tokenizer, engine::jinja::Template tmpl, std::string source)
      : tokenizer_(&tokenizer), template_(std::move(tmpl)), source_(std::move(source)) {}

  const engine::Tokenizer* tokenizer_;
  engine::jinja::Template template_;
  std::string source_;
};

}  // namespace meridian::server
