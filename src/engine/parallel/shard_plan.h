// The shard plan of tensor parallelism (Megatron-style): which attention heads, KV heads, FFN
// columns and vocabulary rows one rank of N owns.
//
//   wq, wk, wv, w_gate, w_up  column-parallel: the rank keeps its rows (output features)
//   wo, w_down                row-parallel: the rank keeps its columns (input features) and
//                             produces a partial sum, all-reduced after attention and after the FFN
//   KV cache                  the rank stores its KV heads only
//   token_embd                replicated (a lookup: each rank reads the rows of its tokens)
//   output (lm head)          split by vocabulary rows: each rank writes its slice of the logits
//                             (a gather: shared memory on the CPU, an all-gather under NCCL)
//   norms                     replicated
//
// Heads are split in whole GQA groups (rank r owns query heads [r*H/N, (r+1)*H/N) and KV heads
// [r*K/N, (r+1)*K/N)), so H and K must both be divisible by N. FFN columns are split as evenly
// as the quantization blocks of w_down allow, vocabulary rows as evenly as possible.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "engine/model/llama_config.h"

namespace meridian::engine::parallel {

//! A half-open range [begin, begin + size).
struct Range {
  int64_t begin = 0;
  int64_t size = 0;
  int64_t end() const { return begin + size; }
};

struct ShardPlan {
  int32_t rank = 0;
  int32_t size = 1;  //!< ranks in the group (the tensor-parallel degree)
  Range heads;       //!< query heads
  Range kv_heads;    //!< KV heads
  Range ffn;         //!< FFN columns (rows of w_gate/w_up, columns of w_down)
  Range vocab;       //!< rows of the output projection (columns of the logits)
  int32_t head_dim = 0;
  Range q_cols() const { return {heads.begin * head_dim, heads.size * head_dim}; }         //!< of wo
  Range kv_rows() const { return {kv_heads.begin * head_dim, kv_heads.size * head_dim}; }  //!< of wk/wv
  //! True when this rank holds the whole model (size 1).
  bool whole() const { return size == 1; }
};

//! Block lengths (in elements) of the dtypes of the row-parallel matrices: 32 for Q8_0, 1 for
//! F32/F16/BF16. Their column slices must cut rows at block boundaries.
struct ColumnBlocks {
  int64_t attn_output = 1;  //!< of wo
  int64_t ffn_down = 1;     //!< of w_down
};

//! The plan of `rank` in a group of `size`. InvalidArgument, with what would work, when the
//! heads, KV heads or FFN do not divide.
Result<ShardPlan> MakeShardPlan(const LlamaConfig& config, int32_t size, int32_t rank,
                                ColumnBlocks blocks = {});

//! The largest tensor-parallel degree supported (threads on one host).
inline constexpr int32_t kMaxTensorParallel = 64;

}  // namespace meridian::engine::parallel
