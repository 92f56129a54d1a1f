// Jinja parser: recursive descent over the lexer's tokens with Jinja's operator precedence
// (or < and < not < comparisons < + - < ~ < * / // % < ** < unary < postfix, filters, tests).
// Nesting and syntax-tree depth are bounded so that hostile input cannot exhaust the stack.
#include <algorithm>
#include <initializer_list>

#include "engine/chat/jinja_ast.h"
#include "engine/chat/jinja_builtins.h"

namespace meridian::engine::jinja {
namespace {

class Parser {
 public:
  Parser(std::vector<Token> tokens, const TemplateLimits& limits)
      : tokens_(std::move(tokens)), limits_(limits) {}

  Result<Body> Run() {
    Body body;
    std::string end;
    ParseBody(&body, {}, &end, 0, "");
    if (!error_.ok()) return error_;
    return body;
  }

 private:
  //! Counts recursion; fails the parse past TemplateLimits::max_nesting.
  class Nest {
   public:
    explicit Nest(Parser* p) : p_(p) {
      if (++p_->nesting_ > p_->limits_.max_nesting) {
        p_->Fail(p_->Peek().line, "the template nests blocks or brackets more than " +
                                      std::to_string(p_->limits_.max_nesting) + " levels deep");
      }
    }
    ~Nest() { --p_->nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser* p_;
  };

  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsOp(std::string_view op, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(std::string_view name, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kName && Peek(ahead).text == name;
  }
  bool AcceptOp(std::string_view op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool AcceptName(std::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }
  bool failed() const { return !error_.ok(); }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case TokenKind::kEof: return "the end of the template";
      case TokenKind::kText: return "template text";
      case TokenKind::kPrintBegin: return "'{{'";
      case TokenKind::kPrintEnd: return "'}}'";
      case TokenKind::kBlockBegin: return "'{%'";
      case TokenKind::kBlockEnd: return "'%}'";
      case TokenKind::kString: return "a string";
      default: return "'" + t.text + "'";
    }
  }

  std::nullptr_t Fail(int line, const std::string& message) {
    if (error_.ok()) {
      error_ = InvalidArgument("template syntax error (line " + std::to_string(line) + "): " + message);
    }
    return nullptr;
  }
  std::nullptr_t Unexpected(const std::string& wanted) {
    return Fail(Peek().line, "expected " + wanted + ", found " + Describe(Peek()));
  }
  bool ExpectOp(std::string_view op) {
    if (AcceptOp(op)) return true;
    Unexpected("'" + std::string(op) + "'");
    return false;
  }
  bool ExpectBlockEnd() {
    if (Peek().kind == TokenKind::kBlockEnd) {
      Next();
      return true;
    }
    Unexpected("'%}'");
    return false;
  }
  bool ExpectName(std::string* out) {
    if (Peek().kind != TokenKind::kName) {
      Unexpected("a name");
      return false;
    }
    *out = Next().text;
    return true;
  }

  //! Computes the node's depth and enforces max_expression_depth.
  ExprPtr Finish(ExprPtr node) {
    if (failed()) return nullptr;
    int depth = 0;
    for (const ExprPtr& a : node->args) {
      if (a) depth = std::max(depth, a->depth);
    }
    for (const auto& kw : node->kwargs) depth = std::max(depth, kw.second->depth);
    node->depth = depth + 1;
    if (node->depth > limits_.max_expression_depth) {
      return Fail(node->line, "an expression nests more than " +
                                  std::to_string(limits_.max_expression_depth) + " levels deep");
    }
    return node;
  }
  static ExprPtr NewExpr(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }
  ExprPtr Binary(std::string op, ExprPtr left, ExprPtr right, int line) {
    auto e = NewExpr(Expr::Kind::kBinary, line);
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return Finish(std::move(e));
  }

  // ---- statements ----

