// Paged KV cache bookkeeping: hands out fixed-size block ids from a free list so sequences can be
// admitted and freed without copying KV data (the storage itself belongs to the backend).
// Not thread-safe: owned by the engine loop.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace meridian::engine {

class KvBlockAllocator {
 public:
  KvBlockAllocator(int32_t n_blocks, int32_t block_tokens);

  int32_t blocks_total() const { return n_blocks_; }
  int32_t blocks_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t block_tokens() const { return block_tokens_; }
  //! Blocks needed to hold `n_tokens` tokens.
  int32_t BlocksFor(int64_t n_tokens) const;

  //! Grows `table` so it covers `n_tokens` tokens; ResourceExhausted (table unchanged) if there
  //! are not enough free blocks.
  Status Reserve(std::vector<int32_t>& table, int64_t n_tokens);
  //! Returns every block of `table` to the free list and clears it.
  void Release(std::vector<int32_t>& table);

 private:
  int32_t n_blocks_;
  int32_t block_tokens_;
  std::vector<int32_t> free_;  //!< a stack: recently freed blocks are reused first (warm in cache)
};

}  // namespace meridian::engine
