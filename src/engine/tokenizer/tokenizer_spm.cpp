// SentencePiece BPE encoding, as sentencepiece's bpe_model.cc and llama.cpp's llm_tokenizer_spm
// do it: every UTF-8 character starts as a symbol; the adjacent pair forming the highest-scoring
// piece merges first (leftmost on ties); what is left that is not a piece falls back to
// <0xAB> byte pieces, or to the unknown piece.
#include "engine/tokenizer/tokenizer_spm.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "engine/tokenizer/unicode.h"

namespace meridian::engine::tokenizer_internal {
namespace {

struct Symbol {
  uint32_t begin;  // byte offset in the escaped text; symbols stay contiguous
  uint32_t n;      // byte length; 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;  // bytes of the merged piece, to detect a pair that went stale
};

// Heap order: highest score on top, then the leftmost pair.
bool LowerPriority(const Bigram& a, const Bigram& b) {
  return a.score < b.score || (a.score == b.score && a.left > b.left);
}

bool IsSpmSpaceAt(std::string_view text, size_t pos) {
  return pos + kSpmSpace.size() <= text.size() && text.compare(pos, kSpmSpace.size(), kSpmSpace) == 0;
}

}  // namespace

struct SpmTokenizer::Scratch {
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  // Pieces of type "unused" may be formed but are never output: they are split back into the
  // two pieces that formed them (SentencePiece's resegmentation).
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> rev_merge;
  bool prev_unknown = false;
  Status status;
};

SpmTokenizer::SpmTokenizer(VocabData vocab) : IndexedTokenizer(std::move(vocab), /*byte_level=*/false) {
  char name[7];
  for (int b = 0; b < 256; ++b) {
    static const char kHex[] = "0123456789ABCDEF";
    name[0] = '<', name[1] = '0', name[2] = 'x', name[3] = kHex[b >> 4], name[4] = kHex[b & 15],
    name[5] = '>';
    byte_token_[static_cast<size_t>(b)] = Find(std::string_view(name, 6));
  }
  split_at_words_ = true;
  for (int32_t id = 0; id < n_vocab() && split_at_words_; ++id) {
    if (!Mergeable(id)) continue;
    const std::string_view piece = vocab_.tokens[static_cast<size_t>(id)];
    for (size_t pos = piece.find(kSpmSpace, 1); pos != std::string_view::npos;
         pos = piece.find(kSpmSpace, pos + 1)) {
      if (pos < kSpmSpace.size() || !IsSpmSpaceAt(piece, pos - kSpmSpace.size())) {
        split_at_words_ = false;
        break;
      }
    }
  }
}

Status SpmTokenizer::EncodeText(std::string_view raw, bool after_special, std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(raw.size() + raw.size() / 2 + kSpmSpace.size());
  if (vocab_.add_space_prefix && after_special) text += kSpmSpace;
  for (char c : raw) {
    if (c == ' ') {
      text += kSpmSpace;
    } else {
      text.push_back(c);
    }
  }
  Scratch scratch;
  if (!split_at_words_) {
    EncodeSegment(text, 0, text.size(), scratch, out);
    return scratch.status;
  }
  // Segments start at each "▁" that follows another character than "▁".
  size_t start = 0;
  for (size_t pos = text.find(kSpmSpace, 1); pos != std::string::npos; pos = text.find(kSpmSpace, pos + 1)) {
    if (pos >= kSpmSpace.size() && IsSpmSpaceAt(text, pos - kSpmSpace.size())) continue;
    EncodeSegment(text, start, pos, scratch, out);
    start = pos;
  }
  EncodeSegment(text, start, text.size(), scratch, out);
  return scratch.status;
}

void SpmTokenizer::EncodeSegment(std::string_view text, size_t begin, size_t end, Scratch& s,
                                 std::vector<int32_t>& out) const {
  std::vector<Symbol>& symbols = s.symbols;
  std::vector<Bigram>& heap = s.heap;
  symbols.clear();
  heap.clear();
  for (size_t pos = begin; pos < end;) {
    const size_t len =
        std::min(std::max<size_t>(Utf8SequenceLength(static_cast<uint8_t>(text[pos])), 1), end - pos);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), index - 1, index + 1});
    pos += len;
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  auto symbol_text = [&](const Symbol& sym) { return text.substr(sym.begin, sym.n); };
  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const std::string_view piece = text.substr(l.begin, l.n + r.n);
    const int32_t id = Find(piece);
    if (id < 0 || !Mergeable(id)) return;
    heap.push_back({Score(id), left, right, l.n + r.n});
    std::push_heap(heap.begin(), heap.end(), LowerPriority);
    if (type(id) == TokenType::kUnused) s.rev_merge[piece] = {symbol_text(l), symbol_text(r)};
  };

  for (size_t i = 1; i < symbols.size(); ++i) {
    try_add_bigram(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  }
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LowerPriority);
    const Bigram bigram = heap.back();
    heap.pop_back();
    Symbol& left = symbols[static_cast<size_t>(bigram.left)];
    Symbol& right = symbols[static_cast<size_t>(bigram.right)];
    // A pair one of whose symbols has since merged with something else is stale.
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  // Depth is bounded by the piece length in bytes: each step splits a piece in two.
  auto emit = [&](auto&& self, std::string_view piece) -> void {
    const int32_t id = Find(piece);
    if (id >= 0 && Mergeable(id)) {
      if (type(id) == TokenType::kUnused) {
        auto it = s.rev_merge.find(piece);
        if (it != s.rev_merge.end()) {
          self(self, it->second.first);
          self(self, it->second.second);
          return;
        }
      }
      out.push_back(id);
      s.prev_unknown = false;
      return;
    }
    // Not a piece (only single characters get here): its bytes as byte pieces if the vocabulary
    // has them all, else the unknown piece, once for a run of unknown characters.
    const bool all_bytes = std::all_of(piece.begin(), piece.end(),
                                       [&](char c) { return byte_token_[static_cast<uint8_t>(c)] >= 0; });
    if (all_bytes) {
      for (char c : piece) out.push_back(byte_token_[static_cast<uint8_t>(c)]);
      s.prev_unknown = false;
      return;
    }
    if (vocab_.unk_id < 0) {
      if (s.status.ok()) {
        s.status = InvalidArgument(
            "text contains a character this vocabulary cannot encode (no piece, no byte pieces and no "
            "unknown "
            "token) at byte " +
            std::to_string(piece.data() - text.data()) + " of the escaped text");
      }
      return;
    }
    if (!s.prev_unknown) out.push_back(vocab_.unk_id);
    s.prev_unknown = true;
  };
  for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    emit(emit, symbol_text(symbols[static_cast<size_t>(i)]));
  }
}

}  // namespace meridian::engine::tokenizer_internal
