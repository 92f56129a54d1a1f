// API key file loading and constant-time bearer checks.
#include "server/api_keys.h"

#include <fstream>

#include "http/headers.h"

namespace meridian::server {

namespace {
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  // Keep the compiler from turning the loop into an early-exit comparison.
  volatile unsigned sink = diff;
  return sink == 0;
}

Result<ApiKeys> ApiKeys::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("--api-key-file: cannot read '" + path + "'");
  std::vector<std::string> keys;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view key = Trim(line);
    if (key.empty() || key.front() == '#') continue;
    for (unsigned char c : key) {
      if (c <= 0x20 || c >= 0x7f) {
        return InvalidArgument("--api-key-file: line " + std::to_string(line_no) +
                               " has a character that cannot travel in an HTTP header (keys are printable "
                               "ASCII without spaces)");
      }
    }
    keys.emplace_back(key);
  }
  if (keys.empty()) return InvalidArgument("--api-key-file: '" + path + "' holds no key");
  return ApiKeys(std::move(keys));
}

bool ApiKeys::Check(std::string_view authorization) const {
  if (keys_.empty()) return true;
  authorization = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !http::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      (authorization[kScheme.size()] != ' ' && authorization[kScheme.size()] != '\t')) {
    return false;
  }
  const std::string_view presented = Trim(authorization.substr(kScheme.size()));
  bool match = false;
  for (const std::string& key : keys_) match |= ConstantTimeEquals(presented, key);
  return match;
}

}  // namespace meridian::server
