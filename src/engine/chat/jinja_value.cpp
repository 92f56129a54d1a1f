// Jinja values: truthiness, Python-style printing (str/repr), json.dumps, equality, ordering.
#include "engine/chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace meridian::engine::jinja {
namespace {

Status TooLong(size_t max_bytes) {
  return ResourceExhausted("a value converted to text exceeds the template work limit of " +
                           std::to_string(max_bytes) + " bytes");
}

Status TooDeep() {
  return InvalidArgument("a value is nested more than " + std::to_string(kMaxValueDepth) + " levels deep");
}

void AppendHex4(std::string& out, uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(v & 0xFFFF));
  out += buf;
}

//! Decodes one UTF-8 character at s[i]; returns U+FFFD for invalid bytes. Advances i.
uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  int len = 0;
  uint32_t cp = 0;
  if (c < 0x80) {
    ++i;
    return c;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void AppendJsonString(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t run = i;  // copy plain characters in bulk
    while (run < s.size() && s[run] != '"' && s[run] != '\\' && static_cast<unsigned char>(s[run]) >= 0x20 &&
           (!ensure_ascii || static_cast<unsigned char>(s[run]) < 0x80)) {
      ++run;
    }
    if (run > i) {
      out.append(s.substr(i, run - i));
      i = run;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      case '\b':
        out += "\\b";
        ++i;
        continue;
      case '\f':
        out += "\\f";
        ++i;
        continue;
      default: break;
    }
    if (c < 0x20) {
      AppendHex4(out, c);
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      uint32_t cp = DecodeUtf8(s, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        AppendHex4(out, 0xD800 + (cp >> 10));
        AppendHex4(out, 0xDC00 + (cp & 0x3FF));
      } else {
        AppendHex4(out, cp);
      }
    }
  }
  out += '"';
}

void AppendPyRepr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t run = i;  // copy plain characters in bulk
    while (run < s.size() && s[run] != quote && s[run] != '\\' &&
           static_cast<unsigned char>(s[run]) >= 0x20 && s[run] != 0x7f) {
      ++run;
    }
    if (run > i) {
      out.append(s.substr(i, run - i));
      i = run - 1;
      continue;
    }
    const char ch = s[i];
    const unsigned char c = static_cast<unsigned char>(ch);
    if (ch == quote || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += quote;
}

Status AppendStr(std::string& out, const Value& v, bool repr, int depth, size_t max);

Status AppendItems(std::string& out, const Value& v, int depth, size_t max) {
  if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const Value& item : v.array()->items) {
      if (!first) out += ", ";
      first = false;
      MERIDIAN_RETURN_IF_ERROR(AppendStr(out, item, true, depth + 1, max));
    }
    out += ']';
    return Status::Ok();
  }
  out += '{';
  bool first = true;
  for (const auto& [key, item] : v.object()->items) {
    if (!first) out += ", ";
    first = false;
    AppendPyRepr(out, key);
    out += ": ";
    MERIDIAN_RETURN_IF_ERROR(AppendStr(out, item, true, depth + 1, max));
  }
  out += '}';
  return Status::Ok();
}

Status AppendStr(std::string& out, const Value& v, bool repr, int depth, size_t max) {
  if (depth > kMaxValueDepth) return TooDeep();
  if (out.size() > max) return TooLong(max);
  switch (v.kind()) {
    case Value::Kind::kUndefined: out += repr ? "Undefined" : ""; break;
    case Value::Kind::kNone: out += "None"; break;
    case Value::Kind::kBool: out += v.as_bool() ? "True" : "False"; break;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); break;
    case Value::Kind::kFloat: out += FormatFloat(v.as_float()); break;
    case Value::Kind::kString:
      if (repr) {
        AppendPyRepr(out, v.str());
      } else {
        out += v.str();
      }
      break;
    case Value::Kind::kArray: return AppendItems(out, v, depth, max);
    case Value::Kind::kObject:
      if (v.object()->is_loop) {
        out += "<LoopContext>";
      } else if (v.object()->is_namespace) {
        out += "<Namespace ";
        MERIDIAN_RETURN_IF_ERROR(AppendItems(out, v, depth, max));
        out += '>';
      } else {
        return AppendItems(out, v, depth, max);
      }
      break;
    case Value::Kind::kMacro: out += "<Macro>"; break;
  }
  return out.size() > max ? TooLong(max) : Status::Ok();
}

Status AppendJson(std::string& out, const Value& v, const JsonStyle& style, int depth, size_t max) {
  if (depth > kMaxValueDepth) return TooDeep();
  if (out.size() > max) return TooLong(max);
  auto newline = [&](int level) {
    if (!style.indent_enabled) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += style.indent;
  };
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
    case Value::Kind::kMacro: out += "null"; break;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); break;
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += FormatFloat(d);
      }
      break;
    }
    case Value::Kind::kString: AppendJsonString(out, v.str(), style.ensure_ascii); break;
    case Value::Kind::kArray: {
      const auto& items = v.array()->items;
      if (items.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += style.item_separator;
        newline(depth + 1);
        MERIDIAN_RETURN_IF_ERROR(AppendJson(out, items[i], style, depth + 1, max));
      }
      newline(depth);
      out += ']';
      break;
    }
    case Value::Kind::kObject: {
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& entry : v.object()->items) entries.push_back(&entry);
      if (entries.empty()) {
        out += "{}";
        break;
      }
      if (style.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += style.item_separator;
        newline(depth + 1);
        AppendJsonString(out, entries[i]->first, style.ensure_ascii);
        out += style.key_separator;
        MERIDIAN_RETURN_IF_ERROR(AppendJson(out, entries[i]->second, style, depth + 1, max));
      }
      newline(depth);
      out += '}';
      break;
    }
  }
  return out.size() > max ? TooLong(max) : Status::Ok();
}

