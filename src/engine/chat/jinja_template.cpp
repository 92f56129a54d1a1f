// Jinja renderer: walks the syntax tree with Jinja's scoping (for loops and macros open a
// scope; namespace() objects carry values out of loops), counting steps, depth and bytes so
// that any template finishes or fails quickly.
#include "engine/chat/jinja_template.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/chat/jinja_builtins.h"

namespace meridian::engine::jinja {
namespace {

using Scope = std::vector<std::pair<std::string, Value>>;

template <typename Json>
Result<Value> FromJson(Runtime& rt, const Json& j, int depth) {
  if (depth > kMaxValueDepth) return InvalidArgument("the template context is nested too deeply");
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::None();
    case nlohmann::json::value_t::boolean: return Value::Bool(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::Int(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Value::Float(static_cast<double>(u));
      }
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value::Float(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::String(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) {
        MERIDIAN_ASSIGN_OR_RETURN(Value v, FromJson(rt, item, depth + 1));
        items.push_back(std::move(v));
      }
      return rt.NewArray(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value obj = rt.NewObject();
      for (auto it = j.begin(); it != j.end(); ++it) {
        MERIDIAN_ASSIGN_OR_RETURN(Value v, FromJson(rt, it.value(), depth + 1));
        obj.object()->Set(it.key(), std::move(v));
      }
      return obj;
    }
    default: return Value::None();  // binary and discarded values have no template meaning
  }
}

class Renderer {
 public:
  explicit Renderer(const TemplateLimits& limits) : rt_(limits) {}

  template <typename Json>
  Result<std::string> Run(const Body& body, const Json& context) {
    if (!context.is_object()) return InvalidArgument("the template context must be a JSON object");
    scopes_.emplace_back();  // globals
    for (auto it = context.begin(); it != context.end(); ++it) {
      MERIDIAN_ASSIGN_OR_RETURN(Value v, FromJson(rt_, it.value(), 0));
      scopes_[0].emplace_back(it.key(), std::move(v));
    }
    scopes_.emplace_back();  // the template's own top-level variables
    std::string out;
    out_ = &out;
    MERIDIAN_RETURN_IF_ERROR(ExecBody(body));
    return out;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  //! Bounds evaluation recursion (macro recursion included).
  class Depth {
   public:
    explicit Depth(Renderer* r) : r_(r) { ++r_->depth_; }
    ~Depth() { --r_->depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;
    bool exceeded() const { return r_->depth_ > r_->rt_.limits().max_render_depth; }

   private:
    Renderer* r_;
  };

  //! Adds the line to an error raised at this node (raise_exception messages stay as written).
  Status At(int line, const Status& s) const {
    if (s.ok() || rt_.raised() || s.message().rfind("template ", 0) == 0) return s;
    return Status(s.code(), "template error (line " + std::to_string(line) + "): " + s.message());
  }
  Status Error(int line, const std::string& message) const { return At(line, InvalidArgument(message)); }
  Status Enter(const Depth& d, int line) {
    if (d.exceeded()) {
      return At(line, ResourceExhausted("rendering recursed more than " +
                                        std::to_string(rt_.limits().max_render_depth) +
                                        " levels deep (runaway macro recursion?)"));
    }
    return At(line, rt_.Step());
  }

  const Value* Find(std::string_view name) const {
    for (size_t i = scopes_.size(); i-- > floor_;) {
      for (const auto& [k, v] : scopes_[i]) {
        if (k == name) return &v;
      }
    }
    for (size_t i = std::min<size_t>(floor_, 2); i-- > 0;) {
      for (const auto& [k, v] : scopes_[i]) {
        if (k == name) return &v;
      }
    }
    return nullptr;
  }
  void Assign(const std::string& name, Value v) {
    for (auto& [k, old] : scopes_.back()) {
      if (k == name) {
        old = std::move(v);
        return;
      }
    }
    scopes_.back().emplace_back(name, std::move(v));
  }

  Status Emit(int line, std::string_view text) {
    if (out_->size() + text.size() > rt_.limits().max_output_bytes) {
      return At(line, ResourceExhausted("the rendered text exceeds the output limit of " +
                                        std::to_string(rt_.limits().max_output_bytes) + " bytes"));
    }
    MERIDIAN_RETURN_IF_ERROR(At(line, rt_.Charge(text.size())));
    out_->append(text);
    return Status::Ok();
  }

  Result<std::string> Capture(const Body& body) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    Status st = ExecBody(body);
    out_ = saved;
    if (!st.ok()) return st;
    return buffer;
  }

  Status ExecBody(const Body& body) {
    for (const StmtPtr& s : body) {
      MERIDIAN_RETURN_IF_ERROR(Exec(*s));
      if (flow_ != Flow::kNormal) break;
    }
    return Status::Ok();
  }

  Status Exec(const Stmt& s) {
    Depth depth(this);
    MERIDIAN_RETURN_IF_ERROR(Enter(depth, s.line));
    switch (s.kind) {
      case Stmt::Kind::kText: return Emit(s.line, s.text);
      case Stmt::Kind::kOutput: {
        MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
        if (v.is_string()) return Emit(s.line, v.str());
        Result<std::string> text = rt_.Str(v);
        if (!text.ok()) return At(s.line, text.status());
        return Emit(s.line, *text);
      }
      case Stmt::Kind::kIf:
        for (size_t i = 0; i < s.conds.size(); ++i) {
          MERIDIAN_ASSIGN_OR_RETURN(Value c, Eval(*s.conds[i]));
          if (IsTruthy(c)) return ExecBody(s.bodies[i]);
        }
        return ExecBody(s.else_body);
      case Stmt::Kind::kFor: return ExecFor(s);
      case Stmt::Kind::kSet: return ExecSet(s);
      case Stmt::Kind::kSetBlock: {
        MERIDIAN_ASSIGN_OR_RETURN(std::string text, Capture(s.bodies[0]));
        Assign(s.targets[0], Value::String(std::move(text)));
        return Status::Ok();
      }
      case Stmt::Kind::kMacro: Assign(s.name, Value::Macro(&s)); return Status::Ok();
      case Stmt::Kind::kFilterBlock: {
        MERIDIAN_ASSIGN_OR_RETURN(std::string text, Capture(s.bodies[0]));
        const Value saved = filter_input_;
        filter_input_ = Value::String(std::move(text));
        Result<Value> v = Eval(*s.expr);
        filter_input_ = saved;
        if (!v.ok()) return v.status();
        Result<std::string> str = rt_.Str(*v);
        if (!str.ok()) return At(s.line, str.status());
        return Emit(s.line, *str);
      }
      case Stmt::Kind::kBreak: flow_ = Flow::kBreak; return Status::Ok();
      case Stmt::Kind::kContinue: flow_ = Flow::kContinue; return Status::Ok();
    }
    return Status::Ok();
  }

  Status Bind(const Stmt& s, const Value& item) {
    if (s.targets.size() == 1) {
      Assign(s.targets[0], item);
      return Status::Ok();
    }
    if (!item.is_array() || item.array()->items.size() != s.targets.size()) {
      return Error(s.line, "cannot unpack a '" + std::string(TypeName(item)) + "' into " +
                               std::to_string(s.targets.size()) + " names");
    }
    for (size_t i = 0; i < s.targets.size(); ++i) Assign(s.targets[i], item.array()->items[i]);
    return Status::Ok();
  }

  Status ExecSet(const Stmt& s) {
    MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
    if (!s.attr.empty()) {
      const Value* target = Find(s.targets[0]);
      if (!target || !target->is_object() || !target->object()->is_namespace) {
        return Error(s.line, "cannot set '" + s.targets[0] + "." + s.attr +
                                 "': only namespace() objects accept attribute assignment");
      }
      target->object()->Set(s.attr, std::move(v));
      return Status::Ok();
    }
    return Bind(s, v);
  }

  Status ExecFor(const Stmt& s) {
    MERIDIAN_ASSIGN_OR_RETURN(Value iterable, Eval(*s.expr));
    Result<std::vector<Value>> listed = Iterate(rt_, iterable);
    if (!listed.ok()) return At(s.line, listed.status());
    std::vector<Value> items = std::move(listed).value();
    scopes_.emplace_back();
    Status st = RunLoop(s, items);
    scopes_.pop_back();
    MERIDIAN_RETURN_IF_ERROR(st);
    if (items.empty()) return ExecBody(s.else_body);
    return Status::Ok();
  }

  //! Runs the loop body in the (already pushed) loop scope; filters `items` in place first.
  Status RunLoop(const Stmt& s, std::vector<Value>& items) {
    if (!s.conds.empty()) {
      size_t kept = 0;
      for (Value& item : items) {
        MERIDIAN_RETURN_IF_ERROR(At(s.line, rt_.Step()));
        MERIDIAN_RETURN_IF_ERROR(Bind(s, item));
        MERIDIAN_ASSIGN_OR_RETURN(Value c, Eval(*s.conds[0]));
        if (IsTruthy(c)) items[kept++] = std::move(item);
      }
      items.resize(kept);
    }
    Value loop = rt_.NewObject();
    loop.object()->is_loop = true;
    Assign("loop", loop);
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      MERIDIAN_RETURN_IF_ERROR(At(s.line, rt_.Step()));
      MERIDIAN_RETURN_IF_ERROR(Bind(s, items[static_cast<size_t>(i)]));
      ObjectData* l = loop.object();
      l->Set("index0", Value::Int(i));
      l->Set("index", Value::Int(i + 1));
      l->Set("revindex", Value::Int(n - i));
      l->Set("revindex0", Value::Int(n - i - 1));
      l->Set("first", Value::Bool(i == 0));
      l->Set("last", Value::Bool(i == n - 1));
      l->Set("length", Value::Int(n));
      l->Set("depth", Value::Int(1));
      l->Set("depth0", Value::Int(0));
      l->Set("previtem",
             i > 0 ? items[static_cast<size_t>(i - 1)] : Value::Undefined("there is no previous item"));
      l->Set("nextitem",
             i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::Undefined("there is no next item"));
      MERIDIAN_RETURN_IF_ERROR(ExecBody(s.bodies[0]));
      if (flow_ == Flow::kBreak) {
        flow_ = Flow::kNormal;
        break;
      }
      flow_ = Flow::kNormal;
    }
    return Status::Ok();
  }

  Result<CallArgs> EvalArgs(const Expr& e, size_t first) {
    CallArgs args;
    for (size_t i = first; i < e.args.size(); ++i) {
      MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
      args.positional.push_back(std::move(v));
    }
    for (const auto& [key, expr] : e.kwargs) {
      MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*expr));
      args.keyword.emplace_back(key, std::move(v));
    }
    return args;
  }

