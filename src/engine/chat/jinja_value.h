// Values of the Jinja interpreter: Python-like dynamic values (str, int, float, bool, None,
// list, dict, namespace, macro, undefined). Lists and dicts live in an Arena owned by one
// render, so values are cheap to copy and reference cycles cannot leak.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace meridian::engine::jinja {

struct ArrayData;
struct ObjectData;
struct Stmt;

//! Jinja's Undefined: what was looked up, for the error when it is used.
struct UndefinedValue {
  std::string hint;  //!< e.g. "'foo' is undefined"
};
struct NoneValue {};

class Value {
 public:
  enum class Kind : uint8_t { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kObject, kMacro };

  Value() = default;  //!< undefined
  static Value Undefined(std::string hint) { return Value(UndefinedValue{std::move(hint)}); }
  static Value None() { return Value(NoneValue{}); }
  static Value Bool(bool b) { return Value(b); }
  static Value Int(int64_t i) { return Value(i); }
  static Value Float(double f) { return Value(f); }
  static Value String(std::string s) {
    return Value(std::shared_ptr<const std::string>(std::make_shared<const std::string>(std::move(s))));
  }
  static Value Array(ArrayData* a) { return Value(a); }
  static Value Object(ObjectData* o) { return Value(o); }
  static Value Macro(const Stmt* m) { return Value(m); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_object() const { return kind() == Kind::kObject; }
  bool is_macro() const { return kind() == Kind::kMacro; }
  //! int, float or bool (Python's bool is an int).
  bool is_number() const { return is_int() || is_float() || is_bool(); }

  const std::string& undefined_hint() const { return std::get<UndefinedValue>(v_).hint; }
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  const std::string& str() const { return *std::get<std::shared_ptr<const std::string>>(v_); }
  //! True when both are strings sharing one buffer (a cheap equality shortcut).
  bool SameString(const Value& o) const {
    return is_string() && o.is_string() &&
           std::get<std::shared_ptr<const std::string>>(v_) ==
               std::get<std::shared_ptr<const std::string>>(o.v_);
  }
  ArrayData* array() const { return std::get<ArrayData*>(v_); }
  ObjectData* object() const { return std::get<ObjectData*>(v_); }
  const Stmt* macro() const { return std::get<const Stmt*>(v_); }
  //! The numeric value of an int, bool or float.
  double number() const;
  //! int or bool as an integer.
  int64_t integer() const { return is_bool() ? (as_bool() ? 1 : 0) : as_int(); }

 private:
  template <typename T>
  explicit Value(T v) : v_(std::in_place_type<T>, std::move(v)) {}
  // Strings are immutable and shared, so copying a value never copies text.
  std::variant<UndefinedValue, NoneValue, bool, int64_t, double, std::shared_ptr<const std::string>,
               ArrayData*, ObjectData*, const Stmt*>
      v_;
};

struct ArrayData {
  std::vector<Value> items;
};

//! A dict (insertion-ordered like Python's) or a namespace() object.
struct ObjectData {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  //!< `{% set ns.x = ... %}` is allowed only on namespaces
  bool is_loop = false;       //!< the `loop` variable of a for block

  const Value* Find(std::string_view key) const;
  void Set(std::string_view key, Value value);
};

//! Owns every list and dict created during one render; freed all at once.
class Arena {
 public:
  ArrayData* NewArray() { return &arrays_.emplace_back(); }
  ObjectData* NewObject() { return &objects_.emplace_back(); }

 private:
  std::deque<ArrayData> arrays_;
  std::deque<ObjectData> objects_;
};

//! Nesting beyond which printing, comparing or serializing a value fails instead of recursing.
inline constexpr int kMaxValueDepth = 64;

//! Python truthiness (undefined, None, 0, "", [] and {} are false).
bool IsTruthy(const Value& v);
//! Python type name for messages: 'str', 'int', 'list', 'dict', 'NoneType', 'undefined', ...
std::string_view TypeName(const Value& v);
//! Python str(): what {{ v }} prints. Undefined prints "". Lists and dicts can share
//! strings, so every conversion below fails (ResourceExhausted) past `max_bytes`.
Result<std::string> ToDisplayString(const Value& v, size_t max_bytes);
//! Python repr() (how list items print).
Result<std::string> ToRepr(const Value& v, size_t max_bytes);
//! Python float repr: shortest round-trip digits, "1.0", "1e+16", "nan", "inf".
std::string FormatFloat(double d);

//! json.dumps options as Hugging Face's tojson filter exposes them.
struct JsonStyle {
  bool indent_enabled = false;  //!< Python indent=None when false
  std::string indent;           //!< per-level indentation when enabled
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool ensure_ascii = false;
  bool sort_keys = false;
};
Result<std::string> ToJson(const Value& v, const JsonStyle& style, size_t max_bytes);

//! Python ==. Errors only when the values are nested too deeply.
Result<bool> Equals(const Value& a, const Value& b);
//! Python ordering (<0, 0, >0) for numbers, strings and lists of those; an error for others.
Result<int> Compare(const Value& a, const Value& b);

//! Byte offsets where each character starts, so that length, indexing and slicing count
//! characters like Python. A character is a byte that is not a UTF-8 continuation byte plus the
//! continuation bytes after it (exact for valid UTF-8, and total for any bytes).
std::vector<size_t> CharOffsets(std::string_view s);
//! Bytes of the character starting at s[i].
size_t CharLength(std::string_view s, size_t i);
size_t CharCount(std::string_view s);
bool IsAscii(std::string_view s);
//! First occurrence of `needle` in `hay` at or after `from` in linear time (two-way memmem),
//! or npos.
size_t FindBytes(std::string_view hay, std::string_view needle, size_t from = 0);

}  // namespace meridian::engine::jinja
