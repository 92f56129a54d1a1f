// The backend interface: runs one batched forward step of the model over a paged KV cache.
// The CPU backend implements it here; the CUDA backend implements the same contract. The
// scheduler owns block allocation (KvBlockAllocator); a backend owns the block storage.
// Thread-safety: a backend is driven by one thread (the engine loop).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "engine/model/model.h"

namespace meridian::engine {

enum class LogitsMode { kNone, kLast, kAll };

//! New tokens of one sequence for this step.
struct SequenceStep {
  std::span<const int32_t> tokens;     //!< tokens to process, at positions n_past, n_past+1, ...
  int32_t n_past = 0;                  //!< tokens of this sequence already in the KV cache
  std::span<const int32_t> kv_blocks;  //!< block table covering positions [0, n_past + tokens.size())
  LogitsMode logits = LogitsMode::kLast;
};

//! Which device runs the model.
enum class BackendKind { kCpu, kCuda };

//! "cpu" or "cuda"; InvalidArgument for anything else.
Result<BackendKind> BackendKindFromName(std::string_view name);

struct BackendOptions {
  BackendKind kind = BackendKind::kCpu;  //!< chosen by MakeBackend
  double gpu_memory_fraction = 0.9;      //!< CUDA: share of the GPU's memory for weights + KV + scratch
  int32_t n_threads = 0;          //!< CPU threads (0: all cores)
  int32_t kv_block_tokens = 16;   //!< tokens per KV block
  int64_t kv_cache_tokens = 0;    //!< capacity in tokens (0: the model's context length)
  int32_t tensor_parallel = 1;    //!< ranks splitting every layer (engine/parallel; 1: none)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  //! Runs the model over every step's tokens, writing their K/V into the given blocks, and
  //! writes logits (n_vocab floats each) for the rows each step asks for, in step order.
  //! InvalidArgument for a malformed step (block table too short, token id out of range).
  virtual Status Forward(std::span<const SequenceStep> steps, float* logits) = 0;
  virtual int32_t kv_block_tokens() const = 0;
  virtual int32_t kv_blocks_total() const = 0;
  //! Bytes of KV storage allocated.
  virtual uint64_t kv_bytes() const = 0;
};

//! The CPU backend for a loaded model (which must outlive it).
Result<std::unique_ptr<Backend>> MakeCpuBackend(const Model& model, const BackendOptions& options);
//! The CUDA backend (GPU 0 of CUDA_VISIBLE_DEVICES): uploads the weights and preallocates the KV
//! block pool within options.gpu_memory_fraction of the GPU's memory (all of kv_cache_tokens
//! when given, else whatever the fraction leaves). Unavailable in a build without CUDA or on a
//! machine without a usable GPU; ResourceExhausted when the model or the KV cache does not fit.
Result<std::unique_ptr<Backend>> MakeCudaBackend(const Model& model, const BackendOptions& options);
//! The backend options.kind names.
Result<std::unique_ptr<Backend>> MakeBackend(const Model& model, const BackendOptions& options);
//! True if this binary was built with the CUDA backend.
bool CudaBackendBuilt();
//! GPU 0's device-to-device copy bandwidth in GB/s, counting bytes read and written (the best of
//! a few 1 GiB copies); Unavailable without CUDA or a GPU.
Result<double> MeasureGpuCopyBandwidthGBs();

}  // namespace meridian::engine