  //! Parses until one of `ends` opens a block tag (its name is consumed, the rest of the tag is
  //! left for the caller) or until the end of input when `ends` is empty.
  void ParseBody(Body* body, std::initializer_list<std::string_view> ends, std::string* found_end,
                 int open_line, std::string_view open_name) {
    Nest nest(this);
    while (!failed()) {
      const Token& tok = Peek();
      switch (tok.kind) {
        case TokenKind::kEof:
          if (ends.size() > 0) {
            Fail(open_line, "'" + std::string(open_name) + "' block is never closed (expected '{% " +
                                std::string(*(ends.end() - 1)) + " %}')");
          }
          return;
        case TokenKind::kText: {
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kText;
          s->line = tok.line;
          s->text = tok.text;
          body->push_back(std::move(s));
          Next();
          break;
        }
        case TokenKind::kPrintBegin: {
          auto s = std::make_unique<Stmt>();
          s->kind = Stmt::Kind::kOutput;
          s->line = Next().line;
          s->expr = ParseTuple(true);
          if (failed()) return;
          if (Peek().kind != TokenKind::kPrintEnd) {
            Unexpected("'}}'");
            return;
          }
          Next();
          body->push_back(std::move(s));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& name = Peek(1);
          if (name.kind != TokenKind::kName) {
            Next();
            Unexpected("a statement name after '{%'");
            return;
          }
          if (std::find(ends.begin(), ends.end(), name.text) != ends.end()) {
            Next();
            *found_end = Next().text;
            return;
          }
          Next();
          ParseStatement(body);
          break;
        }
        default: Unexpected("template text or a tag"); return;
      }
    }
  }

  void ParseStatement(Body* body) {
    const Token& kw = Next();
    const std::string word = kw.text;
    const int line = kw.line;
    if (word == "if") return ParseIf(body, line);
    if (word == "for") return ParseFor(body, line);
    if (word == "set") return ParseSet(body, line);
    if (word == "macro") return ParseMacro(body, line);
    if (word == "filter") return ParseFilterBlock(body, line);
    if (word == "break" || word == "continue") {
      if (loop_depth_ == 0) {
        Fail(line, "'{% " + word + " %}' outside a for loop");
        return;
      }
      if (!ExpectBlockEnd()) return;
      auto s = std::make_unique<Stmt>();
      s->kind = word == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      s->line = line;
      body->push_back(std::move(s));
      return;
    }
    if (word == "generation") {  // Hugging Face's assistant-mask marker: renders its body as is
      if (!ExpectBlockEnd()) return;
      std::string end;
      ParseBody(body, {"endgeneration"}, &end, line, "generation");
      if (!failed()) ExpectBlockEnd();
      return;
    }
    static constexpr std::string_view kEnds[] = {"endif",    "endfor",    "else",          "elif",  "endset",
                                                 "endmacro", "endfilter", "endgeneration", "endraw"};
    if (std::find(std::begin(kEnds), std::end(kEnds), word) != std::end(kEnds)) {
      Fail(line, "unexpected '{% " + word + " %}' with no open block it could belong to");
      return;
    }
    static constexpr std::string_view kUnsupported[] = {"include", "extends", "import",     "from", "block",
                                                        "call",    "with",    "autoescape", "do",   "trans"};
    if (std::find(std::begin(kUnsupported), std::end(kUnsupported), word) != std::end(kUnsupported)) {
      Fail(line, "'{% " + word + " %}' is not supported in chat templates");
      return;
    }
    Fail(line, "unknown statement '{% " + word + " %}'");
  }

  void ParseIf(Body* body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::kIf;
    s->line = line;
    ExprPtr cond = ParseExpression(true);
    if (failed() || !ExpectBlockEnd()) return;
    while (true) {
      Body branch;
      std::string end;
      ParseBody(&branch, {"elif", "else", "endif"}, &end, line, "if");
      if (failed()) return;
      s->conds.push_back(std::move(cond));
      s->bodies.push_back(std::move(branch));
      if (end == "elif") {
        cond = ParseExpression(true);
        if (failed() || !ExpectBlockEnd()) return;
        continue;
      }
      if (!ExpectBlockEnd()) return;
      if (end == "else") {
        ParseBody(&s->else_body, {"endif"}, &end, line, "if");
        if (failed() || !ExpectBlockEnd()) return;
      }
      break;
    }
    body->push_back(std::move(s));
  }

