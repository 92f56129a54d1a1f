// MakeShardPlan: the head, FFN and vocabulary ranges of one rank, and the divisibility checks.
#include "engine/parallel/shard_plan.h"

#include <algorithm>
#include <string>

namespace meridian::engine::parallel {
namespace {

// Share `rank` of `units` units split over `size` ranks as evenly as possible, in elements.
Range EvenShare(int64_t units, int64_t unit, int32_t size, int32_t rank, int64_t total) {
  const int64_t begin = units * rank / size * unit;
  const int64_t end = rank + 1 == size ? total : units * (rank + 1) / size * unit;
  return {begin, end - begin};
}

}  // namespace

Result<ShardPlan> MakeShardPlan(const LlamaConfig& c, int32_t size, int32_t rank, ColumnBlocks blocks) {
  if (size < 1 || size > kMaxTensorParallel) {
    return InvalidArgument("tensor-parallel degree " + std::to_string(size) + " must be in [1, " +
                           std::to_string(kMaxTensorParallel) + "]");
  }
  if (rank < 0 || rank >= size) {
    return InvalidArgument("rank " + std::to_string(rank) + " out of range for " + std::to_string(size) +
                           " ranks");
  }
  const int64_t wo_block = std::max<int64_t>(1, blocks.attn_output);
  const int64_t down_block = std::max<int64_t>(1, blocks.ffn_down);
  const std::string tp = "tensor parallelism over " + std::to_string(size) + " ranks: ";
  if (c.n_heads % size != 0 || c.n_kv_heads % size != 0) {
    return InvalidArgument(
        tp + "the model's " + std::to_string(c.n_heads) + " attention heads and " +
        std::to_string(c.n_kv_heads) +
        " KV heads must both be divisible by the degree (each rank takes whole GQA groups); "
        "pick a degree that divides both");
  }
  ShardPlan p;
  p.rank = rank;
  p.size = size;
  p.head_dim = c.head_dim;
  p.heads = {static_cast<int64_t>(c.n_heads) / size * rank, c.n_heads / size};
  p.kv_heads = {static_cast<int64_t>(c.n_kv_heads) / size * rank, c.n_kv_heads / size};
  if ((p.heads.size * c.head_dim) % wo_block != 0) {
    return InvalidArgument(tp + "each rank's " + std::to_string(p.heads.size) + " heads x " +
                           std::to_string(c.head_dim) + " = " + std::to_string(p.heads.size * c.head_dim) +
                           " columns of attn_output do not fill whole " + std::to_string(wo_block) +
                           "-element quantization blocks; use fewer ranks or an unquantized model");
  }
  if (c.ffn_dim % down_block != 0 || c.ffn_dim / down_block < size) {
    return InvalidArgument(tp + "the FFN's " + std::to_string(c.ffn_dim) + " columns cannot be split into " +
                           std::to_string(size) + " shares of whole " + std::to_string(down_block) +
                           "-element quantization blocks");
  }
  p.ffn = EvenShare(c.ffn_dim / down_block, down_block, size, rank, c.ffn_dim);
  if (c.n_vocab < size) {
    return InvalidArgument(tp + "the vocabulary of " + std::to_string(c.n_vocab) + " tokens is too small");
  }
  p.vocab = EvenShare(c.n_vocab, 1, size, rank, c.n_vocab);
  return p;
}

}  // namespace meridian::engine::parallel
