// Helpers for the tokenizer tests: shared test data, llama.cpp-style .inp/.out vectors, a temp
// folder, and small vocabularies built in code.
#pragma once

#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_test {

//! The shared test-data folder (../shared/testdata from the project root).
inline std::string SharedTestData() {
  return std::string(MERIDIAN_SOURCE_DIR) + "/../shared/testdata";
}
//! This test folder's committed data.
inline std::string LocalData() {
  return std::string(MERIDIAN_SOURCE_DIR) + "/tests/engine/tokenizer/data";
}

//! CPU time of the calling thread, in milliseconds.
inline double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

//! Test strings of a llama.cpp .inp file: separated by "\n__ggml_vocab_test__\n".
inline std::vector<std::string> ParseInp(const std::string& text) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t hit = text.find(sep, pos);
    if (hit == std::string::npos) break;
    out.push_back(text.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  return out;
}

//! Lines of ids of a llama.cpp .out file.
inline std::vector<std::vector<int32_t>> ParseOut(const std::string& text) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ids(line);
    std::vector<int32_t> row;
    int32_t id;
    while (ids >> id) row.push_back(id);
    out.push_back(row);
  }
  return out;
}

inline std::string Join(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) {
    if (!s.empty()) s.push_back(' ');
    s += std::to_string(id);
  }
  return s;
}

//! A folder under the system temp dir, removed with its content.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "meridian_tok_XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Random valid UTF-8 drawn from scripts, emoji sequences, combining marks and whitespace runs.
inline std::string RandomText(std::mt19937& rng) {
  static const std::vector<std::string> kFragments = {
      " ",
      "  ",
      "   ",
      "\n",
      "\n\n",
      "\r\n",
      "\t",
      " \n ",
      "\xC2\xA0",
      "\xE3\x80\x80",
      "'s",
      "'LL",
      "'",
      "\"",
      ".",
      ",",
      "!?",
      "...",
      "(",
      ")",
      "{",
      "}",
      "<",
      ">",
      "|",
      "<|",
      "|>",
      "<|endoftext|>",
      "<|user|>",
      "<|end",
      "the",
      " the",
      "her",
      "in",
      "aaa",
      "123",
      "4567",
      "0",
      "Hello",
      "WORLD",
      "x",
      "y",
      "z",
      "\xC3\xA9",
      "\xC3\x9F",
      "e\xCC\x81",
      "n\xCC\x83\xCC\x88",  // é ß e+acute n+tilde+diaeresis
      "\xCE\xB1\xCE\xB2\xCE\xB3",
      "\xD0\xB6\xD0\xB8\xD0\xB7\xD0\xBD\xD1\x8C",  // Greek, Cyrillic
      "\xE4\xB8\xAD\xE6\x96\x87",
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",                                      // CJK
      "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",                                      // Hangul
      "\xD8\xA7\xD9\x84\xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A\xD8\xA9",                  // Arabic
      "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80",  // Devanagari
      "\xD9\xA3\xD9\xA4",
      "\xC2\xBD",
      "\xE2\x85\xAB",  // Arabic digits, ½, Ⅻ
      "\xF0\x9F\x98\x80",
      "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",                                          // 😀 👍🏽
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",  // family (ZWJ)
      "\xE2\x96\x81",
      "\xEF\xBF\xBD",
      "\xEF\xBB\xBF",
      "\x7F",
      std::string(1, '\0'),
  };
  std::uniform_int_distribution<int> n_parts(0, 24);
  std::uniform_int_distribution<size_t> pick(0, kFragments.size() - 1);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<uint32_t> any_cp(0, 0x10FFFF);
  std::string s;
  const int n = n_parts(rng);
  for (int i = 0; i < n; ++i) {
    if (kind(rng) == 0) {  // any scalar value
      uint32_t cp = any_cp(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp -= 0x800;
      tokenizer_internal::AppendUtf8(cp, s);
    } else {
      s += kFragments[pick(rng)];
    }
  }
  return s;
}

}  // namespace meridian::engine::tokenizer_test
