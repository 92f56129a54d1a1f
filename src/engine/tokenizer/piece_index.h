// An open-addressing hash index from token text to token id, built once per tokenizer. Lookups
// sit on the hot path of encoding (several per input character), where std::unordered_map's
// node chasing cost more than the merging itself. Internal to the tokenizer library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::engine::tokenizer_internal {

class PieceIndex {
 public:
  //! Indexes `texts` (empty texts are skipped; for duplicates the last id wins).
  void Build(const std::vector<std::string>& texts);
  //! The id whose text is exactly `text`, or -1.
  int32_t Find(std::string_view text) const {
    if (slots_.empty()) return -1;
    const uint64_t h = Hash(text);
    const auto tag = static_cast<uint32_t>(h >> 32) | 1u;  // never 0: 0 marks an empty slot
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return -1;
      if (s.tag == tag) {
        const uint32_t begin = offsets_[static_cast<size_t>(s.id)];
        const uint32_t len = offsets_[static_cast<size_t>(s.id) + 1] - begin;
        if (len == text.size() && blob_.compare(begin, len, text) == 0) return s.id;
      }
    }
  }

  static uint64_t Hash(std::string_view text);

 private:
  struct Slot {
    uint32_t tag = 0;
    int32_t id = -1;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  std::string blob_;               //!< all texts, concatenated
  std::vector<uint32_t> offsets_;  //!< n + 1 offsets into blob_
};

}  // namespace meridian::engine::tokenizer_internal
