// Jinja runtime services and the Python-like operations on values: attribute and item access,
// slicing, `in`, iteration, str/list/dict methods and the global functions (range, namespace,
// dict, raise_exception).
#include <algorithm>
#include <cstring>

#include "engine/chat/jinja_builtins.h"
#include "engine/chat/jinja_call.h"

namespace meridian::engine::jinja {

// ---- Runtime ----

Status Runtime::Charge(size_t bytes) {
  work_bytes_ = bytes > limits_.max_work_bytes ? limits_.max_work_bytes + 1 : work_bytes_ + bytes;
  if (work_bytes_ > limits_.max_work_bytes) {
    return ResourceExhausted("rendering created more than " + std::to_string(limits_.max_work_bytes) +
                             " bytes of text and lists (the template work limit)");
  }
  return Status::Ok();
}

Status Runtime::Step() {
  return Steps(1);
}

Status Runtime::Steps(uint64_t n) {
  steps_ = n > limits_.max_steps ? limits_.max_steps + 1 : steps_ + n;
  if (steps_ > limits_.max_steps) {
    return ResourceExhausted("rendering took more than " + std::to_string(limits_.max_steps) +
                             " steps (the template work limit; an endless or huge loop?)");
  }
  return Status::Ok();
}

Result<Value> Runtime::NewString(std::string s) {
  MERIDIAN_RETURN_IF_ERROR(Charge(s.size()));
  return Value::String(std::move(s));
}

Result<Value> Runtime::NewArray(std::vector<Value> items) {
  MERIDIAN_RETURN_IF_ERROR(Charge(16 * items.size()));
  ArrayData* a = arena_.NewArray();
  a->items = std::move(items);
  return Value::Array(a);
}

Result<std::string> Runtime::Str(const Value& v) {
  if (v.is_string()) return v.str();
  return ToDisplayString(v, work_left());
}

// ---- argument binding ----

Status Params::Bind(CallArgs& args) {
  if (args.positional.size() > names_.size()) {
    return InvalidArgument(std::string(fn_) + "() takes at most " + std::to_string(names_.size()) +
                           " arguments (" + std::to_string(args.positional.size()) + " given)");
  }
  for (size_t i = 0; i < args.positional.size(); ++i) slots_[i] = &args.positional[i];
  for (auto& [key, value] : args.keyword) {
    const auto it = std::find(names_.begin(), names_.end(), key);
    if (it == names_.end()) {
      return InvalidArgument(std::string(fn_) + "() got an unexpected keyword argument '" + key + "'");
    }
    const size_t i = static_cast<size_t>(it - names_.begin());
    if (slots_[i]) return InvalidArgument(std::string(fn_) + "() got two values for '" + key + "'");
    slots_[i] = &value;
  }
  return Status::Ok();
}

Result<int64_t> Params::Int(size_t i, int64_t def) const {
  const Value* v = slots_[i];
  if (!v || v->is_none() || v->is_undefined()) return def;
  if (v->is_number() && !v->is_float()) return v->integer();
  if (v->is_float() && v->as_float() == static_cast<double>(static_cast<int64_t>(v->as_float()))) {
    return static_cast<int64_t>(v->as_float());
  }
  return InvalidArgument(std::string(fn_) + "(): '" + std::string(names_[i]) + "' must be an integer, not '" +
                         std::string(TypeName(*v)) + "'");
}

Result<std::string> Params::Str(size_t i, std::string_view def) const {
  const Value* v = slots_[i];
  if (!v || v->is_undefined()) return std::string(def);
  if (v->is_string()) return v->str();
  return InvalidArgument(std::string(fn_) + "(): '" + std::string(names_[i]) + "' must be a string, not '" +
                         std::string(TypeName(*v)) + "'");
}

bool Params::Bool(size_t i, bool def) const {
  const Value* v = slots_[i];
  return v ? IsTruthy(*v) : def;
}

// ---- string helpers ----

namespace {
bool IsPySpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

std::string_view StripChars(std::string_view s, std::optional<std::string_view> chars, bool left,
                            bool right) {
  auto strip = [&](char c) { return chars ? chars->find(c) != std::string_view::npos : IsPySpace(c); };
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e && strip(s[b])) ++b;
  }
  if (right) {
    while (e > b && strip(s[e - 1])) --e;
  }
  return s.substr(b, e - b);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out = AsciiLower(s);
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string Title(std::string_view s) {
  std::string out(s);
  bool prev_letter = false;
  for (char& c : out) {
    const bool letter = IsAlpha(c);
    if (letter)
      c = prev_letter ? AsciiLower(std::string_view(&c, 1))[0] : AsciiUpper(std::string_view(&c, 1))[0];
    prev_letter = letter;
  }
  return out;
}

Result<std::vector<std::string>> SplitString(std::string_view s, const Value* sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (!sep || sep->is_none() || sep->is_undefined()) {  // runs of whitespace, no empty parts
    size_t i = 0;
    while (true) {
      while (i < s.size() && IsPySpace(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.emplace_back(StripChars(s.substr(i), std::nullopt, false, true));
        break;
      }
      size_t j = i;
      while (j < s.size() && !IsPySpace(s[j])) ++j;
      parts.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  if (!sep->is_string()) return InvalidArgument("split(): the separator must be a string");
  const std::string& d = sep->str();
  if (d.empty()) return InvalidArgument("split(): empty separator");
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    const size_t hit = FindBytes(s, d, start);
    if (hit == std::string_view::npos) break;
    parts.emplace_back(s.substr(start, hit - start));
    start = hit + d.size();
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

Result<std::string> ReplaceString(Runtime& rt, std::string_view s, std::string_view from, std::string_view to,
                                  int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every character
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(sizeof(size_t) * s.size()));
    const std::vector<size_t> offsets = CharOffsets(s);
    const size_t n =
        count < 0 ? offsets.size() + 1 : std::min<size_t>(static_cast<size_t>(count), offsets.size() + 1);
    if (n > 0 && to.size() > rt.work_left() / n) return rt.Charge(rt.work_left() + 1);
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (i < n) out += to;
      out += s.substr(offsets[i], (i + 1 < offsets.size() ? offsets[i + 1] : s.size()) - offsets[i]);
    }
    if (offsets.size() < n) out += to;
  } else {
    size_t start = 0;
    for (int64_t done = 0; count < 0 || done < count; ++done) {
      const size_t hit = FindBytes(s, from, start);
      if (hit == std::string_view::npos) break;
      out.append(s.substr(start, hit - start));
      out.append(to);
      if (out.size() > rt.work_left()) return rt.Charge(out.size());
      start = hit + from.size();
    }
    out.append(s.substr(start));
  }
  MERIDIAN_RETURN_IF_ERROR(rt.Charge(out.size()));
  return out;
}

// ---- access ----

namespace {
Value NoAttribute(const Value& obj, std::string_view name) {
  std::string hint = "'";
  hint.append(TypeName(obj));
  hint.append(" object' has no attribute '");
  hint.append(name);
  hint += '\'';
  return Value::Undefined(std::move(hint));
}
}  // namespace

Result<Value> GetAttr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) return InvalidArgument(obj.undefined_hint());
  if (obj.is_object()) {
    if (const Value* v = obj.object()->Find(name)) return *v;
  }
  return NoAttribute(obj, name);
}

