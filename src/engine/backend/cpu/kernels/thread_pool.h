// A fixed pool of worker threads for data-parallel loops in the CPU backend. The calling thread
// takes part in every ParallelFor. Not re-entrant: one ParallelFor at a time per pool (the engine
// loop owns the pool).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace meridian::engine::cpu {

class ThreadPool {
 public:
  //! `n_threads` >= 1 threads in all, the caller included.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;
  //! Calls fn(thread_index, begin, end) over [0, n) split into size() contiguous chunks
  //! (chunk boundaries are multiples of `grain`); returns when all are done.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::engine::cpu