  void ParseFor(Body* body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::kFor;
    s->line = line;
    const bool paren = AcceptOp("(");
    do {
      std::string target;
      if (!ExpectName(&target)) return;
      s->targets.push_back(std::move(target));
    } while (AcceptOp(","));
    if (paren && !ExpectOp(")")) return;
    if (!AcceptName("in")) {
      Unexpected("'in'");
      return;
    }
    s->expr = ParseTuple(false);
    if (failed()) return;
    if (AcceptName("if")) {
      s->conds.push_back(ParseExpression(true));
      if (failed()) return;
    }
    if (IsName("recursive")) {
      Fail(line, "recursive for loops are not supported");
      return;
    }
    if (!ExpectBlockEnd()) return;
    Body loop_body;
    std::string end;
    ++loop_depth_;
    ParseBody(&loop_body, {"else", "endfor"}, &end, line, "for");
    --loop_depth_;
    if (failed() || !ExpectBlockEnd()) return;
    s->bodies.push_back(std::move(loop_body));
    if (end == "else") {
      ParseBody(&s->else_body, {"endfor"}, &end, line, "for");
      if (failed() || !ExpectBlockEnd()) return;
    }
    body->push_back(std::move(s));
  }

  void ParseSet(Body* body, int line) {
    auto s = std::make_unique<Stmt>();
    s->line = line;
    std::string first;
    if (!ExpectName(&first)) return;
    s->targets.push_back(first);
    if (AcceptOp(".")) {
      if (!ExpectName(&s->attr)) return;
    } else {
      while (AcceptOp(",")) {
        std::string target;
        if (!ExpectName(&target)) return;
        s->targets.push_back(std::move(target));
      }
    }
    if (AcceptOp("=")) {
      s->kind = Stmt::Kind::kSet;
      s->expr = ParseTuple(true);
      if (failed() || !ExpectBlockEnd()) return;
    } else if (s->targets.size() == 1 && s->attr.empty() && Peek().kind == TokenKind::kBlockEnd) {
      Next();
      s->kind = Stmt::Kind::kSetBlock;
      Body captured;
      std::string end;
      ParseBody(&captured, {"endset"}, &end, line, "set");
      if (failed() || !ExpectBlockEnd()) return;
      s->bodies.push_back(std::move(captured));
    } else {
      Unexpected("'='");
      return;
    }
    body->push_back(std::move(s));
  }

  void ParseMacro(Body* body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::kMacro;
    s->line = line;
    if (!ExpectName(&s->name) || !ExpectOp("(")) return;
    while (!IsOp(")")) {
      std::string param;
      if (!ExpectName(&param)) return;
      ExprPtr def;
      if (AcceptOp("=")) {
        def = ParseExpression(true);
        if (failed()) return;
      }
      s->params.emplace_back(std::move(param), std::move(def));
      if (!AcceptOp(",")) break;
    }
    if (!ExpectOp(")") || !ExpectBlockEnd()) return;
    Body macro_body;
    std::string end;
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    ParseBody(&macro_body, {"endmacro"}, &end, line, "macro");
    loop_depth_ = saved_loop_depth;
    if (failed()) return;
    if (Peek().kind == TokenKind::kName && Peek().text == s->name) Next();
    if (!ExpectBlockEnd()) return;
    s->bodies.push_back(std::move(macro_body));
    body->push_back(std::move(s));
  }

  void ParseFilterBlock(Body* body, int line) {
    auto s = std::make_unique<Stmt>();
    s->kind = Stmt::Kind::kFilterBlock;
    s->line = line;
    ExprPtr chain;  // null input: the block's rendered text
    do {
      chain = ParseFilter(std::move(chain));
      if (failed()) return;
    } while (AcceptOp("|"));
    s->expr = std::move(chain);
    if (!ExpectBlockEnd()) return;
    Body filtered;
    std::string end;
    ParseBody(&filtered, {"endfilter"}, &end, line, "filter");
    if (failed() || !ExpectBlockEnd()) return;
    s->bodies.push_back(std::move(filtered));
    body->push_back(std::move(s));
  }

  // ---- expressions ----

  bool AtTupleEnd() const {
    const TokenKind k = Peek().kind;
    return k == TokenKind::kBlockEnd || k == TokenKind::kPrintEnd || k == TokenKind::kEof || IsOp(")") ||
           IsName("if");
  }