Result<Value> GetItem(Runtime& rt, const Value& obj, const Value& key) {
  if (obj.is_undefined()) return InvalidArgument(obj.undefined_hint());
  if ((obj.is_array() || obj.is_string()) && key.is_number() && !key.is_float()) {
    const bool is_array = obj.is_array();
    if (!is_array) MERIDIAN_RETURN_IF_ERROR(rt.Scan(obj.str().size()));
    const bool ascii = !is_array && IsAscii(obj.str());
    const int64_t n = static_cast<int64_t>(is_array ? obj.array()->items.size()
                                                    : (ascii ? obj.str().size() : CharCount(obj.str())));
    int64_t i = key.integer();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::Undefined(std::string(TypeName(obj)) + " index out of range");
    if (is_array) return obj.array()->items[static_cast<size_t>(i)];
    const std::string& s = obj.str();
    size_t b = 0;
    if (ascii) {
      b = static_cast<size_t>(i);
    } else {
      for (int64_t c = 0; c < i; ++c) b += CharLength(s, b);
    }
    return rt.NewString(s.substr(b, CharLength(s, b)));
  }
  if (obj.is_object() && !key.is_array() && !key.is_object() && !key.is_undefined()) {
    MERIDIAN_ASSIGN_OR_RETURN(std::string k, rt.Str(key));
    if (const Value* v = obj.object()->Find(k)) return *v;
    return NoAttribute(obj, k);
  }
  return Value::Undefined("cannot index a '" + std::string(TypeName(obj)) + "' with a '" +
                          std::string(TypeName(key)) + "'");
}

