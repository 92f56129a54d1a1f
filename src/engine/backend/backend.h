// The backend interface: runs one batched forward step of the model over a paged KV cache.
// The CPU backend implements it here; the CUDA backend implements the same contract. The
// scheduler owns block allocation (KvBlockAllocator); a backend owns the block storage.
// Thread-safety: a backend is driven by one thread (the engine loop).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

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

struct BackendOptions {
  int32_t n_threads = 0;          //!< CPU threads (0: all cores)
  int32_t kv_block_tokens = 16;   //!< tokens per KV block
  int64_t kv_cache_tokens = 0;    //!< capacity in tokens (0: the model's context length)
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

}  // namespace meridian::engine
