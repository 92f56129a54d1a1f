// The shared tokenizer machinery: index, rendered pieces, special-token partitioning, Encode.
#include "engine/tokenizer/tokenizer_base.h"

#include <algorithm>

#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_internal {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string UnescapeSpmSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0) {
      out.push_back(' ');
      pos += kSpmSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

}  // namespace

int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int hi = HexDigit(text[3]);
  const int lo = HexDigit(text[4]);
  if (hi < 0 || lo < 0) return -1;
  return hi * 16 + lo;
}

IndexedTokenizer::IndexedTokenizer(VocabData vocab, bool byte_level) : Tokenizer(std::move(vocab)) {
  const size_t n = vocab_.tokens.size();
  types_.resize(n, TokenType::kNormal);
  if (!vocab_.token_types.empty()) {
    for (size_t i = 0; i < n; ++i) types_[i] = static_cast<TokenType>(vocab_.token_types[i]);
  } else {
    // A vocabulary without types (built in code, or a minimal file): infer the obvious ones so
    // that Decode never prints "<s>" or "<0x0A>".
    if (!byte_level) {
      for (size_t i = 0; i < n; ++i) {
        if (ParseByteToken(vocab_.tokens[i]) >= 0) types_[i] = TokenType::kByte;
      }
    }
    for (int32_t id : {vocab_.bos_id, vocab_.eos_id, vocab_.pad_id}) {
      if (id >= 0) types_[static_cast<size_t>(id)] = TokenType::kControl;
    }
    for (int32_t id : vocab_.eog_ids) types_[static_cast<size_t>(id)] = TokenType::kControl;
    if (vocab_.unk_id >= 0) types_[static_cast<size_t>(vocab_.unk_id)] = TokenType::kUnknown;
  }

  index_.Build(vocab_.tokens);  // later duplicates win, as in llama.cpp's token_to_id

  piece_offsets_.reserve(n + 1);
  for (size_t i = 0; i < n; ++i) {
    piece_offsets_.push_back(static_cast<uint32_t>(pieces_.size()));
    const std::string& text = vocab_.tokens[i];
    switch (types_[i]) {
      case TokenType::kByte: {
        const int b = ParseByteToken(text);
        if (b >= 0) {
          pieces_.push_back(static_cast<char>(b));
          break;
        }
        [[fallthrough]];  // a "byte" token that does not look like one renders as normal text
      }
      case TokenType::kNormal: pieces_ += byte_level ? ByteLevelDecode(text) : UnescapeSpmSpaces(text); break;
      case TokenType::kUserDefined: pieces_ += text; break;
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUnused: break;
    }
  }
  piece_offsets_.push_back(static_cast<uint32_t>(pieces_.size()));

  for (size_t i = 0; i < n; ++i) {
    if (vocab_.tokens[i].empty()) continue;
    const TokenType t = types_[i];
    if (t == TokenType::kControl || t == TokenType::kUnknown || t == TokenType::kUserDefined) {
      specials_all_.push_back(static_cast<int32_t>(i));
      if (t == TokenType::kUserDefined) specials_user_.push_back(static_cast<int32_t>(i));
    }
  }
  auto longer_first = [this](int32_t a, int32_t b) {
    const size_t la = vocab_.tokens[static_cast<size_t>(a)].size();
    const size_t lb = vocab_.tokens[static_cast<size_t>(b)].size();
    return la != lb ? la > lb : a < b;
  };
  std::sort(specials_all_.begin(), specials_all_.end(), longer_first);
  std::sort(specials_user_.begin(), specials_user_.end(), longer_first);
}

std::string IndexedTokenizer::TokenBytes(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return {};
  const TokenType t = type(id);
  if (render_special && (t == TokenType::kControl || t == TokenType::kUnknown)) {
    return vocab_.tokens[static_cast<size_t>(id)];
  }
  return std::string(Piece(id));
}

void IndexedTokenizer::Partition(std::string_view text, bool parse_special,
                                 std::vector<Fragment>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back({-1, 0, static_cast<uint32_t>(text.size())});
  const std::vector<int32_t>& specials = parse_special ? specials_all_ : specials_user_;
  std::vector<Fragment> next;
  for (int32_t id : specials) {
    const std::string& special = vocab_.tokens[static_cast<size_t>(id)];
    if (text.find(special) == std::string_view::npos) continue;  // the common case: skip at once
    next.clear();
    for (const Fragment& f : out) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      uint32_t pos = f.begin;
      while (pos < f.end) {
        const size_t hit = text.substr(0, f.end).find(special, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, static_cast<uint32_t>(hit)});
        next.push_back({id, static_cast<uint32_t>(hit), static_cast<uint32_t>(hit + special.size())});
        pos = static_cast<uint32_t>(hit + special.size());
      }
      if (pos < f.end) next.push_back({-1, pos, f.end});
    }
    out.swap(next);
  }
}

Result<std::vector<int32_t>> IndexedTokenizer::Encode(std::string_view text, bool add_bos,
                                                      bool parse_special) const {
  if (text.size() > kMaxEncodeBytes) {
    return InvalidArgument("text of " + std::to_string(text.size()) +
                           " bytes is too long to tokenize (limit " + std::to_string(kMaxEncodeBytes) +
                           " bytes)");
  }
  if (!IsValidUtf8(text)) return InvalidArgument("text is not valid UTF-8");
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_bos && vocab_.add_bos && vocab_.bos_id >= 0) out.push_back(vocab_.bos_id);
  std::vector<Fragment> fragments;
  Partition(text, parse_special, fragments);
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
      continue;
    }
    MERIDIAN_RETURN_IF_ERROR(EncodeText(text.substr(f.begin, f.end - f.begin), after_special, out));
    after_special = false;
  }
  if (add_bos && vocab_.add_eos && vocab_.eos_id >= 0) out.push_back(vocab_.eos_id);
  return out;
}

}  // namespace meridian::engine::tokenizer_internal
