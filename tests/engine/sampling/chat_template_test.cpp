// Chat templates: the built-in LLaMA-2, LLaMA-3 and ChatML templates against hand-written
// prompts, family detection, a multi-line tool template in Hugging Face whitespace mode, and
// the errors and limits that hostile or broken templates must produce.
#include "engine/chat/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/chat/jinja_template.h"

namespace meridian::engine {
namespace {

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."},
    {"user", "Hi there"},
    {"assistant", "Hello."},
    {"user", " What is 2+2? "},
};

std::string Render(const std::string& name, const std::vector<ChatMessage>& messages,
                   bool add_generation_prompt) {
  std::optional<std::string> source = BuiltinChatTemplate(name);
  EXPECT_TRUE(source.has_value()) << name;
  Result<std::string> out = ApplyChatTemplate(*source, messages, add_generation_prompt, "<s>", "</s>");
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : "";
}

TEST(ChatTemplate, Llama2) {
  EXPECT_EQ(Render("llama2", kConversation, true),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello. </s>"
            "<s>[INST] What is 2+2? [/INST]");
}

TEST(ChatTemplate, Llama2WithoutSystem) {
  std::vector<ChatMessage> messages(kConversation.begin() + 1, kConversation.end());
  EXPECT_EQ(Render("llama2", messages, false),
            "<s>[INST] Hi there [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]");
}

TEST(ChatTemplate, Llama2RaisesOnBadAlternation) {
  std::vector<ChatMessage> messages = {{"user", "a"}, {"user", "b"}};
  Result<std::string> out = ApplyChatTemplate(*BuiltinChatTemplate("llama2"), messages, true, "<s>", "</s>");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message(), "Conversation roles must alternate user/assistant/user/assistant/...");
}

TEST(ChatTemplate, Llama3) {
  std::optional<std::string> source = BuiltinChatTemplate("llama3");
  ASSERT_TRUE(source);
  Result<std::string> out =
      ApplyChatTemplate(*source, kConversation, true, "<|begin_of_text|>", "<|eot_id|>");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  Result<std::string> no_prompt = ApplyChatTemplate(*source, kConversation, false, "<|begin_of_text|>", "");
  ASSERT_TRUE(no_prompt.ok());
  EXPECT_EQ(
      *no_prompt,
      out->substr(0, out->size() - std::string("<|start_header_id|>assistant<|end_header_id|>\n\n").size()));
}

