// The rank-aware loader: one rank's slices of a loaded model's weights (shard_plan.h says which).
// Row slices (wq, wk, wv, w_gate, w_up, the output projection) are zero-copy views into the
// model's memory-mapped file, so a rank faults in only its own rows. Column slices (wo, w_down)
// are not contiguous in the file: each row's slice is copied into a buffer the rank owns (only
// those bytes are read). A backend that repacks weights can release those copies afterwards.
//
// Thread-safety: immutable after SliceModelWeights, except ReleaseOwned (owner thread only).
// Slicing reads the model only, so several ranks may slice one model concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "core/status.h"
#include "engine/model/model.h"
#include "engine/model/model_storage.h"
#include "engine/parallel/shard_plan.h"

namespace meridian::engine::parallel {

class RankWeights {
 public:
  //! The rank's weights in the model's shapes with the sharded dimensions narrowed:
  //! wq [heads*hd, dim], wk/wv [kv_heads*hd, dim], wo [dim, heads*hd], w_gate/w_up [ffn, dim],
  //! w_down [dim, ffn], output [vocab, dim]; token_embd and the norms are the full tensors.
  const ModelWeights& weights() const { return weights_; }
  //! True if `t` (one of weights()'s tensors) is a copy this object owns.
  bool Owns(const WeightTensor& t) const { return owned_.count(t.data) != 0; }
  //! Frees the owned copy behind `t` (after it was repacked) and clears t's data pointer. The
  //! tensor must not be read afterwards.
  void ReleaseOwned(const WeightTensor& t);
  //! Bytes of weight data this rank holds (views and copies), for reports and tests.
  uint64_t bytes() const { return bytes_; }

 private:
  friend Result<std::unique_ptr<RankWeights>> SliceModelWeights(const Model& model, const ShardPlan& plan);
  ModelWeights weights_;
  std::unordered_map<const void*, AlignedBuffer> owned_;
  uint64_t bytes_ = 0;
};

//! The slices of `model` that rank `plan.rank` computes with. For a whole plan (size 1) the
//! result views the model's tensors unchanged. InvalidArgument if a column slice would cut a
//! quantization block (MakeShardPlan with the right column_block prevents it).
Result<std::unique_ptr<RankWeights>> SliceModelWeights(const Model& model, const ShardPlan& plan);

//! The column blocks MakeShardPlan needs for `model`: per row-parallel matrix kind, the largest
//! block length over the layers (a converter may leave some matrices unquantized).
ColumnBlocks ColumnBlocksOf(const Model& model);

}  // namespace meridian::engine::parallel
