// Workload: request bodies, length ranges, prompt files.
#include "loadgen/workload.h"

#include <charconv>
#include <fstream>

#include <nlohmann/json.hpp>

namespace meridian::loadgen {

namespace {

// Common English words: the shipped model was trained on the Brown corpus, so these are about one
// token each.
constexpr std::string_view kWords[] = {
    "the", "city", "said", "that", "there", "would", "be", "a", "new", "school", "in", "the", "fall",
    "and", "people", "were", "told", "to", "come", "back", "when", "it", "was", "time", "for", "the",
    "meeting", "of", "council", "on", "day", "after", "man", "who", "had", "been", "home", "with",
    "his", "wife", "house", "year", "state", "world", "life", "work", "water", "morning", "letter",
};

Result<int> ParseInt(std::string_view text, std::string_view what) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument(std::string(what) + ": expected N or MIN:MAX, got '" + std::string(text) + "'");
  }
  return v;
}

}  // namespace

int LengthRange::Draw(std::mt19937_64& rng) const {
  if (min >= max) return min;
  return std::uniform_int_distribution<int>(min, max)(rng);
}

Result<LengthRange> ParseLengthRange(std::string_view text, std::string_view what, int limit) {
  LengthRange r;
  const size_t colon = text.find(':');
  auto lo = ParseInt(text.substr(0, colon), what);
  if (!lo.ok()) return lo.status();
  r.min = r.max = *lo;
  if (colon != std::string_view::npos) {
    auto hi = ParseInt(text.substr(colon + 1), what);
    if (!hi.ok()) return hi.status();
    r.max = *hi;
  }
  if (r.min < 1 || r.max < r.min || r.max > limit) {
    return InvalidArgument(std::string(what) + ": lengths must satisfy 1 <= MIN <= MAX <= " + std::to_string(limit));
  }
  return r;
}

std::string Workload::Path() const { return api == Api::kChat ? "/v1/chat/completions" : "/v1/completions"; }

std::string Workload::Body(uint64_t index) const {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + index);
  std::string prompt;
  if (!prompts.empty()) {
    prompt = prompts[index % prompts.size()];
  } else {
    const int words = prompt_words.Draw(rng);
    for (int i = 0; i < words; ++i) {
      if (i) prompt += ' ';
      prompt += kWords[rng() % std::size(kWords)];
    }
  }
  nlohmann::json body;
  if (!model.empty()) body["model"] = model;
  if (api == Api::kChat) {
    body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  body["max_tokens"] = output_tokens.Draw(rng);
  body["temperature"] = temperature;
  body["seed"] = seed + index;
  if (ignore_eos) body["ignore_eos"] = true;
  body["stream"] = stream;
  if (stream) body["stream_options"] = {{"include_usage", true}};
  return body.dump();
}

Result<std::vector<std::string>> LoadPrompts(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the prompts file " + path);
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.front() == '"') {
      auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_string()) return InvalidArgument(path + ": a line starting with '\"' must be one JSON string");
      line = parsed.get<std::string>();
    }
    prompts.push_back(line);
  }
  if (prompts.empty()) return InvalidArgument(path + ": no prompts in the file");
  return prompts;
}

}  // namespace meridian::loadgen
