// KvBlockAllocator: free-list allocation of KV blocks.
#include "engine/kv/kv_block_allocator.h"

namespace meridian::engine {

KvBlockAllocator::KvBlockAllocator(int32_t n_blocks, int32_t block_tokens)
    : n_blocks_(n_blocks), block_tokens_(block_tokens) {
  free_.reserve(static_cast<size_t>(n_blocks));
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int32_t KvBlockAllocator::BlocksFor(int64_t n_tokens) const {
  return static_cast<int32_t>((n_tokens + block_tokens_ - 1) / block_tokens_);
}

Status KvBlockAllocator::Reserve(std::vector<int32_t>& table, int64_t n_tokens) {
  int64_t need = static_cast<int64_t>(BlocksFor(n_tokens)) - static_cast<int64_t>(table.size());
  if (need <= 0) return Status::Ok();
  if (need > static_cast<int64_t>(free_.size())) {
    return ResourceExhausted("KV cache full: need " + std::to_string(need) + " more blocks of " +
                             std::to_string(block_tokens_) + " tokens, " + std::to_string(free_.size()) +
                             " free");
  }
  for (int64_t i = 0; i < need; ++i) {
    table.push_back(free_.back());
    free_.pop_back();
  }
  return Status::Ok();
}

void KvBlockAllocator::Release(std::vector<int32_t>& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) free_.push_back(*it);
  table.clear();
}

}  // namespace meridian::engine
