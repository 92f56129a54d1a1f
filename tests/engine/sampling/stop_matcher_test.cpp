// StopMatcher: stop strings across pushes, hold-back and release, earliest completion, and
// independence from how the text is split into pushes.
#include "engine/sampling/stop_matcher.h"

#include <gtest/gtest.h>

#include "engine/sampling/rng.h"

namespace meridian::engine {
namespace {

TEST(StopMatcher, StopsBeforeTheStopString) {
  StopMatcher m({"STOP"});
  auto out = m.Push("hello STOP world");
  EXPECT_EQ(out.text, "hello ");
  EXPECT_TRUE(out.stopped);
  EXPECT_TRUE(m.stopped());
  out = m.Push("more");
  EXPECT_EQ(out.text, "");
  EXPECT_TRUE(out.stopped);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcher, StopSpanningSeveralPushes) {
  StopMatcher m({"STOP"});
  auto a = m.Push("Hel");
  EXPECT_EQ(a.text, "Hel");
  auto b = m.Push("lo ST");
  EXPECT_EQ(b.text, "lo ");
  EXPECT_FALSE(b.stopped);
  EXPECT_EQ(m.held_bytes(), 2u);
  auto c = m.Push("O");
  EXPECT_EQ(c.text, "");
  auto d = m.Push("P and more");
  EXPECT_EQ(d.text, "");
  EXPECT_TRUE(d.stopped);
}

TEST(StopMatcher, ReleasesHeldTextThatIsNotAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Push("ST").text, "");
  EXPECT_EQ(m.Push("AR").text, "STAR");
  EXPECT_EQ(m.Push("xS").text, "x");
  EXPECT_EQ(m.Flush(), "S");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, OverlappingPrefixes) {
  StopMatcher m({"aab"});
  EXPECT_EQ(m.Push("a").text, "");
  EXPECT_EQ(m.Push("a").text, "");
  auto out = m.Push("ab");  // "aaab": the stop starts at index 1
  EXPECT_EQ(out.text, "a");
  EXPECT_TRUE(out.stopped);
}

TEST(StopMatcher, FirstStopToCompleteWins) {
  StopMatcher m({"abcd", "bc"});
  auto out = m.Push("xabcd");
  EXPECT_EQ(out.text, "xa");
  EXPECT_TRUE(out.stopped);
  StopMatcher n({"world", "o w"});
  EXPECT_EQ(n.Push("hello world").text, "hell");
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({"", ""});
  EXPECT_EQ(m.Push("abc").text, "abc");
  EXPECT_EQ(m.held_bytes(), 0u);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcher, Utf8StopStrings) {
  StopMatcher m({"。\n"});
  EXPECT_EQ(m.Push("你好").text, "你好");
  EXPECT_EQ(m.Push("。").text, "");
  auto out = m.Push("\n再见");
  EXPECT_EQ(out.text, "");
  EXPECT_TRUE(out.stopped);
}

//! What the stream must produce: text up to the first position where any stop string ends.
std::pair<std::string, bool> Reference(const std::string& text, const std::vector<std::string>& stops) {
  for (size_t end = 1; end <= text.size(); ++end) {
    size_t best = std::string::npos;
    for (const std::string& s : stops) {
      if (!s.empty() && s.size() <= end && text.compare(end - s.size(), s.size(), s) == 0) {
        best = std::min(best, end - s.size());
      }
    }
    if (best != std::string::npos) return {text.substr(0, best), true};
  }
  return {text, false};
}

TEST(StopMatcher, AnySplitGivesTheSameResult) {
  Xoshiro256 rng(4);
  const std::vector<std::string> stops = {"aba", "bb", "abab", "c"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const size_t len = rng.Next() % 30;
    for (size_t i = 0; i < len; ++i) text += "abcx"[rng.Next() % (trial % 2 ? 4 : 2)];
    const auto [expected, expected_stop] = Reference(text, stops);
    StopMatcher m(stops);
    std::string got;
    bool stopped = false;
    for (size_t pos = 0; pos < text.size();) {
      const size_t n = 1 + rng.Next() % 4;
      auto out = m.Push(std::string_view(text).substr(pos, n));
      got += out.text;
      stopped = out.stopped;
      pos += n;
      if (stopped) break;
    }
    if (!stopped) got += m.Flush();
    EXPECT_EQ(got, expected) << "text: " << text;
    EXPECT_EQ(stopped, expected_stop) << "text: " << text;
  }
}

}  // namespace
}  // namespace meridian::engine
