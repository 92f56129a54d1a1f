// Logging: one JSON object per line on stderr. Thread-safe; never logs prompt text or keys.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meridian::log {

enum class Level { kDebug = 0, kInfo, kWarn, kError };

void SetLevel(Level level);
Level GetLevel();
//! Parses "debug", "info", "warn", "error"; false if unknown.
bool ParseLevel(std::string_view text, Level* out);

using Value = std::variant<std::string, std::string_view, const char*, long long, double, bool>;
using Field = std::pair<std::string_view, Value>;

//! Writes {"ts":..., "level":..., "msg":..., fields...} as one line.
void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void Debug(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kDebug, m, f); }
inline void Info(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kInfo, m, f); }
inline void Warn(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kWarn, m, f); }
inline void Error(std::string_view m, std::initializer_list<Field> f = {}) { Write(Level::kError, m, f); }

//! Appends `text` to `out` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace meridian::log
