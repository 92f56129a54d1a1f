// Jinja filters (`x | name(args)`) and tests (`x is name(args)`): the set Hugging Face chat
// templates use, with Jinja's argument names and Hugging Face's tojson.
#include "engine/chat/jinja_builtins.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <optional>

#include "engine/chat/jinja_call.h"

namespace meridian::engine::jinja {
namespace {

using FilterFn = Result<Value> (*)(Runtime&, const Value&, CallArgs&);
using TestFn = Result<bool> (*)(Runtime&, const Value&, CallArgs&);

//! Looks up "a.b.0" on `v` (dotted attributes, integer parts index lists); undefined if missing.
Result<Value> AttrPath(Runtime& rt, const Value& v, std::string_view path) {
  Value cur = v;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    const std::string_view part = path.substr(start, dot - start);
    if (cur.is_undefined()) return cur;
    const bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && part.size() < 18) {
      MERIDIAN_ASSIGN_OR_RETURN(cur, GetItem(rt, cur, Value::Int(std::stoll(std::string(part)))));
    } else {
      MERIDIAN_ASSIGN_OR_RETURN(cur, GetAttr(cur, part));
    }
    start = dot + 1;
  }
  return cur;
}

//! A stable ordering of `keys` (all numbers or all strings), as indices.
Result<std::vector<size_t>> SortOrder(const std::vector<Value>& keys, bool reverse) {
  bool all_numbers = true, all_strings = true, any_float = false;
  for (const Value& k : keys) {
    all_numbers = all_numbers && k.is_number();
    all_strings = all_strings && k.is_string();
    any_float = any_float || k.is_float();
  }
  if (!keys.empty() && !all_numbers && !all_strings) {
    return InvalidArgument("can only sort values that are all numbers or all strings");
  }
  std::vector<size_t> order(keys.size());
  std::iota(order.begin(), order.end(), 0);
  auto less = [&](size_t a, size_t b) {
    const Value& x = keys[a];
    const Value& y = keys[b];
    if (all_strings) return x.str() < y.str();
    if (!any_float) return x.integer() < y.integer();
    const double dx = x.number(), dy = y.number();
    if (std::isnan(dx) || std::isnan(dy)) return !std::isnan(dx) && std::isnan(dy);  // NaN last
    return dx < dy;
  };
  if (reverse) {
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return less(b, a); });
  } else {
    std::stable_sort(order.begin(), order.end(), less);
  }
  return order;
}

//! The key a value sorts or compares by: an attribute of it, lowercased unless case-sensitive.
Result<Value> KeyOf(Runtime& rt, const Value& v, const Value* attribute, bool case_sensitive) {
  Value key = v;
  if (attribute && attribute->is_string()) {
    MERIDIAN_ASSIGN_OR_RETURN(key, AttrPath(rt, v, attribute->str()));
  }
  if (!case_sensitive && key.is_string()) return Value::String(AsciiLower(key.str()));
  return key;
}

Result<Value> FAbs(Runtime&, const Value& v, CallArgs&) {
  if (v.is_float()) return Value::Float(std::fabs(v.as_float()));
  if (!v.is_number()) return InvalidArgument("abs needs a number, not '" + std::string(TypeName(v)) + "'");
  if (v.integer() == INT64_MIN) return InvalidArgument("integer overflow in abs");
  return Value::Int(std::abs(v.integer()));
}