Result<bool> EqualsAt(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) return TooDeep();
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.integer() == b.integer();
    return a.number() == b.number();
  }
  if (a.kind() != b.kind()) return false;
  if (a.SameString(b)) return true;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.str() == b.str();
    case Value::Kind::kMacro: return a.macro() == b.macro();
    case Value::Kind::kArray: {
      const auto& x = a.array()->items;
      const auto& y = b.array()->items;
      if (a.array() == b.array()) return true;
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        MERIDIAN_ASSIGN_OR_RETURN(bool eq, EqualsAt(x[i], y[i], depth + 1));
        if (!eq) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      if (a.object() == b.object()) return true;
      const auto& x = a.object()->items;
      if (x.size() != b.object()->items.size()) return false;
      for (const auto& [key, item] : x) {
        const Value* other = b.object()->Find(key);
        if (!other) return false;
        MERIDIAN_ASSIGN_OR_RETURN(bool eq, EqualsAt(item, *other, depth + 1));
        if (!eq) return false;
      }
      return true;
    }
    default: return false;
  }
}

Result<int> CompareAt(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) return TooDeep();
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) {
      return a.integer() < b.integer() ? -1 : (a.integer() > b.integer() ? 1 : 0);
    }
    const double x = a.number(), y = b.number();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_array() && b.is_array()) {
    const auto& x = a.array()->items;
    const auto& y = b.array()->items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(int c, CompareAt(x[i], y[i], depth + 1));
      if (c != 0) return c;
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  if (a.is_undefined()) return InvalidArgument(a.undefined_hint());
  if (b.is_undefined()) return InvalidArgument(b.undefined_hint());
  return InvalidArgument("cannot order '" + std::string(TypeName(a)) + "' and '" + std::string(TypeName(b)) +
                         "'");
}

}  // namespace

double Value::number() const {
  if (is_float()) return as_float();
  return static_cast<double>(integer());
}

const Value* ObjectData::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void ObjectData::Set(std::string_view key, Value value) {
  for (auto& [k, v] : items) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::string(key), std::move(value));
}

bool IsTruthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.as_bool();
    case Value::Kind::kInt: return v.as_int() != 0;
    case Value::Kind::kFloat: return v.as_float() != 0.0;
    case Value::Kind::kString: return !v.str().empty();
    case Value::Kind::kArray: return !v.array()->items.empty();
    case Value::Kind::kObject:
      return v.object()->is_namespace || v.object()->is_loop || !v.object()->items.empty();
    case Value::Kind::kMacro: return true;
  }
  return false;
}

std::string_view TypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kArray: return "list";
    case Value::Kind::kObject:
      return v.object()->is_namespace ? "namespace" : (v.object()->is_loop ? "loop" : "dict");
    case Value::Kind::kMacro: return "macro";
  }
  return "value";
}

Result<std::string> ToDisplayString(const Value& v, size_t max_bytes) {
  if (v.is_string()) return v.str();
  std::string out;
  MERIDIAN_RETURN_IF_ERROR(AppendStr(out, v, false, 0, max_bytes));
  return out;
}

Result<std::string> ToRepr(const Value& v, size_t max_bytes) {
  std::string out;
  MERIDIAN_RETURN_IF_ERROR(AppendStr(out, v, true, 0, max_bytes));
  return out;
}

std::string FormatFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "-d.ddde+XX"
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  const int exp = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      const size_t int_len = static_cast<size_t>(exp) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out += digits.substr(0, int_len);
        out += '.';
        out += digits.substr(int_len);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
  out += exp_buf;
  return out;
}

Result<std::string> ToJson(const Value& v, const JsonStyle& style, size_t max_bytes) {
  std::string out;
  MERIDIAN_RETURN_IF_ERROR(AppendJson(out, v, style, 0, max_bytes));
  return out;
}

Result<bool> Equals(const Value& a, const Value& b) {
  return EqualsAt(a, b, 0);
}
Result<int> Compare(const Value& a, const Value& b) {
  return CompareAt(a, b, 0);
}

namespace {
bool IsContinuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}
}  // namespace

size_t CharLength(std::string_view s, size_t i) {
  size_t n = 1;
  while (i + n < s.size() && IsContinuation(s[i + n])) ++n;
  return n;
}

std::vector<size_t> CharOffsets(std::string_view s) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < s.size(); i += CharLength(s, i)) offsets.push_back(i);
  return offsets;
}

size_t FindBytes(std::string_view hay, std::string_view needle, size_t from) {
  if (from > hay.size()) return std::string_view::npos;
  if (needle.empty()) return from;
  const void* hit = memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return hit ? static_cast<size_t>(static_cast<const char*>(hit) - hay.data()) : std::string_view::npos;
}

size_t CharCount(std::string_view s) {
  if (s.empty()) return 0;
  size_t n = IsContinuation(s[0]) ? 1 : 0;  // stray continuation bytes at the start form one character
  for (char c : s) n += IsContinuation(c) ? 0 : 1;
  return n;
}

bool IsAscii(std::string_view s) {
  unsigned char any = 0;
  for (char c : s) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

}  // namespace meridian::engine::jinja
