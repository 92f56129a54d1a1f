// The CUDA backend: the llama forward pass on one GPU over a paged fp16 KV cache, batched across
// sequences at different positions. Decode batches (<= 8 tokens) use the Q8_0/F16
// matrix-vector kernels, larger steps the tensor-core GEMM; logits are copied back to the host
// for the engine's sampler. Decode steps are captured once per shape into CUDA graphs and
// replayed (MERIDIAN_CUDA_GRAPHS=0 turns that off): the step's tokens, positions and block
// tables live in device memory that the graph reads, so they change without a new capture.
// Thread-safety: driven by one thread at a time (the engine loop); owns one CUDA stream.
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_weights.h"
#include "engine/backend/cuda/device_buffer.h"
#include "engine/backend/cuda/kernels.h"

namespace meridian::engine::cuda {

class CudaBackend final : public Backend {
 public:
  //! `reference` runs the scalar reference kernels instead of the fast ones (tests).
  static Result<std::unique_ptr<CudaBackend>> Create(const Model& model, const BackendOptions& options,
                                                     bool reference);
  ~CudaBackend() override;

  std::string name() const override { return reference_ ? "cuda-reference" : "cuda"; }
  Status Forward(std::span<const SequenceStep> steps, float* logits) override;
  int32_t kv_block_tokens() const override { return geom_.block_tokens; }
  int32_t kv_blocks_total() const override { return n_blocks_; }
  uint64_t kv_bytes() const override { return kv_.bytes(); }
  //! Bytes of GPU memory the weights take.
  uint64_t weight_bytes() const { return weights_.bytes(); }
  //! Whether decode steps run as CUDA graphs, and how many have been captured (tests).
  bool graphs_enabled() const { return use_graphs_; }
  int64_t graphs_captured() const { return graphs_captured_; }

 private:
  CudaBackend(const Model& model, bool reference);
  //! Grows the activation scratch to `tokens` rows and the logits buffer to `logit_rows` rows.
  Status EnsureScratch(int64_t tokens, int64_t logit_rows);
  Status EnsureMeta(int64_t ints);
  //! y (+)= x W^T for m rows of x (f32 [m][w.cols]).
  void Project(const GpuMatrix& w, const float* x, int64_t m, float* y, bool accumulate);
  //! y = rmsnorm(x) W^T (RMSNorm fused with the activation quantization on the Q8 matvec path).
  void NormProject(const float* x, const float* norm, int64_t n, const GpuMatrix& w, float* y);
  //! Enqueues the whole model for n tokens whose metadata is at `d` (Forward's layout).
  void EnqueueForward(const int32_t* d, int64_t n, int64_t rows, int32_t max_ctx);
  //! Replays (capturing first if needed) the graph of this step shape; false when capture
  //! failed, after which graphs are off and the caller runs the kernels directly.
  bool LaunchGraph(const int32_t* d, int64_t n, int64_t rows, int32_t max_ctx);
  void ClearGraphs();

  const Model& model_;
  const LlamaConfig& config_;
  bool reference_;
  cudaStream_t stream_ = nullptr;
  int n_sms_ = 1;
  KvGeometry geom_;
  int32_t n_blocks_ = 0;
  DeviceWeights weights_;
  DeviceBuffer kv_;        //!< [block][layer][K|V][slot][kv_dim] fp16
  DeviceBuffer inv_freq_;  //!< f32 [head_dim / 2]

  int64_t scratch_tokens_ = 0, logit_rows_ = 0, meta_ints_ = 0;
  DeviceBuffer x_, xn_, qkv_, attn_, gu_, h_, xq_, xd_, xh_, partials_, logits_, meta_;
  PinnedBuffer meta_host_;

  //! (tokens, logit rows, attention split length, attention splits) -> instantiated graph. The
  //! graphs hold scratch and metadata pointers: cleared whenever those buffers are reallocated.
  using GraphKey = std::tuple<int64_t, int64_t, int32_t, int32_t>;
  std::map<GraphKey, cudaGraphExec_t> graphs_;
  bool use_graphs_ = false;
  int64_t graphs_captured_ = 0;
};

}  // namespace meridian::engine::cuda