Result<Value> FAttr(Runtime&, const Value& v, CallArgs& args) {
  Params p("attr", {"name"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::string name, p.Str(0, ""));
  return GetAttr(v, name);
}

Result<Value> FString(Runtime& rt, const Value& v, CallArgs&) {
  if (v.is_string()) return v;
  MERIDIAN_ASSIGN_OR_RETURN(std::string s, rt.Str(v));
  return rt.NewString(std::move(s));
}

//! upper, lower, capitalize, title, trim, escape share "convert to text, transform".
template <int kOp>
Result<Value> FText(Runtime& rt, const Value& v, CallArgs& args) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string s, rt.Str(v));
  switch (kOp) {
    case 0: return rt.NewString(AsciiUpper(s));
    case 1: return rt.NewString(AsciiLower(s));
    case 2: return rt.NewString(Capitalize(s));
    case 3: return rt.NewString(Title(s));
    case 4: {
      Params p("trim", {"chars"});
      MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
      if (p[0] && p[0]->is_string()) return rt.NewString(std::string(StripChars(s, p[0]->str(), true, true)));
      return rt.NewString(std::string(StripChars(s, std::nullopt, true, true)));
    }
    default: {
      std::string out;
      for (char c : s) {
        switch (c) {
          case '&': out += "&amp;"; break;
          case '<': out += "&lt;"; break;
          case '>': out += "&gt;"; break;
          case '"': out += "&#34;"; break;
          case '\'': out += "&#39;"; break;
          default: out += c;
        }
      }
      return rt.NewString(std::move(out));
    }
  }
}

Result<Value> FDefault(Runtime&, const Value& v, CallArgs& args) {
  Params p("default", {"default_value", "boolean"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  const bool use_default = v.is_undefined() || (p.Bool(1, false) && !IsTruthy(v));
  if (!use_default) return v;
  return p[0] ? *p[0] : Value::String("");
}

Result<Value> FLength(Runtime& rt, const Value& v, CallArgs&) {
  if (v.is_string()) {
    MERIDIAN_RETURN_IF_ERROR(rt.Scan(v.str().size()));
    return Value::Int(static_cast<int64_t>(CharCount(v.str())));
  }
  if (v.is_array()) return Value::Int(static_cast<int64_t>(v.array()->items.size()));
  if (v.is_object()) return Value::Int(static_cast<int64_t>(v.object()->items.size()));
  if (v.is_undefined()) return Value::Int(0);
  return InvalidArgument("a '" + std::string(TypeName(v)) + "' has no length");
}

template <bool kFirst>
Result<Value> FFirstLast(Runtime& rt, const Value& v, CallArgs&) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  if (items.empty())
    return Value::Undefined(kFirst ? "first of an empty sequence" : "last of an empty sequence");
  return kFirst ? items.front() : items.back();
}

Result<Value> FList(Runtime& rt, const Value& v, CallArgs&) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  return rt.NewArray(std::move(items));
}

Result<Value> FReverse(Runtime& rt, const Value& v, CallArgs&) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  std::reverse(items.begin(), items.end());
  if (!v.is_string()) return rt.NewArray(std::move(items));
  std::string out;
  for (const Value& c : items) out += c.str();
  return Value::String(std::move(out));
}

Result<Value> FItems(Runtime& rt, const Value& v, CallArgs& args) {
  if (v.is_undefined()) return rt.NewArray({});
  if (!v.is_object()) return InvalidArgument("items needs a dict, not '" + std::string(TypeName(v)) + "'");
  return CallMethod(rt, v, "items", args);
}

