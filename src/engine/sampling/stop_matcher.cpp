// StopMatcher: one KMP automaton per stop string, fed byte by byte; the longest partial match
// is held back until more text decides it.
#include "engine/sampling/stop_matcher.h"

#include <algorithm>
#include <utility>

namespace meridian::engine {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (std::string& s : stops) {
    if (s.empty()) continue;
    Pattern p;
    p.fallback.assign(s.size(), 0);
    for (size_t i = 1, k = 0; i < s.size(); ++i) {
      while (k > 0 && s[i] != s[k]) k = p.fallback[k - 1];
      if (s[i] == s[k]) ++k;
      p.fallback[i] = k;
    }
    p.text = std::move(s);
    patterns_.push_back(std::move(p));
  }
}

StopMatcher::Out StopMatcher::Push(std::string_view text) {
  Out out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  const size_t base = held_.size();
  held_.append(text);
  for (size_t i = base; i < held_.size(); ++i) {
    const char c = held_[i];
    size_t stop_start = held_.size();
    for (Pattern& p : patterns_) {
      while (p.matched > 0 && p.text[p.matched] != c) p.matched = p.fallback[p.matched - 1];
      if (p.text[p.matched] == c) ++p.matched;
      if (p.matched == p.text.size()) stop_start = std::min(stop_start, i + 1 - p.text.size());
    }
    if (stop_start < held_.size()) {
      held_.resize(stop_start);
      out.text = std::move(held_);
      held_.clear();
      out.stopped = stopped_ = true;
      return out;
    }
  }
  size_t keep = 0;
  for (const Pattern& p : patterns_) keep = std::max(keep, p.matched);
  out.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopMatcher::Flush() {
  std::string rest = std::move(held_);
  held_.clear();
  for (Pattern& p : patterns_) p.matched = 0;
  if (stopped_) rest.clear();
  return rest;
}

}  // namespace meridian::engine
