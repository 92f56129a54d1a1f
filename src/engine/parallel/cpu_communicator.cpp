// CpuCommGroup: the barrier and the deterministic in-place all-reduce over shared memory.
#include "engine/parallel/cpu_communicator.h"

#include <algorithm>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace meridian::engine::parallel {

class CpuCommGroup::Rank final : public Communicator {
 public:
  Rank(CpuCommGroup& group, int32_t rank) : group_(group), rank_(rank) {}
  int32_t rank() const override { return rank_; }
  int32_t size() const override { return group_.size_; }

  Status AllReduceSum(float* data, int64_t count) override {
    const int32_t n = group_.size_;
    if (n == 1) return Status::Ok();
    group_.buffers_[static_cast<size_t>(rank_)] = data;
    group_.counts_[static_cast<size_t>(rank_)] = count;
    group_.Arrive();  // every buffer is posted
    for (int32_t r = 1; r < n; ++r) {
      if (group_.counts_[static_cast<size_t>(r)] != group_.counts_[0]) {
        // Every rank sees the same counts and fails alike, so no rank is left waiting; the second
        // barrier keeps a fast rank from posting its next call while others still compare.
        Status mismatch = Internal(
            "all-reduce called with " + std::to_string(group_.counts_[0]) + " elements on rank 0 but " +
            std::to_string(group_.counts_[static_cast<size_t>(r)]) + " on rank " + std::to_string(r));
        group_.Arrive();
        return mismatch;
      }
    }
    // This rank's share, in whole 16-float pieces (cache lines when the buffers are aligned),
    // which keeps ranks from writing the same line.
    constexpr int64_t kLine = 16;
    const int64_t lines = (count + kLine - 1) / kLine;
    const int64_t begin = std::min(count, lines * rank_ / n * kLine);
    const int64_t end = std::min(count, lines * (rank_ + 1) / n * kLine);
    float* const* bufs = group_.buffers_.data();
    for (int64_t i = begin; i < end; ++i) {
      float sum = bufs[0][i];
      for (int32_t r = 1; r < n; ++r) sum += bufs[r][i];
      for (int32_t r = 0; r < n; ++r) bufs[r][i] = sum;
    }
    group_.Arrive();  // every share is written back; buffers may be reused
    return Status::Ok();
  }

  Status Barrier() override {
    if (group_.size_ > 1) group_.Arrive();
    return Status::Ok();
  }

 private:
  CpuCommGroup& group_;
  int32_t rank_;
};

CpuCommGroup::CpuCommGroup(int32_t size)
    : size_(std::max<int32_t>(1, size)),
      buffers_(static_cast<size_t>(size_), nullptr),
      counts_(static_cast<size_t>(size_), 0) {
  for (int32_t r = 0; r < size_; ++r) ranks_.push_back(std::make_unique<Rank>(*this, r));
}

CpuCommGroup::~CpuCommGroup() = default;

Communicator& CpuCommGroup::rank(int32_t r) {
  return *ranks_[static_cast<size_t>(r)];
}

void CpuCommGroup::Arrive() {
  const uint32_t gen = generation_.load(std::memory_order_acquire);
  // acq_rel: the last arriver sees every rank's writes before the barrier, and publishes them
  // (release on generation_) to the ranks it wakes.
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<uint32_t>(size_)) {
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    return;
  }
  for (int spin = 0; spin < 4096; ++spin) {
    if (generation_.load(std::memory_order_acquire) != gen) return;
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
  }
  while (generation_.load(std::memory_order_acquire) == gen) generation_.wait(gen, std::memory_order_acquire);
}

}  // namespace meridian::engine::parallel