  Result<Value> Eval(const Expr& e) {
    Depth depth(this);
    MERIDIAN_RETURN_IF_ERROR(Enter(depth, e.line));
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.literal;
      case Expr::Kind::kName: {
        const Value* v = Find(e.name);
        return v ? *v : Value::Undefined("'" + e.name + "' is undefined");
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        std::vector<Value> items;
        for (const ExprPtr& a : e.args) {
          MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*a));
          items.push_back(std::move(v));
        }
        return Located(e, rt_.NewArray(std::move(items)));
      }
      case Expr::Kind::kDict: return EvalDict(e);
      case Expr::Kind::kGetAttr: {
        MERIDIAN_ASSIGN_OR_RETURN(Value base, Eval(*e.args[0]));
        return Located(e, GetAttr(base, e.name));
      }
      case Expr::Kind::kGetItem: {
        MERIDIAN_ASSIGN_OR_RETURN(Value base, Eval(*e.args[0]));
        MERIDIAN_ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
        return Located(e, GetItem(rt_, base, key));
      }
      case Expr::Kind::kSlice: {
        Value parts[4];
        for (size_t i = 0; i < 4; ++i) {
          if (!e.args[i]) continue;
          MERIDIAN_ASSIGN_OR_RETURN(parts[i], Eval(*e.args[i]));
        }
        return Located(e, Slice(rt_, parts[0], parts[1], parts[2], parts[3]));
      }
      case Expr::Kind::kCall: return EvalCall(e);
      case Expr::Kind::kFilter: {
        Value input = filter_input_;
        if (e.args[0]) {
          MERIDIAN_ASSIGN_OR_RETURN(input, Eval(*e.args[0]));
        }
        MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        return Located(e, ApplyFilter(rt_, e.name, input, args));
      }
      case Expr::Kind::kTest: {
        MERIDIAN_ASSIGN_OR_RETURN(Value input, Eval(*e.args[0]));
        MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        Result<bool> r = ApplyTest(rt_, e.name, input, args);
        if (!r.ok()) return At(e.line, r.status());
        return Value::Bool(*r != e.negated);
      }
      case Expr::Kind::kUnary: return EvalUnary(e);
      case Expr::Kind::kBinary: return EvalBinary(e);
      case Expr::Kind::kConcat: {
        std::string out;
        for (const ExprPtr& a : e.args) {
          MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*a));
          Result<std::string> s = rt_.Str(v);
          if (!s.ok()) return At(e.line, s.status());
          MERIDIAN_RETURN_IF_ERROR(At(e.line, rt_.Charge(s->size())));
          out += *s;
        }
        return Value::String(std::move(out));
      }
      case Expr::Kind::kCond: {
        MERIDIAN_ASSIGN_OR_RETURN(Value c, Eval(*e.args[1]));
        if (IsTruthy(c)) return Eval(*e.args[0]);
        if (e.args[2]) return Eval(*e.args[2]);
        return Value::Undefined("the condition of an inline if was false and it has no else");
      }
    }
    return Error(e.line, "unsupported expression");
  }

  Result<Value> Located(const Expr& e, Result<Value> r) const {
    if (r.ok()) return r;
    return At(e.line, r.status());
  }

  Result<Value> EvalDict(const Expr& e) {
    Value obj = rt_.NewObject();
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      MERIDIAN_ASSIGN_OR_RETURN(Value key, Eval(*e.args[i]));
      MERIDIAN_ASSIGN_OR_RETURN(Value value, Eval(*e.args[i + 1]));
      if (key.is_array() || key.is_object() || key.is_undefined()) {
        return Error(e.line,
                     "a dict key must be a string or a number, not '" + std::string(TypeName(key)) + "'");
      }
      Result<std::string> k = rt_.Str(key);
      if (!k.ok()) return At(e.line, k.status());
      obj.object()->Set(*k, std::move(value));
    }
    return obj;
  }

  Result<Value> EvalCall(const Expr& e) {
    const Expr& callee = *e.args[0];
    if (callee.kind == Expr::Kind::kGetAttr) {
      MERIDIAN_ASSIGN_OR_RETURN(Value self, Eval(*callee.args[0]));
      MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      if (self.is_object()) {
        const Value* member = self.object()->Find(callee.name);
        if (member && member->is_macro()) return CallMacro(e, *member->macro(), args);
      }
      if (self.is_undefined()) return Error(e.line, self.undefined_hint());
      Result<Value> r = CallMethod(rt_, self, callee.name, args);
      if (!r.ok() && r.status().code() == StatusCode::kNotFound) return Error(e.line, r.status().message());
      return Located(e, std::move(r));
    }
    if (callee.kind == Expr::Kind::kName) {
      if (const Value* v = Find(callee.name)) {
        if (!v->is_macro()) return Error(e.line, "'" + callee.name + "' is not callable");
        const Stmt* macro = v->macro();
        MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
        return CallMacro(e, *macro, args);
      }
      MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      Result<Value> r = CallGlobal(rt_, callee.name, args);
      if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
        return Error(e.line, "'" + callee.name + "' is undefined (no such variable or function)");
      }
      return Located(e, std::move(r));
    }
    MERIDIAN_ASSIGN_OR_RETURN(Value fn, Eval(callee));
    if (!fn.is_macro()) return Error(e.line, "a '" + std::string(TypeName(fn)) + "' is not callable");
    MERIDIAN_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
    return CallMacro(e, *fn.macro(), args);
  }

  Result<Value> CallMacro(const Expr& call, const Stmt& m, CallArgs& args) {
    if (args.positional.size() > m.params.size()) {
      return Error(call.line, "macro '" + m.name + "' takes " + std::to_string(m.params.size()) +
                                  " arguments (" + std::to_string(args.positional.size()) + " given)");
    }
    std::vector<std::optional<Value>> bound(m.params.size());
    for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = std::move(args.positional[i]);
    for (auto& [key, value] : args.keyword) {
      size_t i = 0;
      while (i < m.params.size() && m.params[i].first != key) ++i;
      if (i == m.params.size())
        return Error(call.line, "macro '" + m.name + "' has no parameter '" + key + "'");
      if (bound[i]) return Error(call.line, "macro '" + m.name + "' got two values for '" + key + "'");
      bound[i] = std::move(value);
    }
    Scope scope;
    for (size_t i = 0; i < m.params.size(); ++i) {
      Value v;
      if (bound[i]) {
        v = std::move(*bound[i]);
      } else if (m.params[i].second) {
        MERIDIAN_ASSIGN_OR_RETURN(v, Eval(*m.params[i].second));
      } else {
        v = Value::Undefined("'" + m.params[i].first + "' is undefined (macro argument not given)");
      }
      scope.emplace_back(m.params[i].first, std::move(v));
    }
    const size_t saved_floor = floor_;
    scopes_.push_back(std::move(scope));
    floor_ = scopes_.size() - 1;
    Result<std::string> text = Capture(m.bodies[0]);
    scopes_.resize(floor_);
    floor_ = saved_floor;
    flow_ = Flow::kNormal;
    if (!text.ok()) return text.status();
    return Value::String(std::move(text).value());
  }

  Result<Value> EvalUnary(const Expr& e) {
    MERIDIAN_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
    if (e.name == "not") return Value::Bool(!IsTruthy(v));
    if (v.is_undefined()) return Error(e.line, v.undefined_hint());
    if (!v.is_number()) {
      return Error(e.line, "bad operand type for unary " + e.name + ": '" + std::string(TypeName(v)) + "'");
    }
    if (e.name == "+") return v.is_bool() ? Value::Int(v.integer()) : v;
    if (v.is_float()) return Value::Float(-v.as_float());
    if (v.integer() == std::numeric_limits<int64_t>::min())
      return Error(e.line, "integer overflow in unary -");
    return Value::Int(-v.integer());
  }

  Result<Value> EvalBinary(const Expr& e) {
    const std::string& op = e.name;
    MERIDIAN_ASSIGN_OR_RETURN(Value l, Eval(*e.args[0]));
    if (op == "and") return IsTruthy(l) ? Eval(*e.args[1]) : Result<Value>(l);
    if (op == "or") return IsTruthy(l) ? Result<Value>(l) : Eval(*e.args[1]);
    MERIDIAN_ASSIGN_OR_RETURN(Value r, Eval(*e.args[1]));
    if (op == "==" || op == "!=") {
      if (l.is_string()) MERIDIAN_RETURN_IF_ERROR(At(e.line, rt_.Scan(l.str().size())));
      if (l.is_array() || l.is_object()) {  // deep comparisons are charged like a scan
        MERIDIAN_RETURN_IF_ERROR(
            At(e.line, rt_.Charge(16 * (l.is_array() ? l.array()->items.size() : l.object()->items.size()))));
      }
      Result<bool> eq = Equals(l, r);
      if (!eq.ok()) return At(e.line, eq.status());
      return Value::Bool(*eq == (op == "=="));
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      Result<int> c = Compare(l, r);
      if (!c.ok()) return Error(e.line, "'" + op + "': " + c.status().message());
      const int v = *c;
      return Value::Bool(op == "<" ? v < 0 : op == "<=" ? v <= 0 : op == ">" ? v > 0 : v >= 0);
    }
    if (op == "in" || op == "notin") {
      Result<bool> in = Contains(rt_, r, l);
      if (!in.ok()) return At(e.line, in.status());
      return Value::Bool(*in == (op == "in"));
    }
    return Located(e, Arith(op, l, r));
  }

  Result<Value> Arith(const std::string& op, const Value& l, const Value& r) {
    if (l.is_undefined()) return InvalidArgument(l.undefined_hint());
    if (r.is_undefined()) return InvalidArgument(r.undefined_hint());
    if (op == "+") {
      if (l.is_string() && r.is_string()) {
        MERIDIAN_RETURN_IF_ERROR(rt_.Charge(l.str().size() + r.str().size()));
        return Value::String(l.str() + r.str());
      }
      if (l.is_array() && r.is_array()) {
        std::vector<Value> items = l.array()->items;
        items.insert(items.end(), r.array()->items.begin(), r.array()->items.end());
        return rt_.NewArray(std::move(items));
      }
    }
    if (op == "*") {
      const Value* seq = l.is_string() || l.is_array() ? &l : (r.is_string() || r.is_array() ? &r : nullptr);
      const Value* count = seq == &l ? &r : &l;
      if (seq && count->is_number() && !count->is_float()) {
        const int64_t n = std::max<int64_t>(0, count->integer());
        if (seq->is_string()) {
          const size_t len = seq->str().size();
          if (len > 0 && static_cast<uint64_t>(n) > rt_.work_left() / len) {
            return ResourceExhausted("string repetition exceeds the template work limit");
          }
          MERIDIAN_RETURN_IF_ERROR(rt_.Charge(len * static_cast<size_t>(n)));
          std::string out;
          out.reserve(len * static_cast<size_t>(n));
          for (int64_t i = 0; i < n; ++i) out += seq->str();
          return Value::String(std::move(out));
        }
        const size_t len = seq->array()->items.size();
        if (len > 0 && static_cast<uint64_t>(n) > rt_.work_left() / (16 * len)) {
          return ResourceExhausted("list repetition exceeds the template work limit");
        }
        std::vector<Value> items;
        for (int64_t i = 0; i < n; ++i) {
          items.insert(items.end(), seq->array()->items.begin(), seq->array()->items.end());
        }
        return rt_.NewArray(std::move(items));
      }
    }
    if (op == "%" && l.is_string())
      return InvalidArgument("'%' string formatting is not supported; use ~ or filters");
    if (!l.is_number() || !r.is_number()) {
      return InvalidArgument("unsupported operand types for " + op + ": '" + std::string(TypeName(l)) +
                             "' and '" + std::string(TypeName(r)) + "'");
    }
    const bool ints = !l.is_float() && !r.is_float();
    if (ints && op != "/") {
      const int64_t a = l.integer(), b = r.integer();
      int64_t out = 0;
      bool overflow = false;
      if (op == "+") {
        overflow = __builtin_add_overflow(a, b, &out);
      } else if (op == "-") {
        overflow = __builtin_sub_overflow(a, b, &out);
      } else if (op == "*") {
        overflow = __builtin_mul_overflow(a, b, &out);
      } else if (op == "//" || op == "%") {
        if (b == 0) return InvalidArgument("integer division or modulo by zero");
        if (a == std::numeric_limits<int64_t>::min() && b == -1) {
          overflow = op == "//";
          out = 0;
        } else {
          int64_t q = a / b, m = a % b;
          if (m != 0 && ((m < 0) != (b < 0))) {
            --q;
            m += b;
          }
          out = op == "//" ? q : m;
        }
      } else if (op == "**") {
        if (b < 0) return Value::Float(std::pow(static_cast<double>(a), static_cast<double>(b)));
        out = 1;
        for (int64_t i = 0; i < b && !overflow; ++i) {
          overflow = __builtin_mul_overflow(out, a, &out);
          if (out == 0 || out == 1) break;  // 0**n and 1**n stay put
          if (out == -1 && a == -1) {       // (-1)**n alternates
            out = (b % 2 == 0) ? 1 : -1;
            break;
          }
        }
      }
      if (overflow) return InvalidArgument("integer overflow in '" + op + "'");
      return Value::Int(out);
    }
    const double a = l.number(), b = r.number();
    if (op == "+") return Value::Float(a + b);
    if (op == "-") return Value::Float(a - b);
    if (op == "*") return Value::Float(a * b);
    if (op == "**") return Value::Float(std::pow(a, b));
    if (b == 0.0) return InvalidArgument("division by zero");
    if (op == "/") return Value::Float(a / b);
    if (op == "//") return Value::Float(std::floor(a / b));
    double m = std::fmod(a, b);
    if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
    return Value::Float(m);
  }

  Runtime rt_;
  std::vector<Scope> scopes_;
  size_t floor_ = 0;  //!< lowest scope visible besides the two root scopes (raised in macros)
  std::string* out_ = nullptr;
  Flow flow_ = Flow::kNormal;
  int depth_ = 0;
  Value filter_input_;
};

}  // namespace

Result<Template> Template::Parse(std::string_view source, const TemplateLimits& limits) {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source, limits));
  MERIDIAN_ASSIGN_OR_RETURN(Body body, jinja::Parse(std::move(tokens), limits));
  return Template(std::make_shared<const Body>(std::move(body)), limits);
}

Result<std::string> Template::Render(const nlohmann::ordered_json& context) const {
  return Renderer(limits_).Run(*body_, context);
}

Result<std::string> Template::Render(const nlohmann::json& context) const {
  return Renderer(limits_).Run(*body_, context);
}

}  // namespace meridian::engine::jinja