Result<Value> FDictsort(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("dictsort", {"case_sensitive", "by", "reverse"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  if (!v.is_object()) return InvalidArgument("dictsort needs a dict, not '" + std::string(TypeName(v)) + "'");
  MERIDIAN_ASSIGN_OR_RETURN(std::string by, p.Str(1, "key"));
  if (by != "key" && by != "value") return InvalidArgument("dictsort: 'by' must be 'key' or 'value'");
  std::vector<Value> keys, pairs;
  for (const auto& [k, item] : v.object()->items) {
    MERIDIAN_ASSIGN_OR_RETURN(Value key,
                              KeyOf(rt, by == "key" ? Value::String(k) : item, nullptr, p.Bool(0, false)));
    keys.push_back(std::move(key));
    MERIDIAN_ASSIGN_OR_RETURN(Value pair, rt.NewArray({Value::String(k), item}));
    pairs.push_back(std::move(pair));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<size_t> order, SortOrder(keys, p.Bool(2, false)));
  std::vector<Value> sorted;
  for (size_t i : order) sorted.push_back(pairs[i]);
  return rt.NewArray(std::move(sorted));
}

Result<Value> FSort(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("sort", {"reverse", "case_sensitive", "attribute"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  std::vector<Value> keys;
  for (const Value& item : items) {
    MERIDIAN_ASSIGN_OR_RETURN(Value key, KeyOf(rt, item, p[2], p.Bool(1, false)));
    keys.push_back(std::move(key));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<size_t> order, SortOrder(keys, p.Bool(0, false)));
  std::vector<Value> sorted;
  for (size_t i : order) sorted.push_back(items[i]);
  return rt.NewArray(std::move(sorted));
}

Result<Value> FUnique(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("unique", {"case_sensitive", "attribute"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  std::vector<Value> out, seen;
  for (const Value& item : items) {
    MERIDIAN_ASSIGN_OR_RETURN(Value key, KeyOf(rt, item, p[1], p.Bool(0, false)));
    bool dup = false;
    for (const Value& s : seen) {
      MERIDIAN_RETURN_IF_ERROR(rt.Step());
      MERIDIAN_ASSIGN_OR_RETURN(dup, Equals(s, key));
      if (dup) break;
    }
    if (!dup) {
      seen.push_back(std::move(key));
      out.push_back(item);
    }
  }
  return rt.NewArray(std::move(out));
}

template <bool kMax>
Result<Value> FMinMax(Runtime& rt, const Value& v, CallArgs& args) {
  Params p(kMax ? "max" : "min", {"case_sensitive", "attribute"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  if (items.empty()) return Value::Undefined("no items to take the min or max of");
  size_t best = 0;
  MERIDIAN_ASSIGN_OR_RETURN(Value best_key, KeyOf(rt, items[0], p[1], p.Bool(0, false)));
  for (size_t i = 1; i < items.size(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(Value key, KeyOf(rt, items[i], p[1], p.Bool(0, false)));
    MERIDIAN_ASSIGN_OR_RETURN(int c, Compare(key, best_key));
    if (kMax ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}

Result<Value> FSum(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("sum", {"attribute", "start"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  Value total = p[1] ? *p[1] : Value::Int(0);
  for (const Value& item : items) {
    MERIDIAN_ASSIGN_OR_RETURN(Value x, KeyOf(rt, item, p[0], true));
    if (!x.is_number() || !total.is_number()) return InvalidArgument("sum needs numbers");
    if (x.is_float() || total.is_float()) {
      total = Value::Float(total.number() + x.number());
    } else {
      int64_t out;
      if (__builtin_add_overflow(total.integer(), x.integer(), &out))
        return InvalidArgument("integer overflow in sum");
      total = Value::Int(out);
    }
  }
  return total;
}

Result<Value> FJoin(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("join", {"d", "attribute"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::string sep, p.Str(0, ""));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    MERIDIAN_ASSIGN_OR_RETURN(Value item, KeyOf(rt, items[i], p[1], true));
    MERIDIAN_ASSIGN_OR_RETURN(std::string part, rt.Str(item));
    MERIDIAN_RETURN_IF_ERROR(rt.Charge(part.size() + (i ? sep.size() : 0)));
    if (i) out += sep;
    out += part;
  }
  return Value::String(std::move(out));
}

Result<Value> FReplace(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("replace", {"old", "new", "count"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(std::string s, rt.Str(v));
  MERIDIAN_ASSIGN_OR_RETURN(std::string from, p.Str(0, ""));
  MERIDIAN_ASSIGN_OR_RETURN(std::string to, p.Str(1, ""));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t count, p.Int(2, -1));
  MERIDIAN_ASSIGN_OR_RETURN(std::string out, ReplaceString(rt, s, from, to, count));
  return Value::String(std::move(out));
}

//! Parses a whole string (after trimming) as an integer or a float, like Python's int()/float().
std::optional<Value> ParseNumber(std::string_view text) {
  std::string_view s = StripChars(text, std::nullopt, true, true);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  int64_t i = 0;
  auto ri = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ri.ec == std::errc() && ri.ptr == s.data() + s.size()) return Value::Int(i);
  double d = 0.0;
  auto rd = std::from_chars(s.data(), s.data() + s.size(), d);
  if (rd.ec == std::errc() && rd.ptr == s.data() + s.size()) return Value::Float(d);
  return std::nullopt;
}

Result<Value> FInt(Runtime&, const Value& v, CallArgs& args) {
  Params p("int", {"default", "base"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t def, p.Int(0, 0));
  Value x = v;
  if (v.is_string()) x = ParseNumber(v.str()).value_or(Value::Int(def));
  if (x.is_number() && !x.is_float()) return Value::Int(x.integer());
  if (x.is_float() && std::isfinite(x.as_float()) && std::fabs(x.as_float()) < 9.2e18) {
    return Value::Int(static_cast<int64_t>(x.as_float()));
  }
  return Value::Int(def);
}

Result<Value> FFloat(Runtime&, const Value& v, CallArgs& args) {
  Params p("float", {"default"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  const Value def = p[0] ? *p[0] : Value::Float(0.0);
  if (v.is_number()) return Value::Float(v.number());
  if (!v.is_string()) return def;
  std::optional<Value> x = ParseNumber(v.str());
  return x ? Value::Float(x->number()) : def;
}

Result<Value> FRound(Runtime&, const Value& v, CallArgs& args) {
  Params p("round", {"precision", "method"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  if (!v.is_number()) return InvalidArgument("round needs a number");
  MERIDIAN_ASSIGN_OR_RETURN(int64_t precision, p.Int(0, 0));
  MERIDIAN_ASSIGN_OR_RETURN(std::string method, p.Str(1, "common"));
  const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
  const double x = v.number() * scale;
  double r;
  if (method == "common") {
    r = std::nearbyint(x);  // ties to even, like Python's round()
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    return InvalidArgument("round: method must be 'common', 'ceil' or 'floor'");
  }
  return Value::Float(r / scale);
}

Result<Value> FIndent(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("indent", {"width", "first", "blank"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  std::string pad;
  if (p[0] && p[0]->is_string()) {
    pad = p[0]->str();
  } else {
    MERIDIAN_ASSIGN_OR_RETURN(int64_t width, p.Int(0, 4));
    if (width > 1024) return InvalidArgument("indent: width over 1024");
    pad.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string s, rt.Str(v));
  std::vector<std::string> lines;
  s += '\n';  // Jinja's quirk: a trailing newline survives splitlines()
  size_t start = 0;
  while (start < s.size()) {
    const size_t nl = s.find('\n', start);
    lines.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += '\n';
    const bool indent = i == 0 ? p.Bool(1, false) : (p.Bool(2, false) || !lines[i].empty());
    if (indent) out += pad;
    out += lines[i];
    if (out.size() > rt.work_left()) return rt.Charge(out.size());
  }
  return rt.NewString(std::move(out));
}

Result<Value> FWordcount(Runtime& rt, const Value& v, CallArgs&) {
  MERIDIAN_ASSIGN_OR_RETURN(std::string s, rt.Str(v));
  int64_t words = 0;
  bool in_word = false;
  for (char c : s) {
    const bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                   static_cast<unsigned char>(c) >= 0x80;
    if (w && !in_word) ++words;
    in_word = w;
  }
  return Value::Int(words);
}

Result<Value> FToJson(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("tojson", {"indent", "ensure_ascii", "separators", "sort_keys"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  JsonStyle style;
  if (p[0] && !p[0]->is_none() && !p[0]->is_undefined()) {
    style.indent_enabled = true;
    if (p[0]->is_string()) {
      style.indent = p[0]->str();
    } else {
      MERIDIAN_ASSIGN_OR_RETURN(int64_t n, p.Int(0, 0));
      if (n > 1024) return InvalidArgument("tojson: indent over 1024");
      style.indent.assign(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
    }
    style.item_separator = ",";
  }
  style.ensure_ascii = p.Bool(1, false);
  style.sort_keys = p.Bool(3, false);
  if (p[2] && !p[2]->is_none()) {
    const Value& seps = *p[2];
    if (!seps.is_array() || seps.array()->items.size() != 2 || !seps.array()->items[0].is_string() ||
        !seps.array()->items[1].is_string()) {
      return InvalidArgument("tojson: separators must be a pair of strings");
    }
    style.item_separator = seps.array()->items[0].str();
    style.key_separator = seps.array()->items[1].str();
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string json, ToJson(v, style, rt.work_left()));
  return rt.NewString(std::move(json));
}

Result<Value> FMap(Runtime& rt, const Value& v, CallArgs& args) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  const Value* attribute = nullptr;
  const Value* def = nullptr;
  for (const auto& [k, val] : args.keyword) {
    if (k == "attribute") attribute = &val;
    if (k == "default") def = &val;
  }
  std::vector<Value> out;
  if (attribute) {
    if (!attribute->is_string()) return InvalidArgument("map: attribute must be a string");
    for (const Value& item : items) {
      MERIDIAN_ASSIGN_OR_RETURN(Value x, AttrPath(rt, item, attribute->str()));
      out.push_back(x.is_undefined() && def ? *def : std::move(x));
    }
    return rt.NewArray(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) {
    return InvalidArgument("map needs a filter name or attribute=...");
  }
  const std::string filter = args.positional[0].str();
  if (!IsKnownFilter(filter)) return InvalidArgument("map: unknown filter '" + filter + "'");
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    CallArgs call = rest;
    MERIDIAN_ASSIGN_OR_RETURN(Value x, ApplyFilter(rt, filter, item, call));
    out.push_back(std::move(x));
  }
  return rt.NewArray(std::move(out));
}

//! select, reject, selectattr, rejectattr.
template <bool kSelect, bool kAttr>
Result<Value> FSelect(Runtime& rt, const Value& v, CallArgs& args) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(rt, v));
  size_t next = 0;
  std::string attribute;
  if (kAttr) {
    if (args.positional.empty() || !args.positional[0].is_string()) {
      return InvalidArgument("selectattr/rejectattr need an attribute name");
    }
    attribute = args.positional[next++].str();
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) return InvalidArgument("select: the test name must be a string");
    test = args.positional[next++].str();
    if (!IsKnownTest(test)) return InvalidArgument("select: unknown test '" + test + "'");
  }
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
  rest.keyword = args.keyword;
  std::vector<Value> out;
  for (const Value& item : items) {
    Value subject = item;
    if (kAttr) {
      MERIDIAN_ASSIGN_OR_RETURN(subject, AttrPath(rt, item, attribute));
    }
    bool pass;
    if (test.empty()) {
      pass = IsTruthy(subject);
    } else {
      CallArgs call = rest;
      MERIDIAN_ASSIGN_OR_RETURN(pass, ApplyTest(rt, test, subject, call));
    }
    if (pass == kSelect) out.push_back(item);
  }
  return rt.NewArray(std::move(out));
}

Result<Value> FIdentity(Runtime&, const Value& v, CallArgs&) {
  return v;
}

struct FilterEntry {
  std::string_view name;
  FilterFn fn;
};
constexpr FilterEntry kFilters[] = {
    {"abs", FAbs},
    {"attr", FAttr},
    {"capitalize", FText<2>},
    {"count", FLength},
    {"d", FDefault},
    {"default", FDefault},
    {"dictsort", FDictsort},
    {"e", FText<5>},
    {"escape", FText<5>},
    {"first", FFirstLast<true>},
    {"float", FFloat},
    {"indent", FIndent},
    {"int", FInt},
    {"items", FItems},
    {"join", FJoin},
    {"last", FFirstLast<false>},
    {"length", FLength},
    {"list", FList},
    {"lower", FText<1>},
    {"map", FMap},
    {"max", FMinMax<true>},
    {"min", FMinMax<false>},
    {"reject", FSelect<false, false>},
    {"rejectattr", FSelect<false, true>},
    {"replace", FReplace},
    {"reverse", FReverse},
    {"round", FRound},
    {"safe", FIdentity},
    {"select", FSelect<true, false>},
    {"selectattr", FSelect<true, true>},
    {"sort", FSort},
    {"string", FString},
    {"sum", FSum},
    {"title", FText<3>},
    {"tojson", FToJson},
    {"trim", FText<4>},
    {"unique", FUnique},
    {"upper", FText<0>},
    {"wordcount", FWordcount},
};

// ---- tests ----

template <Value::Kind kKind>
Result<bool> TKind(Runtime&, const Value& v, CallArgs&) {
  return v.kind() == kKind;
}
Result<bool> TDefined(Runtime&, const Value& v, CallArgs&) {
  return !v.is_undefined();
}
Result<bool> TUndefined(Runtime&, const Value& v, CallArgs&) {
  return v.is_undefined();
}
Result<bool> TTrue(Runtime&, const Value& v, CallArgs&) {
  return v.is_bool() && v.as_bool();
}
Result<bool> TFalse(Runtime&, const Value& v, CallArgs&) {
  return v.is_bool() && !v.as_bool();
}
Result<bool> TNumber(Runtime&, const Value& v, CallArgs&) {
  return v.is_number();
}
Result<bool> TMapping(Runtime&, const Value& v, CallArgs&) {
  return v.is_object() && !v.object()->is_namespace && !v.object()->is_loop;
}
Result<bool> TIterable(Runtime&, const Value& v, CallArgs&) {
  return v.is_array() || v.is_object() || v.is_string() || v.is_undefined();
}
Result<bool> TSequence(Runtime&, const Value& v, CallArgs&) {
  return v.is_array() || v.is_object() || v.is_string();
}
Result<bool> TLower(Runtime&, const Value& v, CallArgs&) {
  return v.is_string() && AsciiLower(v.str()) == v.str();
}
Result<bool> TUpper(Runtime&, const Value& v, CallArgs&) {
  return v.is_string() && AsciiUpper(v.str()) == v.str();
}

Result<int64_t> IntSubject(const Value& v, std::string_view test) {
  if (v.is_number() && !v.is_float()) return v.integer();
  if (v.is_float() && std::floor(v.as_float()) == v.as_float() && std::fabs(v.as_float()) < 9e18) {
    return static_cast<int64_t>(v.as_float());
  }
  return InvalidArgument("'" + std::string(test) + "' needs an integer, not '" + std::string(TypeName(v)) +
                         "'");
}

template <int kParity>
Result<bool> TParity(Runtime&, const Value& v, CallArgs&) {
  MERIDIAN_ASSIGN_OR_RETURN(int64_t i, IntSubject(v, kParity ? "odd" : "even"));
  return (i % 2 != 0) == (kParity == 1);
}

Result<bool> TDivisibleBy(Runtime&, const Value& v, CallArgs& args) {
  Params p("divisibleby", {"num"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t i, IntSubject(v, "divisibleby"));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t n, p.Int(0, 0));
  if (n == 0) return InvalidArgument("divisibleby 0");
  if (n == -1) return true;
  return i % n == 0;
}

//! eq, ne, lt, le, gt, ge and their aliases.
template <int kOp>
Result<bool> TCompare(Runtime&, const Value& v, CallArgs& args) {
  Params p("comparison test", {"other"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  const Value other = p[0] ? *p[0] : Value();
  if (kOp == 0 || kOp == 1) {
    MERIDIAN_ASSIGN_OR_RETURN(bool eq, Equals(v, other));
    return eq == (kOp == 0);
  }
  MERIDIAN_ASSIGN_OR_RETURN(int c, Compare(v, other));
  return kOp == 2 ? c < 0 : kOp == 3 ? c <= 0 : kOp == 4 ? c > 0 : c >= 0;
}

Result<bool> TIn(Runtime& rt, const Value& v, CallArgs& args) {
  Params p("in", {"seq"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  return Contains(rt, p[0] ? *p[0] : Value(), v);
}

Result<bool> TSameAs(Runtime&, const Value& v, CallArgs& args) {
  Params p("sameas", {"other"});
  MERIDIAN_RETURN_IF_ERROR(p.Bind(args));
  const Value other = p[0] ? *p[0] : Value();
  if (v.kind() != other.kind()) return false;
  if (v.is_array()) return v.array() == other.array();
  if (v.is_object()) return v.object() == other.object();
  return Equals(v, other);
}

struct TestEntry {
  std::string_view name;
  TestFn fn;
};
constexpr TestEntry kTests[] = {
    {"!=", TCompare<1>},
    {"<", TCompare<2>},
    {"<=", TCompare<3>},
    {"==", TCompare<0>},
    {">", TCompare<4>},
    {">=", TCompare<5>},
    {"boolean", TKind<Value::Kind::kBool>},
    {"callable", TKind<Value::Kind::kMacro>},
    {"defined", TDefined},
    {"divisibleby", TDivisibleBy},
    {"eq", TCompare<0>},
    {"equalto", TCompare<0>},
    {"even", TParity<0>},
    {"false", TFalse},
    {"float", TKind<Value::Kind::kFloat>},
    {"ge", TCompare<5>},
    {"greaterthan", TCompare<4>},
    {"gt", TCompare<4>},
    {"in", TIn},
    {"integer", TKind<Value::Kind::kInt>},
    {"iterable", TIterable},
    {"le", TCompare<3>},
    {"lessthan", TCompare<2>},
    {"lower", TLower},
    {"lt", TCompare<2>},
    {"mapping", TMapping},
    {"ne", TCompare<1>},
    {"none", TKind<Value::Kind::kNone>},
    {"number", TNumber},
    {"odd", TParity<1>},
    {"sameas", TSameAs},
    {"sequence", TSequence},
    {"string", TKind<Value::Kind::kString>},
    {"true", TTrue},
    {"undefined", TUndefined},
    {"upper", TUpper},
};

template <typename Entry, size_t N>
const Entry* Lookup(const Entry (&table)[N], std::string_view name) {
  for (const Entry& e : table) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

}  // namespace

bool IsKnownFilter(std::string_view name) {
  return Lookup(kFilters, name) != nullptr;
}
bool IsKnownTest(std::string_view name) {
  return Lookup(kTests, name) != nullptr;
}

Result<Value> ApplyFilter(Runtime& rt, std::string_view name, const Value& input, CallArgs& args) {
  const FilterEntry* f = Lookup(kFilters, name);
  if (!f) return InvalidArgument("unknown filter '" + std::string(name) + "'");
  Result<Value> r = f->fn(rt, input, args);
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument) {
    return InvalidArgument("filter '" + std::string(name) + "': " + r.status().message());
  }
  return r;
}

Result<bool> ApplyTest(Runtime& rt, std::string_view name, const Value& input, CallArgs& args) {
  const TestEntry* t = Lookup(kTests, name);
  if (!t) return InvalidArgument("unknown test '" + std::string(name) + "'");
  return t->fn(rt, input, args);
}

}  // namespace meridian::engine::jinja
