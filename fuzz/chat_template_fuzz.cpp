// libFuzzer target for the chat-template interpreter: parses arbitrary bytes as a Jinja
// template and renders it with a fixed conversation, under small limits so each input stays
// fast. Any crash, hang, leak or sanitizer report is a bug; errors are expected outcomes.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "engine/chat/jinja_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using meridian::engine::jinja::Template;
  using meridian::engine::jinja::TemplateLimits;
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are terse."},
      {"role": "user", "content": "Hi \u00e9 <b>"},
      {"role": "assistant", "content": " Hello. ", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
      {"role": "user", "content": "What is 2+2?"}
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  TemplateLimits limits;
  limits.max_source_bytes = 64u << 10;
  limits.max_steps = 50'000;
  limits.max_work_bytes = 1u << 20;
  limits.max_output_bytes = 256u << 10;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto parsed = Template::Parse(source, limits);
  if (!parsed.ok()) return 0;
  auto rendered = parsed->Render(context);
  (void)rendered;
  return 0;
}
