// OpenAI response bodies (see openai_response.h).
#include "server/openai_response.h"

#include "core/log.h"

namespace meridian::server {

namespace {
void AppendFinish(std::string& out, std::string_view finish_reason) {
  out += ",\"finish_reason\":";
  if (finish_reason.empty()) {
    out += "null";
  } else {
    log::AppendJsonString(out, finish_reason);
  }
}
}  // namespace

void AppendUsage(std::string& out, const Usage& usage) {
  out += "{\"prompt_tokens\":";
  out += std::to_string(usage.prompt_tokens);
  out += ",\"completion_tokens\":";
  out += std::to_string(usage.completion_tokens);
  out += ",\"total_tokens\":";
  out += std::to_string(usage.prompt_tokens + usage.completion_tokens);
  out += '}';
}

ResponseFormatter::ResponseFormatter(bool chat, std::string_view request_id, std::string model,
                                     int64_t created)
    : chat_(chat),
      id_((chat ? "chatcmpl-" : "cmpl-") + std::string(request_id)),
      model_(std::move(model)),
      created_(created) {}

void ResponseFormatter::AppendHead(std::string& out, bool chunk) const {
  out += "{\"id\":";
  log::AppendJsonString(out, id_);
  out += ",\"object\":\"";
  out += chat_ ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  out += "\",\"created\":";
  out += std::to_string(created_);
  out += ",\"model\":";
  log::AppendJsonString(out, model_);
  out += ",\"system_fingerprint\":null";
}

std::string ResponseFormatter::Complete(std::string_view text, std::string_view finish_reason,
                                        const Usage& usage) const {
  std::string out;
  out.reserve(256 + text.size());
  AppendHead(out, false);
  out += ",\"choices\":[{\"index\":0,";
  if (chat_) {
    out += "\"message\":{\"role\":\"assistant\",\"content\":";
    log::AppendJsonString(out, text);
    out += "}";
  } else {
    out += "\"text\":";
    log::AppendJsonString(out, text);
  }
  out += ",\"logprobs\":null";
  AppendFinish(out, finish_reason);
  out += "}],\"usage\":";
  AppendUsage(out, usage);
  out += '}';
  return out;
}

std::string ResponseFormatter::Chunk(std::string_view text, bool first, std::string_view finish_reason,
                                     bool usage_null) const {
  std::string out;
  out.reserve(200 + text.size());
  AppendChunk(out, text, first, finish_reason, usage_null);
  return out;
}

void ResponseFormatter::AppendChunkEvent(std::string& out, std::string_view text, bool first,
                                         std::string_view finish_reason, bool usage_null) const {
  out.reserve(out.size() + 210 + text.size());
  out += "data: ";
  AppendChunk(out, text, first, finish_reason, usage_null);
  out += "\n\n";
}

void ResponseFormatter::AppendChunk(std::string& out, std::string_view text, bool first,
                                    std::string_view finish_reason, bool usage_null) const {
  AppendHead(out, true);
  out += ",\"choices\":[{\"index\":0,";
  if (chat_) {
    out += "\"delta\":{";
    if (first) out += "\"role\":\"assistant\"";
    if (!text.empty() || (first && finish_reason.empty())) {
      if (first) out += ',';
      out += "\"content\":";
      log::AppendJsonString(out, text);
    }
    out += '}';
  } else {
    out += "\"text\":";
    log::AppendJsonString(out, text);
  }
  out += ",\"logprobs\":null";
  AppendFinish(out, finish_reason);
  out += "}]";
  if (usage_null) out += ",\"usage\":null";
  out += '}';
}

std::string ResponseFormatter::UsageChunk(const Usage& usage) const {
  std::string out;
  AppendHead(out, true);
  out += ",\"choices\":[],\"usage\":";
  AppendUsage(out, usage);
  out += '}';
  return out;
}

std::string ModelListJson(std::string_view model, int64_t created, int32_t max_model_len) {
  std::string out = "{\"object\":\"list\",\"data\":[{\"id\":";
  log::AppendJsonString(out, model);
  out += ",\"object\":\"model\",\"created\":";
  out += std::to_string(created);
  out += ",\"owned_by\":\"meridian\",\"max_model_len\":";
  out += std::to_string(max_model_len);
  out += "}]}";
  return out;
}

}  // namespace meridian::server
