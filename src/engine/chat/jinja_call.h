// Helpers shared by the Jinja built-ins: Python-style argument binding and string operations.
// Internal to src/engine/chat.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chat/jinja_builtins.h"

namespace meridian::engine::jinja {

//! Binds positional and keyword arguments to named parameters, like a Python signature.
class Params {
 public:
  Params(std::string_view fn, std::initializer_list<std::string_view> names)
      : fn_(fn), names_(names), slots_(names_.size(), nullptr) {}

  //! InvalidArgument for too many positional arguments or unknown/duplicate keywords.
  Status Bind(CallArgs& args);
  //! The argument bound to parameter i, or null when it was not given.
  const Value* operator[](size_t i) const { return slots_[i]; }
  //! Parameter i as an integer (`def` when absent or None).
  Result<int64_t> Int(size_t i, int64_t def) const;
  //! Parameter i as a string (`def` when absent).
  Result<std::string> Str(size_t i, std::string_view def) const;
  //! Parameter i's truthiness (`def` when absent).
  bool Bool(size_t i, bool def) const;

 private:
  std::string_view fn_;
  std::vector<std::string_view> names_;
  std::vector<const Value*> slots_;
};

std::string Capitalize(std::string_view s);
std::string Title(std::string_view s);
//! Python str.split: whitespace runs when `sep` is null/None, else exact separator.
Result<std::vector<std::string>> SplitString(std::string_view s, const Value* sep, int64_t maxsplit);
//! Python str.replace (count < 0: all), charged to the work budget.
Result<std::string> ReplaceString(Runtime& rt, std::string_view s, std::string_view from, std::string_view to,
                                  int64_t count);

}  // namespace meridian::engine::jinja
