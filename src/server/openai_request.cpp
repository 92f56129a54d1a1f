// Request parsing and validation for the OpenAI-compatible endpoints (see openai_request.h).
#include "server/openai_request.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "engine/tokenizer/tokenizer.h"

namespace meridian::server {

using nlohmann::json;

namespace {

// A DOM builder that never throws, keeps the parser's error message and refuses deep nesting
// before building it (nesting is what could exhaust the stack later).
class BoundedDomParser : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  BoundedDomParser(json& root, int max_depth)
      : nlohmann::detail::json_sax_dom_parser<json>(root, /*allow_exceptions=*/false),
        max_depth_(max_depth) {}

  bool start_object(std::size_t len) {
    if (++depth_ > max_depth_) return TooDeep();
    return json_sax_dom_parser::start_object(len);
  }
  bool end_object() {
    --depth_;
    return json_sax_dom_parser::end_object();
  }
  bool start_array(std::size_t len) {
    if (++depth_ > max_depth_) return TooDeep();
    return json_sax_dom_parser::start_array(len);
  }
  bool end_array() {
    --depth_;
    return json_sax_dom_parser::end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& token, const Exception& ex) {
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 9: ...; last read: '...'":
    // keep the position and the reason, not the echo of the client's bytes.
    if (const size_t p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    if (const size_t p = what.find("; last read"); p != std::string::npos) what.resize(p);
    message_ = std::move(what);
    return json_sax_dom_parser::parse_error(position, token, ex);
  }

  const std::string& message() const { return message_; }

 private:
  bool TooDeep() {
    message_ = "the JSON nests deeper than " + std::to_string(max_depth_) + " levels";
    return false;
  }
  int max_depth_;
  int depth_ = 0;
  std::string message_;
};

std::optional<ApiError> ParseBody(std::string_view body, const RequestLimits& limits, json* out) {
  if (body.empty()) return BadRequest("the request body is empty; send a JSON object");
  if (!engine::IsValidUtf8(body))
    return BadRequest("the request body is not valid UTF-8", {}, "invalid_utf8");
  json root;
  BoundedDomParser parser(root, limits.max_json_depth);
  const bool ok = json::sax_parse(body.begin(), body.end(), &parser, nlohmann::detail::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false);
  if (!ok || parser.is_errored()) {
    std::string why = parser.message().empty() ? "malformed JSON" : parser.message();
    return BadRequest("the request body is not valid JSON: " + why, {}, "invalid_json");
  }
  if (!root.is_object()) {
    return BadRequest(std::string("the request body must be a JSON object, not ") + root.type_name());
  }
  *out = std::move(root);
  return std::nullopt;
}

std::string Quote(std::string_view field) {
  std::string out;
  out.reserve(field.size() + 2);
  out += '`';
  out += field;
  out += '`';
  return out;
}

ApiError WrongType(const std::string& field, const char* expected, const json& got) {
  return BadRequest(Quote(field) + " must be " + expected + ", not " + got.type_name(), field);
}

// The value of `key`, or nullptr when absent or null.
const json* Field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<ApiError> GetString(const json& obj, const char* key, std::string* out) {
  const json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_string()) return WrongType(key, "a string", *v);
  *out = v->get_ref<const std::string&>();
  return std::nullopt;
}

std::optional<ApiError> GetBool(const json& obj, const char* key, bool* out) {
  const json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return WrongType(key, "true or false", *v);
  *out = v->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> GetFloat(const json& obj, const char* key, float* out) {
  const json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) return WrongType(key, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 1e30) return BadRequest(Quote(key) + " is out of range", key);
  *out = static_cast<float>(d);
  return std::nullopt;
}

// An integer in [lo, hi]; `present` tells whether one was given.
std::optional<ApiError> GetInt(const json& obj, const char* key, int64_t lo, int64_t hi, int64_t* out,
                               bool* present = nullptr, const std::string& range_hint = {}) {
  if (present) *present = false;
  const json* v = Field(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) return WrongType(key, "an integer", *v);
  int64_t value;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    value = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                ? std::numeric_limits<int64_t>::max()
                : static_cast<int64_t>(u);
  } else {
    value = v->get<int64_t>();
  }
  if (value < lo || value > hi) {
    std::string msg = Quote(key) + " is " + std::to_string(value) + "; it must be ";
    msg += range_hint.empty() ? "between " + std::to_string(lo) + " and " + std::to_string(hi) : range_hint;
    return BadRequest(msg, key);
  }
  *out = value;
  if (present) *present = true;
  return std::nullopt;
}

