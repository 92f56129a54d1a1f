// A fixed pool of worker threads for data-parallel loops in the CPU backend. The calling thread
// takes part in every ParallelFor. Not re-entrant: one ParallelFor at a time per pool (the engine
// loop owns the pool), and `fn` must not call back into the same pool nor throw.
//
// Workers wait for work by spinning (with pause) for a short while after each job, then sleep on
// a condition variable; the caller wakes sleepers only when there are any. Back-to-back jobs (the
// ~200 matmuls of one decoded token) therefore cost a cache-line handoff, not a futex round trip.
// Chunks are claimed from a shared cursor: the caller runs any chunk no worker has started, so a
// worker that is asleep or descheduled (more threads than free cores) never stalls a job.
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
  //! Calls fn(slot, begin, end) over [0, n) split into size() contiguous chunks (chunk boundaries
  //! are multiples of `grain`; chunk `slot` is the slot-th of them); returns when all are done.
  //! Empty chunks are not called. Chunks run concurrently on the pool's threads, but a chunk may
  //! run on any of them: use `slot`, not the OS thread, to index per-thread state.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn);
  //! Calls fn(thread_index, begin, end) for chunks of `chunk` items (the last may be shorter)
  //! claimed by the threads from a shared cursor until [0, n) is done: fn may run several times
  //! per thread, in any order; thread_index (0 = the caller) is the running thread's. This
  //! balances load when some threads are slowed down (other processes on the same cores).
  //! With one thread, or n <= chunk, fn(0, 0, n) runs once on the caller. Chunks are enlarged if
  //! there would be more than about a million of them.
  void ParallelForDynamic(int64_t n, int64_t chunk, const std::function<void(int, int64_t, int64_t)>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::engine::cpu
