// The collective operations tensor parallelism needs, behind one interface: a CPU communicator
// (threads of one process, shared memory; cpu_communicator.h) and an NCCL one (GPUs of one host;
// nccl/nccl_communicator.h, built only where NCCL is installed).
//
// Thread-safety: a Communicator object belongs to one rank and is called by that rank's thread
// only. Collectives are matched by call order: every rank of the group must make the same
// sequence of calls with the same element counts, or the group deadlocks (the CPU communicator
// detects mismatched counts and fails every rank of the call instead).
#pragma once

#include <cstdint>

#include "core/status.h"

namespace meridian::engine::parallel {

class Communicator {
 public:
  virtual ~Communicator() = default;
  //! This rank, in [0, size()).
  virtual int32_t rank() const = 0;
  //! Ranks in the group.
  virtual int32_t size() const = 0;
  //! In place: data[i] = sum over ranks r of data_r[i], for i in [0, count). Every rank gets the
  //! bit-identical result. `data` lives where the communicator works (host memory for the CPU
  //! communicator, device memory on the communicator's stream for NCCL).
  virtual Status AllReduceSum(float* data, int64_t count) = 0;
  //! Returns once every rank has called Barrier.
  virtual Status Barrier() = 0;
};

}  // namespace meridian::engine::parallel
