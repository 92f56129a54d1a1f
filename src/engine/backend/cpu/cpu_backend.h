// The CPU backend: the llama forward pass over a paged f32 KV cache, batched across sequences
// at different positions, on the SIMD kernels and thread pool of backend/cpu/kernels. It runs
// the whole model, or one rank's share of it under tensor parallelism (engine/parallel): that
// rank's heads, KV heads, FFN columns and vocabulary rows, with an all-reduce of the partial
// sums after attention and after the FFN.
// Thread-safety: driven by one thread (the engine loop, or its rank's thread); uses its pool
// internally.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/kernels/thread_pool.h"
#include "engine/model/model_storage.h"
#include "engine/parallel/communicator.h"
#include "engine/parallel/rank_weights.h"
#include "engine/parallel/shard_plan.h"

namespace meridian::engine::cpu {

//! What one rank of a tensor-parallel group computes with; default: the whole model, alone.
struct RankShard {
  parallel::ShardPlan plan;                         //!< ignored when weights is null
  std::unique_ptr<parallel::RankWeights> weights;   //!< null: the model's own weights, unsplit
  parallel::Communicator* comm = nullptr;           //!< the rank's communicator (null: alone)
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Model& model, const BackendOptions& options, int32_t n_blocks, RankShard shard = {});

  std::string name() const override { return "cpu"; }
  Status Forward(std::span<const SequenceStep> steps, float* logits) override;
  int32_t kv_block_tokens() const override { return block_tokens_; }
  int32_t kv_blocks_total() const override { return n_blocks_; }
  uint64_t kv_bytes() const override { return kv_floats_ * sizeof(float); }
  //! The heads, FFN columns and vocabulary rows this backend computes.
  const parallel::ShardPlan& plan() const { return plan_; }
  ThreadPool& pool() { return pool_; }
  //! False if the KV storage could not be allocated.
  bool allocated() const { return kv_ != nullptr; }

 private:
  //! Where token position `pos` of a sequence keeps K (kv = 0) or V (kv = 1) of `layer`.
  float* KvRow(std::span<const int32_t> blocks, int32_t pos, int32_t layer, int kv) const {
    const int32_t block = blocks[static_cast<size_t>(pos / block_tokens_)];
    const int64_t slot = pos % block_tokens_;
    return reinterpret_cast<float*>(kv_.get()) + (((static_cast<int64_t>(block) * config_.n_layers + layer) * 2 + kv) * block_tokens_ + slot) *
                           kv_dim_;
  }
  //! Y = X W^T through the packed copy of W when there is one.
  void Project(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy);
  //! Repacks every Q8_0 matrix into the kernels' interleaved layout (1.3-1.6x faster decode) and
  //! releases the mapped pages of the originals, so the weights stay resident once.
  void PackWeights();
  void EnsureScratch(int64_t n_tokens);
  void ApplyRope(float* vec, int32_t n_heads, int32_t pos) const;
  void Attention(int32_t layer, std::span<const SequenceStep> steps);

  const Model& model_;
  const LlamaConfig& config_;
  std::unique_ptr<parallel::RankWeights> rank_weights_;  //!< null: the model's own weights
  const ModelWeights& weights_;                          //!< the model's, or rank_weights_'s
  parallel::ShardPlan plan_;
  parallel::Communicator* comm_;  //!< null when alone
  // This rank's widths (the model's when alone): query/KV heads, their row counts, FFN columns.
  int32_t n_heads_, n_kv_heads_;
  int64_t q_dim_, kv_dim_, ffn_dim_;
  ThreadPool pool_;
  int32_t block_tokens_;
  int32_t n_blocks_;
  uint64_t kv_floats_;
  AlignedBuffer kv_;  //!< [block][layer][K|V][slot][kv_dim_] floats
  std::vector<float> inv_freq_;  //!< per rotary pair, scaling applied
  //!< by the address of the source WeightTensor in weights_
  std::unordered_map<const WeightTensor*, PackedQ8Weights> packed_;

  // Per-token bookkeeping and activations for the current step, grown as needed.
  int64_t scratch_tokens_ = 0;
  int64_t current_tokens_ = 0;  //!< tokens in the step being run
  std::vector<int32_t> token_pos_;    //!< absolute position of each token
  std::vector<int32_t> token_step_;   //!< index of its SequenceStep
  std::vector<float> x_, xn_, q_, k_, v_, attn_, gate_, up_;
};

}  // namespace meridian::engine::cpu
