// A parsed Jinja template, restricted to the subset Hugging Face chat templates use, and its
// bounded renderer. docs/chat-templates.md lists the supported syntax.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/chat/jinja_ast.h"

namespace meridian::engine::jinja {

//! Immutable once parsed: Render() may run on many threads at once.
class Template {
 public:
  //! Parses `source`. InvalidArgument "template syntax error (line N): ..." on bad syntax,
  //! unknown filters or tests, and sources over the size limit.
  static Result<Template> Parse(std::string_view source, const TemplateLimits& limits = {});

  //! Renders with the keys of `context` (a JSON object) as variables. Errors: InvalidArgument
  //! "template error (line N): ..." for runtime errors, the message of raise_exception() as is,
  //! ResourceExhausted when a limit of TemplateLimits is reached.
  Result<std::string> Render(const nlohmann::ordered_json& context) const;
  Result<std::string> Render(const nlohmann::json& context) const;

  const TemplateLimits& limits() const { return limits_; }

 private:
  Template(std::shared_ptr<const Body> body, const TemplateLimits& limits)
      : body_(std::move(body)), limits_(limits) {}

  std::shared_ptr<const Body> body_;
  TemplateLimits limits_;
};

}  // namespace meridian::engine::jinja
