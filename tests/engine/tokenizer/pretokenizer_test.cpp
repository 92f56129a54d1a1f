// Pre-tokenizers: the hand-written GPT-2, LLaMA-3 and Qwen2 splitters against splits produced by
// Python's `regex` module from the original regexes (the table below), plus the Unicode classes
// and the GPT-2 byte mapping they rely on.
#include "engine/tokenizer/pretokenizer.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_internal {
namespace {

// Generated with Python's `regex` module from the regexes in pretokenizer.h.
// clang-format off
struct PreTokenizerCase { const char* text; std::vector<std::string> gpt2, llama3, qwen2; };
const PreTokenizerCase kPreTokenizerCases[] = {
    {"Hello world",
     {"Hello", " world"},
     {"Hello", " world"},
     {"Hello", " world"},
    },
    {" Hello  world ",
     {" Hello", " ", " world", " "},
     {" Hello", " ", " world", " "},
     {" Hello", " ", " world", " "},
    },
    {"I'm you're we've they'll he'd it's",
     {"I", "'m", " you", "'re", " we", "'ve", " they", "'ll", " he", "'d", " it", "'s"},
     {"I", "'m", " you", "'re", " we", "'ve", " they", "'ll", " he", "'d", " it", "'s"},
     {"I", "'m", " you", "'re", " we", "'ve", " they", "'ll", " he", "'d", " it", "'s"},
    },
    {"I'M YOU'RE 'S 'Ll",
     {"I", "'", "M", " YOU", "'", "RE", " '", "S", " '", "Ll"},
     {"I", "'M", " YOU", "'RE", " '", "S", " '", "Ll"},
     {"I", "'M", " YOU", "'RE", " '", "S", " '", "Ll"},
    },
    {"x'sy",
     {"x", "'s", "y"},
     {"x", "'s", "y"},
     {"x", "'s", "y"},
    },
    {"''s",
     {"''", "s"},
     {"''", "s"},
     {"''", "s"},
    },
    {"12345 678 9",
     {"12345", " 678", " 9"},
     {"123", "45", " ", "678", " ", "9"},
     {"1", "2", "3", "4", "5", " ", "6", "7", "8", " ", "9"},
    },
    {"abc123def",
     {"abc", "123", "def"},
     {"abc", "123", "def"},
     {"abc", "1", "2", "3", "def"},
    },
    {" 1234567",
     {" 1234567"},
     {" ", "123", "456", "7"},
     {" ", "1", "2", "3", "4", "5", "6", "7"},
    },
    {"3.14159",
     {"3", ".", "14159"},
     {"3", ".", "141", "59"},
     {"3", ".", "1", "4", "1", "5", "9"},
    },
    {"Hello, world! How are you?",
     {"Hello", ",", " world", "!", " How", " are", " you", "?"},
     {"Hello", ",", " world", "!", " How", " are", " you", "?"},
     {"Hello", ",", " world", "!", " How", " are", " you", "?"},
    },
    {"  (parenthesis)  ",
     {" ", " (", "parenthesis", ")", "  "},
     {" ", " (", "parenthesis", ")", "  "},
     {" ", " (", "parenthesis", ")", "  "},
    },
    {"foo\x0A\x0A" "bar\x0D\x0A  baz\x09\x09qux",
     {"foo", "\x0A", "\x0A", "bar", "\x0D\x0A ", " baz", "\x09", "\x09", "qux"},
     {"foo", "\x0A\x0A", "bar", "\x0D\x0A", " ", " baz", "\x09", "\x09qux"},
     {"foo", "\x0A\x0A", "bar", "\x0D\x0A", " ", " baz", "\x09", "\x09qux"},
    },
    {"   \x0A\x0A  x",
     {"   \x0A\x0A ", " x"},
     {"   \x0A\x0A", " ", " x"},
     {"   \x0A\x0A", " ", " x"},
    },
    {"a  \x0A",
     {"a", "  \x0A"},
     {"a", "  \x0A"},
     {"a", "  \x0A"},
    },
    {"trailing   ",
     {"trailing", "   "},
     {"trailing", "   "},
     {"trailing", "   "},
    },
    {"\x0A",
     {"\x0A"},
     {"\x0A"},
     {"\x0A"},
    },
    {"\x09\x0A\x09",
     {"\x09\x0A\x09"},
     {"\x09\x0A", "\x09"},
     {"\x09\x0A", "\x09"},
    },
    {" ",
     {" "},
     {" "},
     {" "},
    },
    {"  ",
     {"  "},
     {"  "},
     {"  "},
    },
    {"!",
     {"!"},
     {"!"},
     {"!"},
    },
    {"Gr\xC3\xBC\xC3\x9F" "e, Stra\xC3\x9F" "e! \xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xD1\x80\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xD1\x8F\xD0\xB7\xD1\x8B\xD0\xBA",
     {"Gr\xC3\xBC\xC3\x9F" "e", ",", " Stra\xC3\x9F" "e", "!", " \xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC", " \xD1\x80\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9", " \xD1\x8F\xD0\xB7\xD1\x8B\xD0\xBA"},
     {"Gr\xC3\xBC\xC3\x9F" "e", ",", " Stra\xC3\x9F" "e", "!", " \xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC", " \xD1\x80\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9", " \xD1\x8F\xD0\xB7\xD1\x8B\xD0\xBA"},
     {"Gr\xC3\xBC\xC3\x9F" "e", ",", " Stra\xC3\x9F" "e", "!", " \xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC", " \xD1\x80\xD1\x83\xD1\x81\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9", " \xD1\x8F\xD0\xB7\xD1\x8B\xD0\xBA"},
    },
    {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x81\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6\xE3\x80\x82\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
     {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88", "\xE3\x80\x81", "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6", "\xE3\x80\x82", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"},
     {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88", "\xE3\x80\x81\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6", "\xE3\x80\x82\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"},
     {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88", "\xE3\x80\x81\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97\xE7\xAC\xA6", "\xE3\x80\x82\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"},
    },
    {"emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 !",
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", " family", " \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", " !"},
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", " family", " \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", " !"},
     {"emoji", " \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", " family", " \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", " !"},
    },
    {"combining e\xCC\x81 n\xCC\x83 (x\xCC\x88)",
     {"combining", " e", "\xCC\x81", " n", "\xCC\x83", " (", "x", "\xCC\x88)"},
     {"combining", " e", "\xCC\x81", " n", "\xCC\x83", " (", "x", "\xCC\x88)"},
     {"combining", " e", "\xCC\x81", " n", "\xCC\x83", " (", "x", "\xCC\x88)"},
    },
    {"Zahlen \xC2\xBD \xC2\xB2 \xE0\xA5\xA9\xE0\xA5\xAA\xE0\xA5\xAB \xD9\xA3\xD9\xA4\xD9\xA5 \xE2\x85\xAB",
     {"Zahlen", " \xC2\xBD", " \xC2\xB2", " \xE0\xA5\xA9\xE0\xA5\xAA\xE0\xA5\xAB", " \xD9\xA3\xD9\xA4\xD9\xA5", " \xE2\x85\xAB"},
     {"Zahlen", " ", "\xC2\xBD", " ", "\xC2\xB2", " ", "\xE0\xA5\xA9\xE0\xA5\xAA\xE0\xA5\xAB", " ", "\xD9\xA3\xD9\xA4\xD9\xA5", " ", "\xE2\x85\xAB"},
     {"Zahlen", " ", "\xC2\xBD", " ", "\xC2\xB2", " ", "\xE0\xA5\xA9", "\xE0\xA5\xAA", "\xE0\xA5\xAB", " ", "\xD9\xA3", "\xD9\xA4", "\xD9\xA5", " ", "\xE2\x85\xAB"},
    },
    {"\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9 \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA \xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80 \xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2",
     {"\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9", " \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA", " \xE0\xA4\xB9", "\xE0\xA4\xBF", "\xE0\xA4\xA8", "\xE0\xA5\x8D", "\xE0\xA4\xA6", "\xE0\xA5\x80", " \xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2"},
     {"\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9", " \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA", " \xE0\xA4\xB9", "\xE0\xA4\xBF\xE0\xA4\xA8", "\xE0\xA5\x8D\xE0\xA4\xA6", "\xE0\xA5\x80", " \xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2"},
     {"\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9", " \xD7\xA2\xD7\x91\xD7\xA8\xD7\x99\xD7\xAA", " \xE0\xA4\xB9", "\xE0\xA4\xBF\xE0\xA4\xA8", "\xE0\xA5\x8D\xE0\xA4\xA6", "\xE0\xA5\x80", " \xE0\xB9\x84\xE0\xB8\x97\xE0\xB8\xA2"},
    },
    {"tab\x09" "and\xC2\xA0nbsp\xE3\x80\x80ideographic",
     {"tab", "\x09", "and", "\xC2\xA0", "nbsp", "\xE3\x80\x80", "ideographic"},
     {"tab", "\x09" "and", "\xC2\xA0nbsp", "\xE3\x80\x80ideographic"},
     {"tab", "\x09" "and", "\xC2\xA0nbsp", "\xE3\x80\x80ideographic"},
    },
    {"x\xE2\x80\xA8y \xE2\x80\x83z",
     {"x", "\xE2\x80\xA8", "y", " ", "\xE2\x80\x83", "z"},
     {"x", "\xE2\x80\xA8y", " ", "\xE2\x80\x83z"},
     {"x", "\xE2\x80\xA8y", " ", "\xE2\x80\x83z"},
    },
    {"!!!??? ...--- '''",
     {"!!!???", " ...---", " '''"},
     {"!!!???", " ...---", " '''"},
     {"!!!???", " ...---", " '''"},
    },
    {"func(a, b) { return a+b; }\x0A    if (x) {\x0A        y();\x0A    }\x0A",
     {"func", "(", "a", ",", " b", ")", " {", " return", " a", "+", "b", ";", " }", "\x0A   ", " if", " (", "x", ")", " {", "\x0A       ", " y", "();", "\x0A   ", " }", "\x0A"},
     {"func", "(a", ",", " b", ")", " {", " return", " a", "+b", ";", " }\x0A", "   ", " if", " (", "x", ")", " {\x0A", "       ", " y", "();\x0A", "   ", " }\x0A"},
     {"func", "(a", ",", " b", ")", " {", " return", " a", "+b", ";", " }\x0A", "   ", " if", " (", "x", ")", " {\x0A", "       ", " y", "();\x0A", "   ", " }\x0A"},
    },
    {"'s'S'T're'RE 'll'LL",
     {"'s", "'", "S", "'", "T", "'re", "'", "RE", " '", "ll", "'", "LL"},
     {"'s", "'S", "'T", "'re", "'RE", " '", "ll", "'LL"},
     {"'s", "'S", "'T", "'re", "'RE", " '", "ll", "'LL"},
    },
    {" 'tis",
     {" '", "tis"},
     {" '", "tis"},
     {" '", "tis"},
    },
    {"$100.00 @user #tag",
     {"$", "100", ".", "00", " @", "user", " #", "tag"},
     {"$", "100", ".", "00", " @", "user", " #", "tag"},
     {"$", "1", "0", "0", ".", "0", "0", " @", "user", " #", "tag"},
    },
    {"a\x0A\x0A\x0A b\x0D\x0D c",
     {"a", "\x0A\x0A\x0A", " b", "\x0D\x0D", " c"},
     {"a", "\x0A\x0A\x0A", " b", "\x0D\x0D", " c"},
     {"a", "\x0A\x0A\x0A", " b", "\x0D\x0D", " c"},
    },
};
// clang-format on

std::vector<std::string> Split(const char* pre_name, std::string_view text) {
  auto pre = PreTokenizerForName(pre_name);
  EXPECT_TRUE(pre.ok()) << pre.status().ToString();
  std::vector<WordSpan> spans;
  SplitWords(*pre, text, spans);
  std::vector<std::string> words;
  for (const WordSpan& w : spans) words.emplace_back(text.substr(w.begin, w.end - w.begin));
  return words;
}

TEST(PreTokenizer, MatchesTheReferenceRegexes) {
  for (const PreTokenizerCase& c : kPreTokenizerCases) {
    EXPECT_EQ(Split("gpt2", c.text), c.gpt2) << "gpt2: '" << c.text << "'";
    EXPECT_EQ(Split("llama-bpe", c.text), c.llama3) << "llama3: '" << c.text << "'";
    EXPECT_EQ(Split("qwen2", c.text), c.qwen2) << "qwen2: '" << c.text << "'";
  }
}

TEST(PreTokenizer, NamesAndOptions) {
  EXPECT_TRUE(PreTokenizerForName("default").ok());
  EXPECT_TRUE(PreTokenizerForName("llama-bpe")->ignore_merges);
  EXPECT_FALSE(PreTokenizerForName("smaug-bpe")->ignore_merges);
  EXPECT_EQ(PreTokenizerForName("qwen2")->max_digits, 1);
  EXPECT_EQ(PreTokenizerForName("deepseek-llm").status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Split("gpt2", "").empty());
}

TEST(Unicode, ClassifiesScripts) {
  struct Case {
    uint32_t cp;
    CharClass cls;
  };
  const Case cases[] = {
      {'a', CharClass::kLetter},        {'Z', CharClass::kLetter},        {'7', CharClass::kNumber},
      {' ', CharClass::kWhitespace},    {'\n', CharClass::kWhitespace},   {'!', CharClass::kOther},
      {0xE9, CharClass::kLetter},       {0xBD, CharClass::kNumber},       {0xA0, CharClass::kWhitespace},
      {0x3B1, CharClass::kLetter},   // Greek alpha
      {0x436, CharClass::kLetter},   // Cyrillic zhe
      {0x5D0, CharClass::kLetter},   // Hebrew alef
      {0x628, CharClass::kLetter},   // Arabic beh
      {0x663, CharClass::kNumber},   // Arabic-Indic three
      {0x915, CharClass::kLetter},   // Devanagari ka
      {0x93F, CharClass::kOther},    // Devanagari vowel sign i (a mark)
      {0x301, CharClass::kOther},    // combining acute accent
      {0xE01, CharClass::kLetter},   // Thai ko kai
      {0x3042, CharClass::kLetter},  // Hiragana a
      {0x4E2D, CharClass::kLetter},  // CJK
      {0xAC00, CharClass::kLetter},  // Hangul
      {0x216B, CharClass::kNumber},  // Roman numeral twelve
      {0x3000, CharClass::kWhitespace}, {0x2003, CharClass::kWhitespace}, {0x2028, CharClass::kWhitespace},
      {0x1F600, CharClass::kOther},   // emoji
      {0x20000, CharClass::kLetter},  // CJK extension B
      {0x1D7CE, CharClass::kNumber},  // mathematical bold digit zero
      {0x10FFFF, CharClass::kOther},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassifyCodepoint(c.cp), c.cls) << std::hex << c.cp;
}

TEST(Unicode, TablesAreSortedAndDisjoint) {
  ASSERT_GT(kCodepointRangeCount, 500u);
  for (size_t i = 0; i < kCodepointRangeCount; ++i) {
    EXPECT_LE(kCodepointRanges[i].first, kCodepointRanges[i].last);
    if (i > 0) {
      EXPECT_GT(kCodepointRanges[i].first, kCodepointRanges[i - 1].last);
    }
  }
}

TEST(Unicode, Utf8RoundTripAndScan) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    AppendUtf8(cp, s);
    size_t pos = 0;
    EXPECT_EQ(DecodeValidUtf8(s, pos), cp);
    EXPECT_EQ(pos, s.size());
    EXPECT_EQ(ScanUtf8(s, 0).valid, s.size());
  }
  EXPECT_EQ(ScanUtf8("\xE2\x96", 0).valid, 2u);
  EXPECT_EQ(ScanUtf8("\xE2\x96", 0).needed, 3u);
  EXPECT_EQ(ScanUtf8("\xE0\x80\x80", 0).valid, 1u);  // overlong
  EXPECT_EQ(ScanUtf8("\xED\xA0\x80", 0).valid, 1u);  // surrogate
  EXPECT_EQ(ScanUtf8("\x80", 0).valid, 0u);
}

TEST(ByteLevel, MappingIsGpt2s) {
  EXPECT_EQ(ByteToCodepoint('A'), static_cast<uint32_t>('A'));
  EXPECT_EQ(ByteToCodepoint(' '), 0x120u);   // "Ġ"
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10Au);  // "Ċ"
  EXPECT_EQ(ByteToCodepoint(0), 0x100u);
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143u);
  EXPECT_EQ(ByteToUtf8(' '), "\xC4\xA0");
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = ByteToCodepoint(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second);
    EXPECT_EQ(CodepointToByte(cp), b);
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string mapped;
  ByteLevelEncode(all, mapped);
  EXPECT_EQ(ByteLevelDecode(mapped), all);
  EXPECT_EQ(ByteLevelDecode("\xE4\xB8\xAD"), "\xE4\xB8\xAD");  // outside the mapping: kept
  EXPECT_EQ(ByteLevelDecode("\xFF"), "\xFF");                  // not UTF-8: kept
}

}  // namespace
}  // namespace meridian::engine::tokenizer_internal