Result<Value> Slice(Runtime& rt, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) return InvalidArgument(obj.undefined_hint());
  if (!obj.is_array() && !obj.is_string()) {
    return InvalidArgument("cannot slice a '" + std::string(TypeName(obj)) + "'");
  }
  std::vector<size_t> offsets;  // of each character, for non-ASCII strings only
  const bool ascii = obj.is_string() && IsAscii(obj.str());
  if (obj.is_string()) {
    MERIDIAN_RETURN_IF_ERROR(rt.Scan(obj.str().size()));
    if (!ascii) {
      MERIDIAN_RETURN_IF_ERROR(rt.Charge(sizeof(size_t) * obj.str().size()));
      offsets = CharOffsets(obj.str());
    }
  }
  const int64_t n = static_cast<int64_t>(obj.is_array() ? obj.array()->items.size()
                                                        : (ascii ? obj.str().size() : offsets.size()));
  auto index = [&](const Value& v, const char* what) -> Result<std::optional<int64_t>> {
    if (v.is_undefined() || v.is_none()) return std::optional<int64_t>();
    if (!v.is_number() || v.is_float())
      return InvalidArgument(std::string("slice ") + what + " must be an integer");
    return std::optional<int64_t>(std::clamp<int64_t>(v.integer(), -n - 1, n + 1));
  };
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<int64_t> b, index(start, "start"));
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<int64_t> e, index(stop, "stop"));
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<int64_t> s, index(step, "step"));
  const int64_t st = s.value_or(1);
  if (st == 0) return InvalidArgument("slice step cannot be zero");
  auto adjust = [&](std::optional<int64_t> v, int64_t def) {
    if (!v) return def;
    int64_t x = *v;
    if (x < 0) x += n;
    if (st > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  const int64_t from = adjust(b, st > 0 ? 0 : n - 1);
  const int64_t to = adjust(e, st > 0 ? n : -1);
  // i stays within [-1, n] and |st| <= n + 1, so i += st cannot overflow.
  if (obj.is_array()) {
    std::vector<Value> items;
    for (int64_t i = from; st > 0 ? i < to : i > to; i += st)
      items.push_back(obj.array()->items[static_cast<size_t>(i)]);
    return rt.NewArray(std::move(items));
  }
  std::string out;
  for (int64_t i = from; st > 0 ? i < to : i > to; i += st) {
    if (ascii) {
      out += obj.str()[static_cast<size_t>(i)];
      continue;
    }
    const size_t cb = offsets[static_cast<size_t>(i)];
    const size_t ce =
        static_cast<size_t>(i + 1) < offsets.size() ? offsets[static_cast<size_t>(i + 1)] : obj.str().size();
    out.append(obj.str(), cb, ce - cb);
  }
  return rt.NewString(std::move(out));
}

Result<bool> Contains(Runtime& rt, const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      return InvalidArgument("'in <string>' needs a string on the left, not '" + std::string(TypeName(item)) +
                             "'");
    }
    MERIDIAN_RETURN_IF_ERROR(rt.Scan(container.str().size()));
    return FindBytes(container.str(), item.str()) != std::string_view::npos;
  }
  if (container.is_array()) {
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(16 * container.array()->items.size()));
    for (const Value& v : container.array()->items) {
      MERIDIAN_ASSIGN_OR_RETURN(bool eq, Equals(v, item));
      if (eq) return true;
    }
    return false;
  }
  if (container.is_object()) return item.is_string() && container.object()->Find(item.str()) != nullptr;
  if (container.is_undefined()) return false;
  return InvalidArgument("argument of type '" + std::string(TypeName(container)) + "' is not iterable");
}

