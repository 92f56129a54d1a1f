// The Jinja interpreter's runtime services (arena, work budget) and its built-ins: filters,
// tests, methods of str/list/dict, global functions, and the item/attribute/slice operations
// they share with the evaluator. Internal to src/engine/chat.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_value.h"

namespace meridian::engine::jinja {

//! Arguments of a filter, test, method or function call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

//! Per-render state the built-ins need: where lists and dicts live and the work budget.
class Runtime {
 public:
  explicit Runtime(const TemplateLimits& limits) : limits_(limits) {}

  Arena& arena() { return arena_; }
  const TemplateLimits& limits() const { return limits_; }

  //! Counts `bytes` of newly created text or list slots against max_work_bytes.
  Status Charge(size_t bytes);
  //! Counts one evaluation step against max_steps.
  Status Step();
  //! Counts `n` steps (bulk work such as copying a long list).
  Status Steps(uint64_t n);
  //! Counts a linear pass over `bytes` of text (one step per 256 bytes).
  Status Scan(size_t bytes) { return Steps(bytes / 256); }
  //! Bytes that a conversion to text may still produce.
  size_t work_left() const { return limits_.max_work_bytes - std::min(work_bytes_, limits_.max_work_bytes); }

  //! A new string value, charged.
  Result<Value> NewString(std::string s);
  //! A new list value, charged per item.
  Result<Value> NewArray(std::vector<Value> items);
  //! A new empty dict.
  Value NewObject() { return Value::Object(arena_.NewObject()); }

  //! Python str() of a value, charged.
  Result<std::string> Str(const Value& v);

  //! Set when raise_exception() ran: its message is passed through without a line prefix.
  bool raised() const { return raised_; }
  void set_raised() { raised_ = true; }

 private:
  TemplateLimits limits_;
  Arena arena_;
  size_t work_bytes_ = 0;
  uint64_t steps_ = 0;
  bool raised_ = false;
};

bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);
Result<Value> ApplyFilter(Runtime& rt, std::string_view name, const Value& input, CallArgs& args);
Result<bool> ApplyTest(Runtime& rt, std::string_view name, const Value& input, CallArgs& args);
//! `self.name(args)` for str, list and dict methods and loop.cycle(); NotFound if none exists.
Result<Value> CallMethod(Runtime& rt, const Value& self, std::string_view name, CallArgs& args);
//! range(), namespace(), dict(), raise_exception(); NotFound if `name` is none of them.
Result<Value> CallGlobal(Runtime& rt, std::string_view name, CallArgs& args);

//! `obj.name`: a dict entry, else undefined; an error when `obj` itself is undefined.
Result<Value> GetAttr(const Value& obj, std::string_view name);
//! `obj[key]` for lists, strings (by character) and dicts; undefined when missing.
Result<Value> GetItem(Runtime& rt, const Value& obj, const Value& key);
//! `obj[start:stop:step]` with Python's rules, for lists and strings.
Result<Value> Slice(Runtime& rt, const Value& obj, const Value& start, const Value& stop, const Value& step);
//! Python `item in container` (substring, list element or dict key); the scan is charged.
Result<bool> Contains(Runtime& rt, const Value& container, const Value& item);
//! What a for loop visits: list items, dict keys, string characters; undefined is empty.
Result<std::vector<Value>> Iterate(Runtime& rt, const Value& v);

//! Python str.strip family; `chars` empty means whitespace.
std::string_view StripChars(std::string_view s, std::optional<std::string_view> chars, bool left, bool right);
std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);

}  // namespace meridian::engine::jinja