// Parameters this server does not implement: rejected when they ask for something, so that a
// client never silently gets less than it asked for.
std::optional<ApiError> RejectUnsupported(const json& obj, bool chat) {
  int64_t n = 1;
  if (auto e = GetInt(obj, "n", 1, 1, &n, nullptr,
                      "1: this server generates one choice per request (send separate requests for more)")) {
    e->code = "unsupported_parameter";
    return e;
  }
  if (!chat) {
    if (auto e = GetInt(obj, "best_of", 1, 1, &n, nullptr, "1: best_of is not supported")) return e;
    bool echo = false;
    if (auto e = GetBool(obj, "echo", &echo)) return e;
    if (echo) return BadRequest("`echo` is not supported", "echo", "unsupported_parameter");
    std::string suffix;
    if (auto e = GetString(obj, "suffix", &suffix)) return e;
    if (!suffix.empty()) return BadRequest("`suffix` is not supported", "suffix", "unsupported_parameter");
  }
  if (const json* v = Field(obj, "logprobs")) {
    // Chat takes a bool, completions an integer count (0 asks for nothing).
    const bool asked = v->is_boolean() ? v->get<bool>() : !(v->is_number_integer() && v->get<int64_t>() == 0);
    if (asked)
      return BadRequest("`logprobs` is not supported by this server", "logprobs", "unsupported_parameter");
  }
  if (const json* v = Field(obj, "top_logprobs"); v && !(v->is_number_integer() && v->get<int64_t>() == 0)) {
    return BadRequest("`top_logprobs` is not supported by this server", "top_logprobs",
                      "unsupported_parameter");
  }
  if (const json* v = Field(obj, "logit_bias"); v && !(v->is_object() && v->empty())) {
    return BadRequest("`logit_bias` is not supported by this server", "logit_bias", "unsupported_parameter");
  }
  for (const char* key : {"tools", "functions"}) {
    if (const json* v = Field(obj, key); v && !(v->is_array() && v->empty())) {
      return BadRequest(Quote(key) + " (tool calling) is not supported by this server", key,
                        "unsupported_parameter");
    }
  }
  if (const json* v = Field(obj, "response_format")) {
    const bool text =
        v->is_object() && v->contains("type") && (*v)["type"].is_string() && (*v)["type"] == "text";
    if (!text) {
      return BadRequest("only {\"type\": \"text\"} is supported for `response_format`", "response_format",
                        "unsupported_parameter");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> ParseStop(const json& obj, const RequestLimits& limits,
                                  std::vector<std::string>* out) {
  const json* v = Field(obj, "stop");
  if (!v) return std::nullopt;
  std::vector<const json*> items;
  if (v->is_string()) {
    items.push_back(v);
  } else if (v->is_array()) {
    if (v->size() > limits.max_stop_strings) {
      return BadRequest("`stop` has " + std::to_string(v->size()) + " strings; at most " +
                            std::to_string(limits.max_stop_strings) + " are allowed",
                        "stop");
    }
    for (const json& item : *v) items.push_back(&item);
  } else {
    return WrongType("stop", "a string or an array of strings", *v);
  }
  for (const json* item : items) {
    if (!item->is_string()) return WrongType("stop", "a string or an array of strings", *item);
    const std::string& s = item->get_ref<const std::string&>();
    if (s.size() > limits.max_stop_bytes) {
      return BadRequest("a `stop` string is longer than " + std::to_string(limits.max_stop_bytes) + " bytes",
                        "stop");
    }
    if (!s.empty()) out->push_back(s);
  }
  return std::nullopt;
}

std::optional<ApiError> ParseGenerationOptions(const json& obj, const RequestLimits& limits, bool chat,
                                               GenerationOptions* out) {
  if (auto e = RejectUnsupported(obj, chat)) return e;
  if (auto e = GetString(obj, "model", &out->model)) return e;
  if (auto e = GetString(obj, "user", &out->user)) return e;

  const std::string max_hint = "at least 1 and at most the context length (" +
                               std::to_string(limits.context_length) + " tokens, prompt included)";
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    int64_t v = 0;
    bool present = false;
    if (auto e = GetInt(obj, key, 1, limits.context_length, &v, &present, max_hint)) return e;
    if (present && !out->max_tokens) out->max_tokens = static_cast<int32_t>(v);
  }

  engine::SamplingParams& s = out->sampling;
  if (auto e = GetFloat(obj, "temperature", &s.temperature)) return e;
  if (auto e = GetFloat(obj, "top_p", &s.top_p)) return e;
  if (auto e = GetFloat(obj, "min_p", &s.min_p)) return e;
  if (auto e = GetFloat(obj, "presence_penalty", &s.presence_penalty)) return e;
  if (auto e = GetFloat(obj, "frequency_penalty", &s.frequency_penalty)) return e;
  if (auto e = GetFloat(obj, "repetition_penalty", &s.repetition_penalty)) return e;
  int64_t top_k = 0;
  bool has_top_k = false;
  if (auto e = GetInt(obj, "top_k", -1, std::numeric_limits<int32_t>::max(), &top_k, &has_top_k,
                      ">= 0 (0 or -1 turns it off)")) {
    return e;
  }
  if (has_top_k) s.top_k = static_cast<int32_t>(top_k);
  if (Status st = s.Validate(); !st.ok()) {
    const std::string& m = st.message();
    return BadRequest(m, m.substr(0, m.find(' ')));
  }
  if (const json* v = Field(obj, "seed")) {
    if (!v->is_number_integer()) return WrongType("seed", "an integer", *v);
    out->seed = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
    s.seed = *out->seed;
  }
  if (auto e = ParseStop(obj, limits, &out->stop)) return e;

  if (auto e = GetBool(obj, "stream", &out->stream)) return e;
  if (const json* v = Field(obj, "stream_options")) {
    if (!v->is_object()) return WrongType("stream_options", "an object", *v);
    if (!out->stream) {
      return BadRequest("`stream_options` is only allowed when `stream` is true", "stream_options");
    }
    if (auto e = GetBool(*v, "include_usage", &out->include_usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
  }
  return std::nullopt;
}

std::optional<ApiError> ParseMessages(const json& obj, const RequestLimits& limits,
                                      std::vector<engine::ChatMessage>* out) {
  const json* v = Field(obj, "messages");
  if (!v) return BadRequest("`messages` is required: a non-empty array of {role, content}", "messages");
  if (!v->is_array()) return WrongType("messages", "an array", *v);
  if (v->empty()) return BadRequest("`messages` must not be empty", "messages");
  if (v->size() > limits.max_messages) {
    return BadRequest("`messages` has " + std::to_string(v->size()) + " entries; at most " +
                          std::to_string(limits.max_messages) + " are allowed",
                      "messages");
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return WrongType(where, "an object", m);
    engine::ChatMessage msg;
    const json* role = Field(m, "role");
    if (!role) return BadRequest(Quote(where + ".role") + " is required", where + ".role");
    if (!role->is_string()) return WrongType(where + ".role", "a string", *role);
    msg.role = role->get<std::string>();
    if (msg.role == "developer") msg.role = "system";
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool") {
      return BadRequest(Quote(where + ".role") + " must be one of system, developer, user, assistant, tool",
                        where + ".role");
    }
    const json* content = Field(m, "content");
    if (!content) {
      if (msg.role != "assistant") {
        return BadRequest(Quote(where + ".content") + " is required", where + ".content");
      }
    } else if (content->is_string()) {
      msg.content = content->get<std::string>();
    } else if (content->is_array()) {
      for (size_t j = 0; j < content->size(); ++j) {
        const json& part = (*content)[j];
        const std::string pwhere = where + ".content[" + std::to_string(j) + "]";
        if (!part.is_object()) return WrongType(pwhere, "an object", part);
        const json* type = Field(part, "type");
        if (!type || !type->is_string() || *type != "text") {
          return BadRequest(
              "only text content parts are supported; " + Quote(pwhere + ".type") + " must be \"text\"",
              pwhere + ".type", "unsupported_content");
        }
        const json* text = Field(part, "text");
        if (!text || !text->is_string())
          return BadRequest(Quote(pwhere + ".text") + " must be a string", pwhere + ".text");
        if (j > 0) msg.content += "\n";
        msg.content += text->get_ref<const std::string&>();
      }
    } else {
      return WrongType(where + ".content", "a string or an array of text parts", *content);
    }
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> ParseTokenIds(const json& v, const std::string& field, const RequestLimits& limits,
                                      std::vector<int32_t>* out) {
  out->reserve(v.size());
  for (const json& t : v) {
    if (!t.is_number_integer()) return WrongType(field, "an array of integer token ids", t);
    const bool in_range = t.is_number_unsigned() ? t.get<uint64_t>() < static_cast<uint64_t>(limits.n_vocab)
                                                 : t.get<int64_t>() >= 0 && t.get<int64_t>() < limits.n_vocab;
    if (!in_range) {
      return BadRequest(
          Quote(field) + " holds a token id outside [0, " + std::to_string(limits.n_vocab) + ")", field);
    }
    out->push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return std::nullopt;
}

std::optional<ApiError> ParsePrompt(const json& obj, const RequestLimits& limits, CompletionRequest* out) {
  const json* v = Field(obj, "prompt");
  if (!v) return BadRequest("`prompt` is required: a string or an array of token ids", "prompt");
  if (v->is_string()) {
    out->prompt = v->get<std::string>();
    return std::nullopt;
  }
  if (!v->is_array()) return WrongType("prompt", "a string or an array of token ids", *v);
  if (v->empty()) return BadRequest("`prompt` must not be an empty array", "prompt");
  const json& first = (*v)[0];
  if (first.is_number_integer()) {
    out->token_prompt = true;
    return ParseTokenIds(*v, "prompt", limits, &out->prompt_tokens);
  }
  if (v->size() > 1) {
    return BadRequest("this server takes one prompt per request; `prompt` holds " + std::to_string(v->size()),
                      "prompt", "unsupported_parameter");
  }
  if (first.is_string()) {
    out->prompt = first.get<std::string>();
    return std::nullopt;
  }
  if (first.is_array()) {
    if (first.empty()) return BadRequest("`prompt` must not be an empty array", "prompt");
    out->token_prompt = true;
    return ParseTokenIds(first, "prompt", limits, &out->prompt_tokens);
  }
  return WrongType("prompt", "a string or an array of token ids", first);
}

}  // namespace

std::string ToValidUtf8(std::string_view text) {
  if (engine::IsValidUtf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len > 0 && i + len <= text.size() && engine::IsValidUtf8(text.substr(i, len))) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::string ApiErrorJson(const ApiError& error) {
  std::string out = "{\"error\":{\"message\":";
  log::AppendJsonString(out, ToValidUtf8(error.message));
  out += ",\"type\":";
  log::AppendJsonString(out, error.type);
  out += ",\"param\":";
  if (error.param.empty()) {
    out += "null";
  } else {
    log::AppendJsonString(out, ToValidUtf8(error.param));
  }
  out += ",\"code\":";
  if (error.code.empty()) {
    out += "null";
  } else {
    log::AppendJsonString(out, error.code);
  }
  out += "}}";
  return out;
}

ApiError BadRequest(std::string message, std::string param, std::string code) {
  ApiError e;
  e.status = 400;
  e.message = std::move(message);
  e.param = std::move(param);
  e.code = std::move(code);
  return e;
}

std::optional<ApiError> ParseChatCompletionRequest(std::string_view body, const RequestLimits& limits,
                                                   ChatCompletionRequest* out) {
  json obj;
  if (auto e = ParseBody(body, limits, &obj)) return e;
  *out = ChatCompletionRequest{};
  if (auto e = ParseGenerationOptions(obj, limits, /*chat=*/true, &out->options)) return e;
  return ParseMessages(obj, limits, &out->messages);
}

std::optional<ApiError> ParseCompletionRequest(std::string_view body, const RequestLimits& limits,
                                               CompletionRequest* out) {
  json obj;
  if (auto e = ParseBody(body, limits, &obj)) return e;
  *out = CompletionRequest{};
  if (auto e = ParseGenerationOptions(obj, limits, /*chat=*/false, &out->options)) return e;
  return ParsePrompt(obj, limits, out);
}

std::optional<ApiError> ParseTokenizeRequest(std::string_view body, const RequestLimits& limits,
                                             TokenizeRequest* out) {
  json obj;
  if (auto e = ParseBody(body, limits, &obj)) return e;
  *out = TokenizeRequest{};
  if (auto e = GetString(obj, "model", &out->model)) return e;
  if (auto e = GetBool(obj, "add_special_tokens", &out->add_special_tokens)) return e;
  if (auto e = GetBool(obj, "add_generation_prompt", &out->add_generation_prompt)) return e;
  const bool has_prompt = Field(obj, "prompt") != nullptr;
  const bool has_messages = Field(obj, "messages") != nullptr;
  if (has_prompt == has_messages) {
    return BadRequest("send exactly one of `prompt` (a string) and `messages` (a chat)", "prompt");
  }
  if (has_messages) {
    out->chat = true;
    return ParseMessages(obj, limits, &out->messages);
  }
  return GetString(obj, "prompt", &out->prompt);
}

std::optional<ApiError> ParseDetokenizeRequest(std::string_view body, const RequestLimits& limits,
                                               DetokenizeRequest* out) {
  json obj;
  if (auto e = ParseBody(body, limits, &obj)) return e;
  *out = DetokenizeRequest{};
  if (auto e = GetString(obj, "model", &out->model)) return e;
  const json* tokens = Field(obj, "tokens");
  if (!tokens) return BadRequest("`tokens` is required: an array of token ids", "tokens");
  if (!tokens->is_array()) return WrongType("tokens", "an array of integer token ids", *tokens);
  return ParseTokenIds(*tokens, "tokens", limits, &out->tokens);
}

}  // namespace meridian::server