Result<std::vector<Value>> Iterate(Runtime& rt, const Value& v) {
  std::vector<Value> items;
  // Copying values is cheap and the copy is short-lived: it costs steps, not work bytes.
  if (v.is_array()) {
    MERIDIAN_RETURN_IF_ERROR(rt.Steps(v.array()->items.size() / 8));
    items = v.array()->items;
  } else if (v.is_object()) {
    MERIDIAN_RETURN_IF_ERROR(rt.Steps(v.object()->items.size() / 8));
    for (const auto& entry : v.object()->items) items.push_back(Value::String(entry.first));
  } else if (v.is_string()) {
    const std::string& s = v.str();
    const std::vector<size_t> offsets = CharOffsets(s);
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(16 * offsets.size() + s.size()));
    for (size_t i = 0; i < offsets.size(); ++i) {
      const size_t e = i + 1 < offsets.size() ? offsets[i + 1] : s.size();
      items.push_back(Value::String(s.substr(offsets[i], e - offsets[i])));
    }
  } else if (!v.is_undefined()) {
    return InvalidArgument("'" + std::string(TypeName(v)) + "' object is not iterable");
  }
  return items;
}

// ---- methods ----

namespace {

Result<Value> StringMethod(Runtime& rt, const std::string& s, std::string_view name, CallArgs& args) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    Params p(name, {"chars"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    std::optional<std::string> chars;
    if (p[0] && !p[0]->is_none()) {
      MERIDIAN_ASSIGN_OR_RETURN(std::string c, p.Str(0, ""));
      chars = std::move(c);
    }
    return rt.NewString(
        std::string(StripChars(s, chars ? std::optional<std::string_view>(*chars) : std::nullopt,
                               name != "rstrip", name != "lstrip")));
  }
  if (name == "startswith" || name == "endswith") {
    Params p(name, {"prefix"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    if (!p[0]) return InvalidArgument(std::string(name) + "() needs an argument");
    std::vector<Value> options = p[0]->is_array() ? p[0]->array()->items : std::vector<Value>{*p[0]};
    for (const Value& o : options) {
      if (!o.is_string())
        return InvalidArgument(std::string(name) + "() takes a string or a list of strings");
      const std::string& x = o.str();
      const bool hit =
          x.size() <= s.size() && (name == "startswith" ? s.compare(0, x.size(), x) == 0
                                                        : s.compare(s.size() - x.size(), x.size(), x) == 0);
      if (hit) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (name == "split") {
    Params p(name, {"sep", "maxsplit"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t maxsplit, p.Int(1, -1));
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitString(s, p[0], maxsplit));
    std::vector<Value> items;
    for (std::string& part : parts) items.push_back(Value::String(std::move(part)));
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(s.size()));
    return rt.NewArray(std::move(items));
  }
  if (name == "splitlines") {
    std::vector<Value> items;
    size_t start = 0;
    while (start < s.size()) {
      size_t nl = s.find('\n', start);
      if (nl == std::string::npos) nl = s.size();
      std::string line = s.substr(start, nl - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      items.push_back(Value::String(std::move(line)));
      start = nl + 1;
    }
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(s.size()));
    return rt.NewArray(std::move(items));
  }
  if (name == "upper") return rt.NewString(AsciiUpper(s));
  if (name == "lower") return rt.NewString(AsciiLower(s));
  if (name == "title") return rt.NewString(Title(s));
  if (name == "capitalize") return rt.NewString(Capitalize(s));
  if (name == "replace") {
    Params p(name, {"old", "new", "count"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(std::string from, p.Str(0, ""));
    MERIDIAN_ASSIGN_OR_RETURN(std::string to, p.Str(1, ""));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t count, p.Int(2, -1));
    MERIDIAN_ASSIGN_OR_RETURN(std::string out, ReplaceString(rt, s, from, to, count));
    return Value::String(std::move(out));
  }
  if (name == "find" || name == "count") {
    Params p(name, {"sub"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_RETURN_IF_ERROR(rt.Scan(s.size()));
    MERIDIAN_ASSIGN_OR_RETURN(std::string sub, p.Str(0, ""));
    if (name == "find") {
      const size_t hit = FindBytes(s, sub);
      return Value::Int(hit == std::string::npos
                            ? -1
                            : static_cast<int64_t>(CharCount(std::string_view(s).substr(0, hit))));
    }
    if (sub.empty()) return Value::Int(static_cast<int64_t>(CharCount(s)) + 1);
    int64_t n = 0;
    for (size_t at = FindBytes(s, sub); at != std::string::npos; at = FindBytes(s, sub, at + sub.size())) ++n;
    return Value::Int(n);
  }
  if (name == "join") {
    Params p(name, {"iterable"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, p[0] ? *p[0] : Value()));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(std::string part, rt.Str(items[i]));
      MERIDIAN_RETURN_IF_ERROR(rt.Charge(part.size() + (i ? s.size() : 0)));
      if (i) out += s;
      out += part;
    }
    return Value::String(std::move(out));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    if (s.empty()) return Value::Bool(false);
    bool all = true, cased = false;
    for (char c : s) {
      if (name == "isdigit") all = all && IsDigit(c);
      if (name == "isalpha") all = all && IsAlpha(c);
      if (name == "isalnum") all = all && (IsAlpha(c) || IsDigit(c));
      if (name == "isspace") all = all && IsPySpace(c);
      if (name == "isupper") all = all && !(c >= 'a' && c <= 'z'), cased = cased || (c >= 'A' && c <= 'Z');
      if (name == "islower") all = all && !(c >= 'A' && c <= 'Z'), cased = cased || (c >= 'a' && c <= 'z');
    }
    if (name == "isupper" || name == "islower") all = all && cased;
    return Value::Bool(all);
  }
  return NotFound("a 'str' has no method '" + std::string(name) + "'");
}

Result<Value> ArrayMethod(Runtime& rt, ArrayData* a, std::string_view name, CallArgs& args) {
  auto& items = a->items;
  if (name == "append") {
    Params p(name, {"item"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(16));
    items.push_back(p[0] ? *p[0] : Value());
    return Value::None();
  }
  if (name == "extend") {
    Params p(name, {"iterable"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> more, Iterate(rt, p[0] ? *p[0] : Value()));
    items.insert(items.end(), more.begin(), more.end());
    return Value::None();
  }
  if (name == "pop") {
    Params p(name, {"index"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t i, p.Int(0, -1));
    const int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return InvalidArgument("pop(): index out of range");
    Value v = items[static_cast<size_t>(i)];
    items.erase(items.begin() + i);
    return v;
  }
  if (name == "insert") {
    Params p(name, {"index", "item"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t i, p.Int(0, 0));
    const int64_t n = static_cast<int64_t>(items.size());
    if (i < 0) i += n;
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(16));
    items.insert(items.begin() + std::clamp<int64_t>(i, 0, n), p[1] ? *p[1] : Value());
    return Value::None();
  }
  if (name == "index" || name == "count") {
    Params p(name, {"item"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    const Value target = p[0] ? *p[0] : Value();
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(16 * items.size()));
    int64_t count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(bool eq, Equals(items[i], target));
      if (eq && name == "index") return Value::Int(static_cast<int64_t>(i));
      count += eq ? 1 : 0;
    }
    if (name == "index") return InvalidArgument("index(): the item is not in the list");
    return Value::Int(count);
  }
  return NotFound("a 'list' has no method '" + std::string(name) + "'");
}

Result<Value> ObjectMethod(Runtime& rt, const Value& self, std::string_view name, CallArgs& args) {
  ObjectData* o = self.object();
  if (o->is_loop && name == "cycle") {
    if (args.positional.empty()) return InvalidArgument("loop.cycle() needs at least one value");
    const Value* index0 = o->Find("index0");
    const int64_t i = index0 && index0->is_int() ? index0->as_int() : 0;
    return args.positional[static_cast<size_t>(i) % args.positional.size()];
  }
  if (name == "items" || name == "keys" || name == "values") {
    Params p(name, {});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    std::vector<Value> out;
    for (const auto& [k, v] : o->items) {
      if (name == "keys") {
        out.push_back(Value::String(k));
      } else if (name == "values") {
        out.push_back(v);
      } else {
        MERIDIAN_ASSIGN_OR_RETURN(Value pair, rt.NewArray({Value::String(k), v}));
        out.push_back(std::move(pair));
      }
    }
    return rt.NewArray(std::move(out));
  }
  if (name == "get") {
    Params p(name, {"key", "default"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    if (p[0] && p[0]->is_string()) {
      if (const Value* v = o->Find(p[0]->str())) return *v;
    }
    return p[1] ? *p[1] : Value::None();
  }
  return NotFound("a '" + std::string(TypeName(self)) + "' has no method '" + std::string(name) + "'");
}

}  // namespace

Result<Value> CallMethod(Runtime& rt, const Value& self, std::string_view name, CallArgs& args) {
  if (self.is_string()) return StringMethod(rt, self.str(), name, args);
  if (self.is_array()) return ArrayMethod(rt, self.array(), name, args);
  if (self.is_object()) return ObjectMethod(rt, self, name, args);
  return NotFound("a '" + std::string(TypeName(self)) + "' has no method '" + std::string(name) + "'");
}

Result<Value> CallGlobal(Runtime& rt, std::string_view name, CallArgs& args) {
  if (name == "raise_exception") {
    Params p(name, {"message"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    std::string message = "the chat template raised an error";
    if (p[0]) {
      MERIDIAN_ASSIGN_OR_RETURN(message, rt.Str(*p[0]));
    }
    rt.set_raised();
    return InvalidArgument(std::move(message));
  }
  if (name == "range") {
    Params p(name, {"start", "stop", "step"});
    MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
    if (!p[0]) return InvalidArgument("range() needs at least one argument");
    MERIDIAN_ASSIGN_OR_RETURN(int64_t a, p.Int(0, 0));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t b, p.Int(1, 0));
    MERIDIAN_ASSIGN_OR_RETURN(int64_t step, p.Int(2, 1));
    if (!p[1]) std::swap(a, b);  // range(stop)
    if (step == 0) return InvalidArgument("range() step must not be zero");
    // Count without overflow: the span can exceed int64 when the ends have opposite signs.
    const long double span = step > 0 ? static_cast<long double>(b) - a : static_cast<long double>(a) - b;
    const long double count = span <= 0 ? 0
                                        : (span + (step > 0 ? step : -static_cast<long double>(step)) - 1) /
                                              (step > 0 ? step : -static_cast<long double>(step));
    if (count * 16 > static_cast<long double>(rt.work_left())) return rt.Charge(rt.work_left() + 1);
    std::vector<Value> items;
    const int64_t n = static_cast<int64_t>(count);
    items.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {  // unsigned: wraps instead of overflowing; the result fits
      items.push_back(Value::Int(static_cast<int64_t>(
          static_cast<uint64_t>(a) + static_cast<uint64_t>(i) * static_cast<uint64_t>(step))));
    }
    return rt.NewArray(std::move(items));
  }
  if (name == "namespace" || name == "dict") {
    Value obj = rt.NewObject();
    obj.object()->is_namespace = name == "namespace";
    for (const Value& init : args.positional) {
      if (!init.is_object())
        return InvalidArgument(std::string(name) + "() takes keyword arguments or a dict");
      for (const auto& [k, v] : init.object()->items) obj.object()->Set(k, v);
    }
    for (const auto& [k, v] : args.keyword) obj.object()->Set(k, v);
    return obj;
  }
  return NotFound("no function named '" + std::string(name) + "'");
}

}  // namespace meridian::engine::jinja