TEST(ChatTemplate, Chatml) {
  EXPECT_EQ(Render("chatml", kConversation, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n What is 2+2? <|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(Render("chatml", {}, false), "");
}

TEST(ChatTemplate, BuiltinsAndDetection) {
  EXPECT_FALSE(BuiltinChatTemplate("vicuna").has_value());
  for (const char* name : {"llama2", "llama3", "chatml"}) {
    EXPECT_EQ(DetectChatTemplateFamily(*BuiltinChatTemplate(name)), name);
  }
  EXPECT_EQ(DetectChatTemplateFamily("{{ bos_token }}[INST] {{ messages[0].content }} [/INST]"), "llama2");
  EXPECT_EQ(DetectChatTemplateFamily("{% for m in messages %}{{ m.content }}{% endfor %}"), "");
}

TEST(ChatTemplate, GemmaStyleTemplate) {
  const std::string gemma =
      "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not "
      "supported') }}"
      "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif "
      "%}"
      "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = "
      "message['role'] %}"
      "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
      "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
  std::vector<ChatMessage> messages(kConversation.begin() + 1, kConversation.end());
  Result<std::string> out = ApplyChatTemplate(gemma, messages, true, "<bos>", "<eos>");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
  Result<std::string> sys = ApplyChatTemplate(gemma, kConversation, true, "<bos>", "<eos>");
  EXPECT_EQ(sys.status().message(), "System role not supported");
}

TEST(ChatTemplate, MultiLineToolTemplateInHuggingFaceWhitespaceMode) {
  const std::string source = R"({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- endif %}
{%- for message in messages %}
    {%- if not (message.role == "system" and loop.first and tools) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)";
  Result<jinja::Template> tmpl = jinja::Template::Parse(source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
  nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "SYS"}, {"role": "user", "content": "Hi"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true})");
  Result<std::string> out = tmpl->Render(context);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "<|im_start|>system\nSYS\n\n# Tools\n\n<tools>\n"
            "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": "
            "\"object\"}}}"
            "\n</tools><|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  context.erase("tools");
  out = tmpl->Render(context);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out,
            "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

Status ErrorOf(const std::string& source) {
  Result<std::string> out = ApplyChatTemplate(source, kConversation, true, "<s>", "</s>");
  return out.ok() ? Status::Ok() : out.status();
}

void ExpectError(const std::string& source, StatusCode code, const std::string& fragment) {
  Status s = ErrorOf(source);
  EXPECT_EQ(s.code(), code) << source << " -> " << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << source << " -> " << s.ToString();
}

TEST(ChatTemplate, ClearErrors) {
  ExpectError("{{ messages | shout }}", StatusCode::kInvalidArgument, "unknown filter 'shout'");
  ExpectError("line one\n{% if true %}{{ x | nope }}{% endif %}", StatusCode::kInvalidArgument, "line 2");
  ExpectError("{% if true %}yes", StatusCode::kInvalidArgument, "'if' block is never closed");
  ExpectError("{% for m in messages %}{{ m }}", StatusCode::kInvalidArgument, "expected '{% endfor %}'");
  ExpectError("{{ 1 + }}", StatusCode::kInvalidArgument, "expected an expression");
  ExpectError("{{ 'abc }}", StatusCode::kInvalidArgument, "never closed");
  ExpectError("{{ x", StatusCode::kInvalidArgument, "'{{' is never closed");
  ExpectError("{# note", StatusCode::kInvalidArgument, "comment is never closed");
  ExpectError("{% endif %}", StatusCode::kInvalidArgument, "unexpected '{% endif %}'");
  ExpectError("{% include 'x' %}", StatusCode::kInvalidArgument, "not supported");
  ExpectError("{% break %}", StatusCode::kInvalidArgument, "outside a for loop");
  ExpectError("{{ x is shiny }}", StatusCode::kInvalidArgument, "unknown test 'shiny'");
  ExpectError("{{ raise_exception('custom message') }}", StatusCode::kInvalidArgument, "custom message");
  EXPECT_EQ(ErrorOf("{{ raise_exception('custom message') }}").message(), "custom message");
  ExpectError("{{ missing.attr }}", StatusCode::kInvalidArgument, "'missing' is undefined");
  ExpectError("{{ 1 + 'a' }}", StatusCode::kInvalidArgument,
              "unsupported operand types for +: 'int' and 'str'");
  ExpectError("{{ 1 // 0 }}", StatusCode::kInvalidArgument, "by zero");
  ExpectError("{{ nosuch(1) }}", StatusCode::kInvalidArgument, "'nosuch' is undefined");
  ExpectError("{{ 'a'.nosuch() }}", StatusCode::kInvalidArgument, "has no method 'nosuch'");
  ExpectError("{% set x = 1 %}{% set x.y = 2 %}", StatusCode::kInvalidArgument, "namespace");
  ExpectError("{{ 9223372036854775807 + 1 }}", StatusCode::kInvalidArgument, "overflow");
  ExpectError("{{ 99999999999999999999 }}", StatusCode::kInvalidArgument, "out of range");
}

TEST(ChatTemplate, RecursionAndNestingAreBounded) {
  ExpectError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", StatusCode::kResourceExhausted,
              "recursed more than");
  ExpectError("{{ " + std::string(2000, '(') + "1" + std::string(2000, ')') + " }}",
              StatusCode::kInvalidArgument, "levels deep");
  ExpectError("{{ " + std::string(2000, '-') + "1 }}", StatusCode::kInvalidArgument, "levels deep");
  ExpectError("{{ " + std::string(2000, '[') + std::string(2000, ']') + " }}", StatusCode::kInvalidArgument,
              "levels deep");
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  ExpectError(ifs, StatusCode::kInvalidArgument, "levels deep");
  std::string chain = "{{ a";
  for (int i = 0; i < 2000; ++i) chain += ".b";
  ExpectError(chain + " }}", StatusCode::kInvalidArgument, "levels deep");
  std::string sum = "{{ 1";
  for (int i = 0; i < 2000; ++i) sum += " + 1";
  ExpectError(sum + " }}", StatusCode::kInvalidArgument, "levels deep");
}

//! Renders with small limits so that runaway templates fail fast even under sanitizers.
Status ErrorWithSmallLimits(const std::string& source) {
  jinja::TemplateLimits limits;
  limits.max_steps = 20'000;
  limits.max_work_bytes = 1u << 20;
  limits.max_output_bytes = 256u << 10;
  Result<jinja::Template> t = jinja::Template::Parse(source, limits);
  if (!t.ok()) return t.status();
  Result<std::string> out = t->Render(nlohmann::ordered_json::object());
  return out.ok() ? Status::Ok() : out.status();
}

void ExpectLimit(const std::string& source, StatusCode code, const std::string& fragment) {
  Status s = ErrorWithSmallLimits(source);
  EXPECT_EQ(s.code(), code) << source << " -> " << s.ToString();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << source << " -> " << s.ToString();
}

TEST(ChatTemplate, RunawayTemplatesHitLimits) {
  // The default limits, through the public entry point.
  ExpectError("{% for i in range(100000000000) %}x{% endfor %}", StatusCode::kResourceExhausted,
              "work limit");
  ExpectError("{{ 'x' * 9000000000000000000 }}", StatusCode::kResourceExhausted, "work limit");
  ExpectError("{% set s = 'x' * 100000 %}{% for i in range(100) %}{{ s }}{% endfor %}",
              StatusCode::kResourceExhausted, "output limit");
  // Each limit on its own, made small.
  ExpectLimit("{% set r = range(200) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}",
              StatusCode::kResourceExhausted, "steps");
  ExpectLimit(
      "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
      StatusCode::kResourceExhausted, "work limit");
  ExpectLimit(
      "{% set ns = namespace(s='') %}{% for i in range(5000) %}{% set ns.s = ns.s ~ 'ab' %}{% endfor %}",
      StatusCode::kResourceExhausted, "work limit");
  ExpectLimit("{% set big = ['x' * 20000] * 1000 %}{{ big }}", StatusCode::kResourceExhausted, "limit");
  ExpectLimit("{% set big = ['x' * 20000] * 1000 %}{{ big | tojson }}", StatusCode::kResourceExhausted,
              "limit");
  ExpectLimit("{% set big = ['x' * 20000] * 1000 %}{{ big | join }}", StatusCode::kResourceExhausted,
              "work limit");
  ExpectLimit(
      "{% set ns = namespace(l=[]) %}{% for i in range(200) %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}",
      StatusCode::kInvalidArgument, "nested more than");
  // A list that contains itself prints as an error, not a crash or a leak.
  ExpectLimit("{% set a = [] %}{{ a.append(a) }}{{ a | tojson }}", StatusCode::kInvalidArgument,
              "nested more than");
  ExpectLimit("{% set a = [] %}{{ a.append(a) }}{{ a == a }}{{ a }}", StatusCode::kInvalidArgument,
              "nested more than");
}

}  // namespace
}  // namespace meridian::engine
