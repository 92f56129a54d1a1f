// Streaming stop strings (OpenAI "stop"): text is pushed piece by piece as it is detokenized;
// the matcher holds back anything that could still become a stop string and never emits the
// stop string itself. Generation stops at the first stop string to complete, whatever the
// push boundaries were; each pushed byte costs O(number of stop strings).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meridian::engine {

//! Not thread-safe: one per sequence.
class StopMatcher {
 public:
  //! Empty stop strings are ignored. Matching is on bytes; pushing whole UTF-8 characters (as
  //! IncrementalDetokenizer does) and valid UTF-8 stops means emitted text never splits one.
  explicit StopMatcher(std::vector<std::string> stops);

  struct Out {
    std::string text;      //!< text that is safe to send now
    bool stopped = false;  //!< a stop string was found: `text` ends right before it
  };

  //! Appends generated text. Once stopped, every later push returns {"", true}.
  Out Push(std::string_view text);
  //! End of generation without a stop: returns the text still held back (and forgets it).
  std::string Flush();

  bool stopped() const { return stopped_; }
  //! Bytes currently held back (always shorter than the longest stop string).
  size_t held_bytes() const { return held_.size(); }

 private:
  //! One stop string as a Knuth-Morris-Pratt automaton.
  struct Pattern {
    std::string text;
    std::vector<size_t> fallback;  //!< KMP prefix function
    size_t matched = 0;            //!< length of the longest prefix ending the text so far
  };

  std::vector<Pattern> patterns_;
  std::string held_;  //!< exactly the longest partial match among the patterns
  bool stopped_ = false;
};

}  // namespace meridian::engine
