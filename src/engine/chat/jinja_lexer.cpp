// Jinja lexer: template text, {{ }}, {% %}, {# #}, {% raw %}, whitespace control, and the
// expression tokens inside tags. Whitespace rules follow Hugging Face's chat-template
// environment (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "engine/chat/jinja_ast.h"

namespace meridian::engine::jinja {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || IsDigit(c);
}
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void RStrip(std::string& s) {
  while (!s.empty() && IsSpace(s.back())) s.pop_back();
}

//! lstrip_blocks: drops the spaces between the last newline and a block tag.
void LStripBlock(std::string& text, bool line_starting) {
  const size_t nl = text.rfind('\n');
  const size_t l = nl == std::string::npos ? 0 : nl + 1;
  if (l == text.size() || (l == 0 && !line_starting)) return;
  if (std::all_of(text.begin() + static_cast<std::ptrdiff_t>(l), text.end(), IsSpace)) text.resize(l);
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') newlines_.push_back(i);
    }
  }

  Result<std::vector<Token>> Run() {
    while (pos_ < src_.size()) {
      size_t tag = pos_;
      while (true) {
        tag = src_.find('{', tag);
        if (tag == std::string::npos || tag + 1 >= src_.size()) {
          tag = std::string::npos;
          break;
        }
        const char next = src_[tag + 1];
        if (next == '{' || next == '%' || next == '#') break;
        ++tag;
      }
      if (tag == std::string::npos) {
        EmitText(pos_, src_.substr(pos_));
        pos_ = src_.size();
        break;
      }
      const char kind = src_[tag + 1];
      size_t p = tag + 2;
      char left_mod = 0;
      if (p < src_.size() && (src_[p] == '-' || (src_[p] == '+' && kind != '{'))) left_mod = src_[p++];
      std::string text = src_.substr(pos_, tag - pos_);
      if (left_mod == '-') {
        RStrip(text);
      } else if (kind != '{' && left_mod != '+') {
        LStripBlock(text, line_starting_);
      }
      EmitText(pos_, std::move(text));

      if (kind == '#') {
        const size_t end = src_.find("#}", p);
        if (end == std::string::npos) return Error(tag, "comment is never closed (missing '#}')");
        const char right_mod = end > p ? src_[end - 1] : 0;
        pos_ = AfterTag(end + 2, right_mod, true);
        continue;
      }
      if (kind == '%') {
        Result<bool> raw = TryRaw(tag, p);
        if (!raw.ok()) return raw.status();
        if (*raw) continue;
      }
      Push(kind == '{' ? TokenKind::kPrintBegin : TokenKind::kBlockBegin, tag, "");
      Status st = LexTagBody(kind, tag, p);
      if (!st.ok()) return st;
    }
    tokens_.push_back(Token{TokenKind::kEof, LineAt(src_.size()), "", 0, 0.0});
    return std::move(tokens_);
  }

 private:
  int LineAt(size_t pos) const {
    return 1 +
           static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }
  Status Error(size_t pos, const std::string& message) const {
    return InvalidArgument("template syntax error (line " + std::to_string(LineAt(pos)) + "): " + message);
  }
  void Push(TokenKind kind, size_t pos, std::string text) {
    tokens_.push_back(Token{kind, LineAt(pos), std::move(text), 0, 0.0});
  }
  void EmitText(size_t pos, std::string text) {
    if (!text.empty()) Push(TokenKind::kText, pos, std::move(text));
  }

  //! Position after a tag end at `p`: `-` eats all following whitespace, a block or comment
  //! end eats one newline (trim_blocks) unless written `+%}`.
  size_t AfterTag(size_t p, char right_mod, bool is_block) {
    if (right_mod == '-') {
      size_t q = p;
      while (q < src_.size() && IsSpace(src_[q])) ++q;
      line_starting_ = q > p && src_[q - 1] == '\n';
      return q;
    }
    if (is_block && right_mod != '+' && p < src_.size() && src_[p] == '\n') {
      line_starting_ = true;
      return p + 1;
    }
    line_starting_ = false;
    return p;
  }

  size_t SkipInlineSpace(size_t p) const {
    while (p < src_.size() && (src_[p] == ' ' || src_[p] == '\t')) ++p;
    return p;
  }
  bool WordAt(size_t p, std::string_view word) const {
    return src_.compare(p, word.size(), word) == 0 &&
           (p + word.size() >= src_.size() || !IsNameChar(src_[p + word.size()]));
  }

  //! Handles `{% raw %}...{% endraw %}` starting at `tag`; false when the tag is not raw.
  Result<bool> TryRaw(size_t tag, size_t p) {
    size_t q = SkipInlineSpace(p);
    if (!WordAt(q, "raw")) return false;
    q = SkipInlineSpace(q + 3);
    char mod = 0;
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) mod = src_[q++];
    if (src_.compare(q, 2, "%}") != 0) return false;
    const size_t content_start = AfterTag(q + 2, mod, true);
    const bool started_line = line_starting_;
    for (size_t k = src_.find("{%", content_start); k != std::string::npos; k = src_.find("{%", k + 1)) {
      size_t r = k + 2;
      char lmod = 0;
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) lmod = src_[r++];
      r = SkipInlineSpace(r);
      if (!WordAt(r, "endraw")) continue;
      r = SkipInlineSpace(r + 6);
      char rmod = 0;
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) rmod = src_[r++];
      if (src_.compare(r, 2, "%}") != 0) continue;
      std::string content = src_.substr(content_start, k - content_start);
      if (lmod == '-') {
        RStrip(content);
      } else if (lmod != '+') {
        LStripBlock(content, started_line);
      }
      EmitText(content_start, std::move(content));
      pos_ = AfterTag(r + 2, rmod, true);
      return true;
    }
    return Error(tag, "'raw' block is never closed (missing '{% endraw %}')");
  }

  //! Lexes the expression tokens of a {{ }} or {% %} tag whose content starts at `p`.
  Status LexTagBody(char kind, size_t tag, size_t p) {
    int depth = 0;
    while (true) {
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (p >= src_.size()) {
        return Error(
            tag, kind == '{' ? "'{{' is never closed (missing '}}')" : "'{%' is never closed (missing '%}')");
      }
      if (depth == 0) {
        const std::string_view close = kind == '{' ? "}}" : "%}";
        char mod = 0;
        size_t q = p;
        if ((src_[q] == '-' || (src_[q] == '+' && kind == '%')) && src_.compare(q + 1, 2, close) == 0)
          mod = src_[q++];
        if (src_.compare(q, 2, close) == 0) {
          Push(kind == '{' ? TokenKind::kPrintEnd : TokenKind::kBlockEnd, q, "");
          pos_ = AfterTag(q + 2, mod, kind == '%');
          return Status::Ok();
        }
      }
      const char c = src_[p];
      if (IsNameStart(c)) {
        size_t q = p;
        while (q < src_.size() && IsNameChar(src_[q])) ++q;
        Push(TokenKind::kName, p, src_.substr(p, q - p));
        p = q;
      } else if (IsDigit(c)) {
        MERIDIAN_RETURN_IF_ERROR(LexNumber(p));
      } else if (c == '\'' || c == '"') {
        MERIDIAN_RETURN_IF_ERROR(LexString(p));
      } else {
        static constexpr std::string_view kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op;
        for (std::string_view two : kTwo) {
          if (src_.compare(p, 2, two) == 0) op = two;
        }
        if (op.empty()) {
          if (std::string_view("+-*/%~<>=()[]{},.:|").find(c) == std::string_view::npos) {
            return Error(p, std::string("unexpected character '") + c + "' inside a tag");
          }
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        }
        Push(TokenKind::kOperator, p, op);
        p += op.size();
      }
    }
  }

  Status LexNumber(size_t& p) {
    size_t q = p;
    bool is_float = false;
    auto digits = [&] {
      while (q < src_.size() && (IsDigit(src_[q]) || src_[q] == '_')) ++q;
    };
    digits();
    if (q + 1 < src_.size() && src_[q] == '.' && IsDigit(src_[q + 1])) {
      is_float = true;
      ++q;
      digits();
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t e = q + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e < src_.size() && IsDigit(src_[e])) {
        is_float = true;
        q = e;
        digits();
      }
    }
    std::string text;
    for (size_t i = p; i < q; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    Token tok{is_float ? TokenKind::kFloat : TokenKind::kInteger, LineAt(p), text, 0, 0.0};
    const char* b = text.data();
    const char* e = text.data() + text.size();
    if (is_float) {
      auto res = std::from_chars(b, e, tok.float_value);
      if (res.ec == std::errc::result_out_of_range) {
        tok.float_value =
            text.find("e-") != std::string::npos || text.find("E-") != std::string::npos ? 0.0 : HUGE_VAL;
      } else if (res.ec != std::errc() || res.ptr != e) {
        return Error(p, "malformed number '" + text + "'");
      }
    } else {
      auto res = std::from_chars(b, e, tok.int_value);
      if (res.ec != std::errc() || res.ptr != e) {
        return Error(p, "integer literal '" + text + "' is out of range");
      }
    }
    tokens_.push_back(std::move(tok));
    p = q;
    return Status::Ok();
  }

  //! A Python-style string literal with backslash escapes (\n, \t, \xHH, \uXXXX, ...).
  Status LexString(size_t& p) {
    const char quote = src_[p];
    std::string out;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) return Error(p, "string literal is never closed");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\' || q + 1 >= src_.size()) {
        out += c;
        ++q;
        continue;
      }
      const char e = src_[q + 1];
      q += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          uint32_t cp = 0;
          bool ok = q + n <= src_.size();
          for (size_t i = 0; ok && i < n; ++i) {
            const int h = HexDigit(src_[q + i]);
            if (h < 0) ok = false;
            cp = (cp << 4) | static_cast<uint32_t>(h < 0 ? 0 : h);
          }
          if (!ok) return Error(q, std::string("malformed \\") + e + " escape in a string literal");
          q += n;
          AppendUtf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && q < src_.size() && src_[q] >= '0' && src_[q] <= '7'; ++i) {
              cp = cp * 8 + static_cast<uint32_t>(src_[q++] - '0');
            }
            AppendUtf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    Push(TokenKind::kString, p, std::move(out));
    p = q + 1;
    return Status::Ok();
  }

  std::string src_;
  std::vector<size_t> newlines_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  bool line_starting_ = true;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view source, const TemplateLimits& limits) {
  if (source.size() > limits.max_source_bytes) {
    return InvalidArgument("template is " + std::to_string(source.size()) + " bytes, over the limit of " +
                           std::to_string(limits.max_source_bytes));
  }
  // Jinja normalizes newlines to \n and drops one trailing newline before lexing.
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized += source[i];
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  return Lexer(std::move(normalized)).Run();
}

}  // namespace meridian::engine::jinja
