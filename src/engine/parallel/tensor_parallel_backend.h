// Tensor parallelism on the CPU: one Backend that drives N rank backends (cpu::CpuBackend, each
// with its shard of the weights and KV cache) on N threads joined by a CpuCommGroup, so that the
// scheduler, the server and the CLI run unchanged. MakeCpuBackend returns it when
// BackendOptions::tensor_parallel > 1.
//
// Forward runs rank 0 on the calling thread and ranks 1..N-1 on their own threads, all on the
// same steps; each rank writes its vocabulary slice of the logits into the caller's buffer, and
// Forward returns once every rank is done. Ranks validate the same steps identically, so a bad
// step fails every rank before the first collective.
//
// Thread-safety: as Backend (one driving thread); the rank threads live and die with the object.
#pragma once

#include <memory>

#include "core/status.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"

namespace meridian::engine::parallel {

//! Splits `model` over options.tensor_parallel ranks (2..kMaxTensorParallel), each with
//! max(1, options.n_threads / ranks) kernel threads and a KV cache of `n_blocks` blocks of its
//! KV heads. Each rank slices and packs its weights from the mapped file, in parallel.
//! InvalidArgument when the model's heads, KV heads or FFN do not divide (see shard_plan.h).
Result<std::unique_ptr<Backend>> MakeTensorParallelCpuBackend(const Model& model,
                                                              const BackendOptions& options,
                                                              int32_t n_blocks);

}  // namespace meridian::engine::parallel
