// SSE formatting and parsing (https://html.spec.whatwg.org/multipage/server-sent-events.html).
#include "http/sse.h"

namespace meridian::http {
namespace {

void AppendSingleLine(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c != '\r' && c != '\n') out.push_back(c);
  }
}

}  // namespace

std::string FormatSseEvent(std::string_view data, std::string_view event, std::string_view id) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 24);
  if (!event.empty()) {
    out += "event: ";
    AppendSingleLine(out, event);
    out.push_back('\n');
  }
  if (!id.empty()) {
    out += "id: ";
    AppendSingleLine(out, id);
    out.push_back('\n');
  }
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    out.push_back('\n');
    if (end == std::string_view::npos) break;
    start = end + 1;
    if (data[end] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out.push_back('\n');
  return out;
}

bool SseParser::Feed(std::string_view chunk) {
  for (char c : chunk) {
    if (last_was_cr_) {
      last_was_cr_ = false;
      if (c == '\n') continue;  // the LF of a CRLF pair
    }
    if (c == '\r' || c == '\n') {
      last_was_cr_ = c == '\r';
      ProcessLine(line_);
      line_.clear();
      if (pending_.data.size() > max_line_bytes_) return false;
      continue;
    }
    if (line_.size() >= max_line_bytes_) return false;
    line_.push_back(c);
  }
  return true;
}

void SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) {
    if (has_data_ && on_event_) on_event_(pending_);
    pending_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment, e.g. a keep-alive ping
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_.id = std::string(value);
  }
}

}  // namespace meridian::http
