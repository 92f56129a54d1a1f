// The GPT-2 and LLaMA-3 pre-tokenizer regexes as hand-written matchers. Each Match* function
// returns where the regex's leftmost-first match starting at code point `i` ends, trying the
// alternatives in the regex's order (as a backtracking engine would).
#include "engine/tokenizer/pretokenizer.h"

#include <array>

#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_internal {
namespace {

struct NamedPreTokenizer {
  std::string_view name;
  PreTokenizer pre;
};

constexpr PreTokenizer kGpt2{PreTokenizerStyle::kGpt2, 0, false};
constexpr PreTokenizer kLlama3{PreTokenizerStyle::kLlama3, 3, true};
constexpr PreTokenizer kLlama3Regex{PreTokenizerStyle::kLlama3, 3, false};
constexpr PreTokenizer kQwen2{PreTokenizerStyle::kLlama3, 1, false};

constexpr std::array<NamedPreTokenizer, 11> kPreTokenizers{{
    {"default", kGpt2},
    {"gpt2", kGpt2},
    {"gpt-2", kGpt2},
    {"phi-2", kGpt2},
    {"roberta-bpe", kGpt2},
    {"llama-bpe", kLlama3},
    {"llama3", kLlama3},
    {"llama-v3", kLlama3},
    {"smaug-bpe", kLlama3Regex},
    {"dbrx", kLlama3Regex},
    {"qwen2", kQwen2},
}};

// The text as code points, with classes and byte offsets.
struct CodepointText {
  std::vector<uint32_t> cp;
  std::vector<CharClass> cls;
  std::vector<uint32_t> offset;  // byte offset of each code point, plus the end
  size_t n = 0;

  explicit CodepointText(std::string_view text) {
    cp.reserve(text.size());
    cls.reserve(text.size());
    offset.reserve(text.size() + 1);
    size_t pos = 0;
    while (pos < text.size()) {
      offset.push_back(static_cast<uint32_t>(pos));
      const uint32_t c = DecodeValidUtf8(text, pos);
      cp.push_back(c);
      cls.push_back(ClassifyCodepoint(c));
    }
    offset.push_back(static_cast<uint32_t>(text.size()));
    n = cp.size();
  }
  bool Is(size_t i, CharClass c) const { return i < n && cls[i] == c; }
  bool IsNewline(size_t i) const { return i < n && (cp[i] == '\r' || cp[i] == '\n'); }
  size_t Skip(size_t i, CharClass c) const {
    while (i < n && cls[i] == c) ++i;
    return i;
  }
};

uint32_t AsciiLower(uint32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// 's 't 're 've 'm 'll 'd: returns the match end, or 0.
size_t MatchContraction(const CodepointText& t, size_t i, bool case_insensitive) {
  if (t.cp[i] != '\'' || i + 1 >= t.n) return 0;
  auto fold = [&](uint32_t c) { return case_insensitive ? AsciiLower(c) : c; };
  const uint32_t c1 = fold(t.cp[i + 1]);
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
  if (i + 2 >= t.n) return 0;
  const uint32_t c2 = fold(t.cp[i + 2]);
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
  return 0;
}

// \s+(?!\S)|\s+ at a whitespace code point: a run followed by a non-space gives up its last
// space to the next word, unless the run is one space long.
size_t MatchWhitespaceRun(const CodepointText& t, size_t i) {
  const size_t e = t.Skip(i, CharClass::kWhitespace);
  if (e == t.n || e - i < 2) return e;
  return e - 1;
}

size_t MatchGpt2(const CodepointText& t, size_t i) {
  if (size_t e = MatchContraction(t, i, /*case_insensitive=*/false)) return e;
  const bool space = t.cp[i] == ' ';
  //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
  for (CharClass c : {CharClass::kLetter, CharClass::kNumber, CharClass::kOther}) {
    const size_t start = (space && t.Is(i + 1, c)) ? i + 1 : i;
    if (t.Is(start, c)) return t.Skip(start, c);
  }
  return MatchWhitespaceRun(t, i);
}

size_t MatchLlama3(const CodepointText& t, size_t i, int max_digits) {
  if (size_t e = MatchContraction(t, i, /*case_insensitive=*/true)) return e;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (t.Is(i, CharClass::kLetter)) return t.Skip(i, CharClass::kLetter);
  if (!t.IsNewline(i) && !t.Is(i, CharClass::kNumber) && t.Is(i + 1, CharClass::kLetter)) {
    return t.Skip(i + 1, CharClass::kLetter);
  }
  // \p{N}{1,D}
  if (t.Is(i, CharClass::kNumber)) {
    size_t e = i;
    while (e < t.n && e - i < static_cast<size_t>(max_digits) && t.cls[e] == CharClass::kNumber) ++e;
    return e;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t start = (t.cp[i] == ' ' && t.Is(i + 1, CharClass::kOther)) ? i + 1 : i;
  if (t.Is(start, CharClass::kOther)) {
    size_t e = t.Skip(start, CharClass::kOther);
    while (t.IsNewline(e)) ++e;
    return e;
  }
  // \s*[\r\n]+ : the whitespace run up to and including its last line break.
  size_t e = i;
  size_t after_last_newline = 0;
  while (e < t.n && t.cls[e] == CharClass::kWhitespace) {
    if (t.IsNewline(e)) after_last_newline = e + 1;
    ++e;
  }
  if (after_last_newline != 0) return after_last_newline;
  return MatchWhitespaceRun(t, i);
}

}  // namespace

Result<PreTokenizer> PreTokenizerForName(std::string_view pre) {
  for (const NamedPreTokenizer& p : kPreTokenizers) {
    if (p.name == pre) return p.pre;
  }
  return Unimplemented("BPE pre-tokenizer '" + std::string(pre) +
                       "' is not supported; supported: " + SupportedPreTokenizerNames());
}

std::string SupportedPreTokenizerNames() {
  std::string names;
  for (const NamedPreTokenizer& p : kPreTokenizers) {
    if (!names.empty()) names += ", ";
    names += p.name;
  }
  return names;
}

void SplitWords(const PreTokenizer& pre, std::string_view text, std::vector<WordSpan>& words) {
  if (text.empty()) return;
  const CodepointText t(text);
  size_t i = 0;
  while (i < t.n) {
    size_t e = pre.style == PreTokenizerStyle::kGpt2 ? MatchGpt2(t, i) : MatchLlama3(t, i, pre.max_digits);
    if (e <= i) e = i + 1;  // every code point belongs to some alternative; never loop forever
    words.push_back({t.offset[i], t.offset[e]});
    i = e;
  }
}

}  // namespace meridian::engine::tokenizer_internal
