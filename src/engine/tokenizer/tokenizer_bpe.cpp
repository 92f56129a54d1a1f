// Byte-level BPE encoding, as llama.cpp's llm_tokenizer_bpe and Hugging Face's BPE model do it:
// per pre-tokenized word, the adjacent pair with the lowest merge rank merges first (leftmost on
// ties) until no listed merge applies; symbols that are not tokens become byte tokens.
#include "engine/tokenizer/tokenizer_bpe.h"

#include <algorithm>
#include <utility>

#include "engine/tokenizer/byte_level.h"

namespace meridian::engine::tokenizer_internal {
namespace {

struct Symbol {
  int32_t sym;     // symbol id (see BpeTokenizer::Intern), -1 if the text is unknown
  uint32_t begin;  // byte offset in the word
  uint32_t n;      // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  uint32_t size;
  int32_t result;
};

// Heap order: lowest rank on top, then the leftmost pair.
bool LowerPriority(const Bigram& a, const Bigram& b) {
  return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
}

}  // namespace

struct BpeTokenizer::Scratch {
  std::string mapped;
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  std::vector<WordSpan> words;
};

BpeTokenizer::BpeTokenizer(VocabData vocab, PreTokenizer pre)
    : IndexedTokenizer(std::move(vocab), /*byte_level=*/true), pre_(pre) {
  merges_.reserve(vocab_.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const std::string_view merge = vocab_.merges[rank];
    // As llama.cpp: the separator is the first space after the first character.
    const size_t space = merge.find(' ', 1);
    if (space == std::string_view::npos) continue;  // rejected by MakeTokenizer already
    const std::string_view a = merge.substr(0, space);
    const std::string_view b = merge.substr(space + 1);
    joined.assign(a);
    joined.append(b);
    const int32_t left = Intern(a);
    const int32_t right = Intern(b);
    const int32_t result = Intern(joined);
    merges_.emplace(PairKey(left, right), Merge{static_cast<int32_t>(rank), result});  // first rank wins
  }
  for (int b = 0; b < 256; ++b) {
    const std::string_view mapped = ByteToUtf8(static_cast<uint8_t>(b));
    byte_token_[static_cast<size_t>(b)] = Find(mapped);
    byte_symbol_[static_cast<size_t>(b)] = SymbolId(mapped);
  }
}

int32_t BpeTokenizer::Intern(std::string_view text) {
  const int32_t id = SymbolId(text);
  if (id >= 0) return id;
  const auto next = static_cast<int32_t>(n_vocab() + extra_symbols_.size());
  extra_symbols_.emplace(std::string(text), next);
  return next;
}

int32_t BpeTokenizer::SymbolId(std::string_view text) const {
  const int32_t id = Find(text);
  if (id >= 0) return id;
  auto it = extra_symbols_.find(std::string(text));
  return it == extra_symbols_.end() ? -1 : it->second;
}

Status BpeTokenizer::EmitBytes(std::string_view bytes, std::vector<int32_t>& out) const {
  for (char c : bytes) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      out.push_back(id);
    } else if (vocab_.unk_id >= 0) {
      out.push_back(vocab_.unk_id);
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      const auto b = static_cast<uint8_t>(c);
      return InvalidArgument(std::string("text contains byte 0x") + kHex[b >> 4] + kHex[b & 15] +
                             " that this byte-level vocabulary has no token for (and no unknown token)");
    }
  }
  return Status::Ok();
}

Status BpeTokenizer::EncodeWord(std::string_view word, Scratch& scratch, std::vector<int32_t>& out) const {
  if (word.size() == 1) return EmitBytes(word, out);
  if (pre_.ignore_merges) {
    scratch.mapped.clear();
    ByteLevelEncode(word, scratch.mapped);
    const int32_t id = Find(scratch.mapped);
    if (id >= 0) {
      out.push_back(id);
      return Status::Ok();
    }
  }

  std::vector<Symbol>& symbols = scratch.symbols;
  std::vector<Bigram>& heap = scratch.heap;
  symbols.clear();
  heap.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    const auto index = static_cast<int32_t>(i);
    symbols.push_back(
        {byte_symbol_[static_cast<uint8_t>(word[i])], static_cast<uint32_t>(i), 1, index - 1, index + 1});
  }
  symbols.back().next = -1;

  auto try_add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    if (l.sym < 0 || r.sym < 0) return;
    auto it = merges_.find(PairKey(l.sym, r.sym));
    if (it == merges_.end()) return;
    heap.push_back({it->second.rank, left, right, l.n + r.n, it->second.result});
    std::push_heap(heap.begin(), heap.end(), LowerPriority);
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
    if (left.n == 0 || right.n == 0 || left.n + right.n != bigram.size) continue;  // stale pair
    left.sym = bigram.result;
    left.n += right.n;
    right.n = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    try_add_bigram(left.prev, bigram.left);
    try_add_bigram(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    if (s.sym >= 0 && s.sym < n_vocab()) {
      out.push_back(s.sym);
    } else {
      MERIDIAN_RETURN_IF_ERROR(EmitBytes(word.substr(s.begin, s.n), out));
    }
  }
  return Status::Ok();
}

Status BpeTokenizer::EncodeText(std::string_view text, bool /*after_special*/,
                                std::vector<int32_t>& out) const {
  Scratch scratch;
  SplitWords(pre_, text, scratch.words);
  for (const WordSpan& w : scratch.words) {
    MERIDIAN_RETURN_IF_ERROR(EncodeWord(text.substr(w.begin, w.end - w.begin), scratch, out));
  }
  return Status::Ok();
}

}  // namespace meridian::engine::tokenizer_internal
