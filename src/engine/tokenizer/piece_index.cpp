// PieceIndex: linear probing over a power-of-two table at most half full.
#include "engine/tokenizer/piece_index.h"

#include <cstring>

namespace meridian::engine::tokenizer_internal {
namespace {

uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t PieceIndex::Hash(std::string_view text) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (text.size() * 0xFF51AFD7ED558CCDull);
  const char* p = text.data();
  size_t n = text.size();
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0x9FB21C651E98DF25ull;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  return Mix(h ^ tail);
}

void PieceIndex::Build(const std::vector<std::string>& texts) {
  blob_.clear();
  offsets_.clear();
  offsets_.reserve(texts.size() + 1);
  for (const std::string& t : texts) {
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
    blob_ += t;
  }
  offsets_.push_back(static_cast<uint32_t>(blob_.size()));
  size_t capacity = 16;
  while (capacity < texts.size() * 2) capacity *= 2;
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (size_t id = 0; id < texts.size(); ++id) {
    const std::string_view text = texts[id];
    if (text.empty()) continue;
    const uint64_t h = Hash(text);
    const auto tag = static_cast<uint32_t>(h >> 32) | 1u;
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.tag == 0) {
        s = {tag, static_cast<int32_t>(id)};
        break;
      }
      if (s.tag == tag && texts[static_cast<size_t>(s.id)] == text) {
        s.id = static_cast<int32_t>(id);  // a later duplicate wins
        break;
      }
    }
  }
}

}  // namespace meridian::engine::tokenizer_internal