  //! `a` or `a, b, ...` (a tuple, as in `{% set x, y = 1, 2 %}`).
  ExprPtr ParseTuple(bool allow_cond) {
    const int line = Peek().line;
    ExprPtr first = ParseExpression(allow_cond);
    if (failed() || !IsOp(",")) return first;
    auto t = NewExpr(Expr::Kind::kTuple, line);
    t->args.push_back(std::move(first));
    while (AcceptOp(",")) {
      if (AtTupleEnd()) break;
      t->args.push_back(ParseExpression(allow_cond));
      if (failed()) return nullptr;
    }
    return Finish(std::move(t));
  }

  ExprPtr ParseExpression(bool allow_cond) {
    Nest nest(this);
    if (failed()) return nullptr;
    const int line = Peek().line;
    ExprPtr expr = ParseOr();
    if (failed()) return nullptr;
    if (allow_cond && AcceptName("if")) {
      auto c = NewExpr(Expr::Kind::kCond, line);
      c->args.push_back(std::move(expr));
      c->args.push_back(ParseOr());
      if (failed()) return nullptr;
      if (AcceptName("else")) {
        c->args.push_back(ParseExpression(true));
        if (failed()) return nullptr;
      } else {
        c->args.push_back(nullptr);
      }
      return Finish(std::move(c));
    }
    return expr;
  }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (left && IsName("or")) {
      const int line = Next().line;
      ExprPtr right = ParseAnd();
      if (!right) return nullptr;
      left = Binary("or", std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (left && IsName("and")) {
      const int line = Next().line;
      ExprPtr right = ParseNot();
      if (!right) return nullptr;
      left = Binary("and", std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParseNot() {
    if (!IsName("not")) return ParseCompare();
    Nest nest(this);
    if (failed()) return nullptr;
    const int line = Next().line;
    ExprPtr operand = ParseNot();
    if (!operand) return nullptr;
    auto e = NewExpr(Expr::Kind::kUnary, line);
    e->name = "not";
    e->args.push_back(std::move(operand));
    return Finish(std::move(e));
  }

  ExprPtr ParseCompare() {
    ExprPtr left = ParseMath1();
    while (left) {
      const int line = Peek().line;
      std::string op;
      if (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">=")) {
        op = Next().text;
      } else if (IsName("in")) {
        Next();
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next();
        Next();
        op = "notin";
      } else {
        break;
      }
      ExprPtr right = ParseMath1();
      if (!right) return nullptr;
      left = Binary(op, std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParseMath1() {
    ExprPtr left = ParseConcat();
    while (left && (IsOp("+") || IsOp("-"))) {
      const Token& op = Next();
      const std::string name = op.text;
      const int line = op.line;
      ExprPtr right = ParseConcat();
      if (!right) return nullptr;
      left = Binary(name, std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParseConcat() {
    const int line = Peek().line;
    ExprPtr first = ParseMath2();
    if (!first || !IsOp("~")) return first;
    auto e = NewExpr(Expr::Kind::kConcat, line);
    e->args.push_back(std::move(first));
    while (AcceptOp("~")) {
      ExprPtr next = ParseMath2();
      if (!next) return nullptr;
      e->args.push_back(std::move(next));
    }
    return Finish(std::move(e));
  }

  ExprPtr ParseMath2() {
    ExprPtr left = ParsePow();
    while (left && (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))) {
      const Token& op = Next();
      const std::string name = op.text;
      const int line = op.line;
      ExprPtr right = ParsePow();
      if (!right) return nullptr;
      left = Binary(name, std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParsePow() {
    ExprPtr left = ParseUnary(true);
    while (left && IsOp("**")) {
      const int line = Next().line;
      ExprPtr right = ParseUnary(true);
      if (!right) return nullptr;
      left = Binary("**", std::move(left), std::move(right), line);
    }
    return left;
  }

  ExprPtr ParseUnary(bool with_filter) {
    Nest nest(this);
    if (failed()) return nullptr;
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      const Token& op = Next();
      auto e = NewExpr(Expr::Kind::kUnary, op.line);
      e->name = op.text;
      ExprPtr operand = ParseUnary(false);
      if (!operand) return nullptr;
      e->args.push_back(std::move(operand));
      node = Finish(std::move(e));
    } else {
      node = ParsePrimary();
    }
    node = ParsePostfix(std::move(node));
    if (with_filter) node = ParseFilterExpr(std::move(node));
    return node;
  }

  ExprPtr ParsePrimary() {
    const Token& tok = Peek();
    const int line = tok.line;
    switch (tok.kind) {
      case TokenKind::kName: {
        auto e = NewExpr(Expr::Kind::kLiteral, line);
        const std::string& n = tok.text;
        if (n == "true" || n == "True") {
          e->literal = Value::Bool(true);
        } else if (n == "false" || n == "False") {
          e->literal = Value::Bool(false);
        } else if (n == "none" || n == "None") {
          e->literal = Value::None();
        } else {
          e->kind = Expr::Kind::kName;
          e->name = n;
        }
        Next();
        return Finish(std::move(e));
      }
      case TokenKind::kString: {
        std::string text;
        while (Peek().kind == TokenKind::kString) text += Next().text;
        auto e = NewExpr(Expr::Kind::kLiteral, line);
        e->literal = Value::String(std::move(text));
        return Finish(std::move(e));
      }
      case TokenKind::kInteger:
      case TokenKind::kFloat: {
        auto e = NewExpr(Expr::Kind::kLiteral, line);
        e->literal =
            tok.kind == TokenKind::kInteger ? Value::Int(tok.int_value) : Value::Float(tok.float_value);
        Next();
        return Finish(std::move(e));
      }
      case TokenKind::kOperator:
        if (tok.text == "(") {
          Next();
          if (AcceptOp(")")) return Finish(NewExpr(Expr::Kind::kTuple, line));
          ExprPtr inner = ParseTuple(true);
          if (failed() || !ExpectOp(")")) return nullptr;
          return inner;
        }
        if (tok.text == "[") return ParseList();
        if (tok.text == "{") return ParseDict();
        break;
      default: break;
    }
    return Unexpected("an expression");
  }

  ExprPtr ParseList() {
    auto e = NewExpr(Expr::Kind::kList, Next().line);
    while (!IsOp("]")) {
      e->args.push_back(ParseExpression(true));
      if (failed()) return nullptr;
      if (!AcceptOp(",")) break;
    }
    if (!ExpectOp("]")) return nullptr;
    return Finish(std::move(e));
  }

  ExprPtr ParseDict() {
    auto e = NewExpr(Expr::Kind::kDict, Next().line);
    while (!IsOp("}")) {
      e->args.push_back(ParseExpression(true));
      if (failed() || !ExpectOp(":")) return nullptr;
      e->args.push_back(ParseExpression(true));
      if (failed()) return nullptr;
      if (!AcceptOp(",")) break;
    }
    if (!ExpectOp("}")) return nullptr;
    return Finish(std::move(e));
  }

  ExprPtr ParsePostfix(ExprPtr node) {
    while (node) {
      const int line = Peek().line;
      if (AcceptOp(".")) {
        const Token& t = Peek();
        if (t.kind == TokenKind::kName) {
          auto e = NewExpr(Expr::Kind::kGetAttr, line);
          e->name = Next().text;
          e->args.push_back(std::move(node));
          node = Finish(std::move(e));
        } else if (t.kind == TokenKind::kInteger) {
          auto e = NewExpr(Expr::Kind::kGetItem, line);
          auto index = NewExpr(Expr::Kind::kLiteral, line);
          index->literal = Value::Int(Next().int_value);
          e->args.push_back(std::move(node));
          e->args.push_back(Finish(std::move(index)));
          node = Finish(std::move(e));
        } else {
          return Unexpected("an attribute name after '.'");
        }
      } else if (AcceptOp("[")) {
        node = ParseSubscript(std::move(node), line);
      } else if (IsOp("(")) {
        node = ParseCall(std::move(node));
      } else {
        break;
      }
    }
    return node;
  }

  //! After '[': an index or a slice [start:stop:step].
  ExprPtr ParseSubscript(ExprPtr node, int line) {
    ExprPtr parts[3];
    if (!IsOp(":")) {
      parts[0] = ParseExpression(true);
      if (failed()) return nullptr;
      if (AcceptOp("]")) {
        auto e = NewExpr(Expr::Kind::kGetItem, line);
        e->args.push_back(std::move(node));
        e->args.push_back(std::move(parts[0]));
        return Finish(std::move(e));
      }
    }
    if (!ExpectOp(":")) return nullptr;
    if (!IsOp(":") && !IsOp("]")) {
      parts[1] = ParseExpression(true);
      if (failed()) return nullptr;
    }
    if (AcceptOp(":") && !IsOp("]")) {
      parts[2] = ParseExpression(true);
      if (failed()) return nullptr;
    }
    if (!ExpectOp("]")) return nullptr;
    auto e = NewExpr(Expr::Kind::kSlice, line);
    e->args.push_back(std::move(node));
    for (ExprPtr& p : parts) e->args.push_back(std::move(p));
    return Finish(std::move(e));
  }

  //! Parses "(args, kw=value)" into e->args (after any already there) and e->kwargs.
  bool ParseArgs(Expr* e) {
    if (!ExpectOp("(")) return false;
    while (!IsOp(")")) {
      if (Peek().kind == TokenKind::kName && IsOp("=", 1)) {
        std::string key = Next().text;
        Next();
        ExprPtr value = ParseExpression(true);
        if (failed()) return false;
        e->kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!e->kwargs.empty()) {
          Fail(Peek().line, "a positional argument follows a keyword argument");
          return false;
        }
        e->args.push_back(ParseExpression(true));
        if (failed()) return false;
      }
      if (!AcceptOp(",")) break;
    }
    return ExpectOp(")");
  }

  ExprPtr ParseCall(ExprPtr callee) {
    auto e = NewExpr(Expr::Kind::kCall, Peek().line);
    e->args.push_back(std::move(callee));
    if (!ParseArgs(e.get())) return nullptr;
    return Finish(std::move(e));
  }

  //! `| name` or `| name(args)` applied to `input` (null inside {% filter %}).
  ExprPtr ParseFilter(ExprPtr input) {
    const int line = Peek().line;
    std::string name;
    if (!ExpectName(&name)) return nullptr;
    if (!IsKnownFilter(name)) return Fail(line, "unknown filter '" + name + "'");
    auto e = NewExpr(Expr::Kind::kFilter, line);
    e->name = std::move(name);
    e->args.push_back(std::move(input));
    if (IsOp("(") && !ParseArgs(e.get())) return nullptr;
    return Finish(std::move(e));
  }

  ExprPtr ParseFilterExpr(ExprPtr node) {
    while (node) {
      if (AcceptOp("|")) {
        node = ParseFilter(std::move(node));
      } else if (IsName("is")) {
        const int line = Next().line;
        auto e = NewExpr(Expr::Kind::kTest, line);
        e->negated = AcceptName("not");
        if (!ExpectName(&e->name)) return nullptr;
        if (!IsKnownTest(e->name)) return Fail(line, "unknown test '" + e->name + "'");
        e->args.push_back(std::move(node));
        const Token& t = Peek();
        if (IsOp("(")) {
          if (!ParseArgs(e.get())) return nullptr;
        } else if ((t.kind == TokenKind::kName || t.kind == TokenKind::kString ||
                    t.kind == TokenKind::kInteger || t.kind == TokenKind::kFloat || IsOp("[") || IsOp("{")) &&
                   !(IsName("else") || IsName("or") || IsName("and") || IsName("if") || IsName("in") ||
                     IsName("not") || IsName("is"))) {
          ExprPtr arg = ParsePostfix(ParsePrimary());
          if (!arg) return nullptr;
          e->args.push_back(std::move(arg));
        }
        node = Finish(std::move(e));
      } else if (IsOp("(")) {
        node = ParseCall(std::move(node));
      } else {
        break;
      }
    }
    return node;
  }

  std::vector<Token> tokens_;
  TemplateLimits limits_;
  size_t pos_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;
  Status error_;
};

}  // namespace

Result<Body> Parse(std::vector<Token> tokens, const TemplateLimits& limits) {
  if (tokens.empty()) tokens.push_back(Token{});
  return Parser(std::move(tokens), limits).Run();
}

}  // namespace meridian::engine::jinja
