// Tokens and syntax tree of the Jinja interpreter, and the limits that bound parsing and
// rendering. Produced by jinja_lexer/jinja_parser, walked by jinja_template.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/jinja_value.h"

namespace meridian::engine::jinja {

//! Bounds that keep a hostile template from hanging or exhausting memory.
struct TemplateLimits {
  size_t max_source_bytes = 1 << 20;   //!< longer template sources are rejected
  int max_nesting = 100;               //!< nested blocks, brackets and unary operators
  int max_expression_depth = 128;      //!< syntax-tree depth of one expression
  int max_render_depth = 256;          //!< evaluation recursion, macro calls included
  size_t max_output_bytes = 8u << 20;  //!< rendered text
  uint64_t max_steps = 2'000'000;      //!< evaluated nodes (bounds loops and recursion)
  size_t max_work_bytes = 64u << 20;   //!< bytes of strings and list items created
};

enum class TokenKind : uint8_t {
  kText,        //!< literal template text (whitespace control already applied)
  kPrintBegin,  //!< {{
  kPrintEnd,    //!< }}
  kBlockBegin,  //!< {%
  kBlockEnd,    //!< %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEof,
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  int line = 1;
  std::string text;  //!< name, operator, unescaped string, or literal text
  int64_t int_value = 0;
  double float_value = 0.0;
};

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
  enum class Kind : uint8_t {
    kLiteral,  //!< literal
    kName,     //!< name
    kList,     //!< args: items
    kTuple,    //!< args: items
    kDict,     //!< args: key, value, key, value...
    kGetAttr,  //!< args[0].name
    kGetItem,  //!< args[0][args[1]]
    kSlice,    //!< args[0][args[1]:args[2]:args[3]] (missing parts are null)
    kCall,     //!< args[0](args[1..], kwargs)
    kFilter,   //!< args[0] | name(args[1..], kwargs); args[0] is null in {% filter %}
    kTest,     //!< args[0] is [not] name(args[1..], kwargs)
    kUnary,    //!< name in {"-", "+", "not"}; args[0]
    kBinary,   //!< args[0] name args[1]; name: + - * / // % ** == != < <= > >= in notin and or
    kConcat,   //!< args[0] ~ args[1] ~ ...
    kCond,     //!< args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind = Kind::kLiteral;
  int line = 1;
  int depth = 1;         //!< syntax-tree depth (bounded by TemplateLimits::max_expression_depth)
  bool negated = false;  //!< `is not`
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt {
  enum class Kind : uint8_t {
    kText,         //!< text
    kOutput,       //!< {{ expr }}
    kIf,           //!< conds[i] -> bodies[i]; else_body
    kFor,          //!< for targets in expr [if conds[0]]: bodies[0]; else_body
    kSet,          //!< set targets = expr; or set targets[0].attr = expr
    kSetBlock,     //!< set targets[0] %}bodies[0]{% endset
    kMacro,        //!< macro name(params) %}bodies[0]{% endmacro
    kFilterBlock,  //!< filter expr (a kFilter with null input) %}bodies[0]{% endfilter
    kBreak,
    kContinue,
  };
  Kind kind = Kind::kText;
  int line = 1;
  std::string text;
  std::string name;  //!< macro name
  std::string attr;  //!< set ns.attr
  ExprPtr expr;
  std::vector<std::string> targets;
  std::vector<ExprPtr> conds;
  std::vector<Body> bodies;
  Body else_body;
  std::vector<std::pair<std::string, ExprPtr>> params;  //!< macro parameters and defaults
};

//! Splits template source into tokens, applying Hugging Face's environment settings:
//! trim_blocks, lstrip_blocks, `-`/`+` whitespace control, no trailing newline, \r\n -> \n.
Result<std::vector<Token>> Tokenize(std::string_view source, const TemplateLimits& limits);

//! Parses tokens into statements; unknown filters and tests are errors here, as in Jinja.
Result<Body> Parse(std::vector<Token> tokens, const TemplateLimits& limits);

}  // namespace meridian::engine::jinja
