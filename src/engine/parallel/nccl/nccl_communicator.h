// The NCCL communicator: the Communicator interface over NCCL, for tensor parallelism across the
// GPUs of one host (one rank per GPU). Built only where CUDA and NCCL are found
// (src/engine/parallel/nccl/CMakeLists.txt defines MERIDIAN_HAVE_NCCL; docs/tensor-parallel.md).
// NVLink SHARP multicast (NVLS) is kept off: NCCL_NVLS_ENABLE defaults to 0 unless set.
//
// Collectives are enqueued on the rank's CUDA stream and return once enqueued (AllReduceSum
// works in place on device memory); Barrier also waits for the stream. This header names no
// CUDA or NCCL type, so code without CUDA can include it.
//
// Thread-safety: per the Communicator contract, one thread per rank object. Creating the ranks
// of one group must happen concurrently (one thread or process per rank), or through CreateAll.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/parallel/communicator.h"

namespace meridian::engine::parallel {

class NcclCommunicator final : public Communicator {
 public:
  //! The bytes of an ncclUniqueId: made once (by rank 0), then given to every rank.
  using UniqueId = std::array<char, 128>;
  static Result<UniqueId> NewUniqueId();

  //! Joins group `id` as `rank` of `size` on CUDA device `device`, enqueueing collectives on
  //! `cuda_stream` (a cudaStream_t; nullptr: the legacy default stream). Blocks until all ranks
  //! joined.
  static Result<std::unique_ptr<NcclCommunicator>> Create(const UniqueId& id, int32_t size, int32_t rank,
                                                          int device, void* cuda_stream);
  //! One process driving every GPU of `devices` (rank i on devices[i]), on each device's
  //! default stream. Drive each rank from its own thread (as the CPU TensorParallelBackend
  //! drives its ranks): one thread calling every rank's collective in turn would deadlock.
  static Result<std::vector<std::unique_ptr<NcclCommunicator>>> CreateAll(std::span<const int> devices);

  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int32_t rank() const override { return rank_; }
  int32_t size() const override { return size_; }
  //! `data` is device memory of this rank's GPU; enqueued on the rank's stream.
  Status AllReduceSum(float* data, int64_t count) override;
  //! An all-reduce of one float, then waits for the rank's stream.
  Status Barrier() override;
  //! The CUDA device of this rank.
  int device() const { return device_; }

 private:
  NcclCommunicator() = default;
  void* comm_ = nullptr;      //!< ncclComm_t
  void* stream_ = nullptr;    //!< cudaStream_t
  float* scratch_ = nullptr;  //!< one device float for Barrier
  int device_ = 0;
  int32_t rank_ = 0;
  int32_t size_ = 1;
};

}  // namespace meridian::engine::parallel
