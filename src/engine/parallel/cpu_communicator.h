// The CPU communicator: the ranks of a tensor-parallel group are threads of this process and
// exchange partial results through shared memory. AllReduceSum is a reduce-scatter plus
// all-gather done in place: after a barrier, rank r sums its share of the elements over the
// ranks' buffers in rank order (0, 1, ..., N-1) and writes the sum back into every buffer; a
// second barrier ends the call. The order of additions never depends on timing or on how the
// elements are shared out, so results are reproducible run to run.
//
// Thread-safety: CpuCommGroup is created and destroyed by one thread; each rank's communicator
// (rank(r)) is then used by exactly one thread at a time, per the Communicator contract. The
// group must outlive its communicators' use.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/parallel/communicator.h"

namespace meridian::engine::parallel {

class CpuCommGroup {
 public:
  //! A group of `size` >= 1 ranks.
  explicit CpuCommGroup(int32_t size);
  ~CpuCommGroup();
  CpuCommGroup(const CpuCommGroup&) = delete;
  CpuCommGroup& operator=(const CpuCommGroup&) = delete;

  int32_t size() const { return size_; }
  //! The communicator of rank `r` (owned by the group).
  Communicator& rank(int32_t r);

 private:
  class Rank;
  friend class Rank;
  //! Blocks until all ranks arrived: spins briefly (ranks usually arrive within microseconds of
  //! each other), then sleeps on the generation counter (more ranks than free cores).
  void Arrive();

  int32_t size_;
  std::vector<std::unique_ptr<Rank>> ranks_;
  std::vector<float*> buffers_;  //!< per rank: the buffer of the current all-reduce
  std::vector<int64_t> counts_;  //!< per rank: its element count
  alignas(64) std::atomic<uint32_t> arrived_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
};

}  // namespace meridian::engine::parallel
