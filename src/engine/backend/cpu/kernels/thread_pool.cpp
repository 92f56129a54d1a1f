// ThreadPool: persistent workers that spin briefly, then sleep, between jobs; chunks are claimed
// from a shared cursor, so the caller takes over chunks of workers that are not running.
//
// A job is split into `total` chunks. The cursor is one 64-bit word: job tag (24 bits), total
// (20 bits) and next unclaimed chunk (20 bits). A thread claims chunk i by a compare-exchange from
// (tag, total, i) to (tag, total, i + 1), and only then reads the job's fields. The caller
// rewrites the fields only after every chunk of the previous job is done, so a claim that
// succeeds always refers to the job whose fields are in place; a worker that slept through a
// whole job just finds the cursor exhausted. The caller never waits for a worker to wake up:
// it runs whatever chunks are still unclaimed itself, and waits only for chunks in progress.
#include "engine/backend/cpu/kernels/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace meridian::engine::cpu {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

using Clock = std::chrono::steady_clock;
// How long an idle worker spins before it sleeps: long enough to bridge the gaps between the
// kernels of one forward pass, short enough not to burn a core between requests.
constexpr auto kWorkerSpin = std::chrono::microseconds(300);
// Spinning this long without progress starts yielding the core: with more runnable threads than
// cores, the thread we wait for may need it.
constexpr auto kYieldAfter = std::chrono::microseconds(50);

constexpr int kIndexBits = 20;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr int64_t kMaxChunks = static_cast<int64_t>(kIndexMask);

constexpr uint64_t PackCursor(uint64_t tag, uint64_t total, uint64_t next) {
  return (tag << (2 * kIndexBits)) | (total << kIndexBits) | next;
}

}  // namespace

struct ThreadPool::Impl {
  int n_threads = 1;
  std::vector<std::thread> workers;

  // The current job; written by the caller before it publishes the cursor.
  const std::function<void(int, int64_t, int64_t)>* fn = nullptr;
  int64_t n = 0;
  int64_t step = 1;  // static: grain; dynamic: chunk size
  bool dynamic = false;
  int64_t units = 0;  // static: ceil(n / grain)
  uint64_t job_tag = 0;

  alignas(64) std::atomic<uint64_t> cursor{0};
  alignas(64) std::atomic<int64_t> done{0};         // chunks finished in the current job
  alignas(64) std::atomic<uint64_t> generation{0};  // bumped per job, to wake workers
  alignas(64) std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;

  // Runs chunk `c` of the current job; `self` is the calling thread's index.
  void RunChunk(int64_t c, int self) {
    if (dynamic) {
      const int64_t begin = c * step;
      (*fn)(self, begin, std::min(n, begin + step));
      return;
    }
    // Static: chunk c is thread slot c's share of the grain units.
    const int64_t u0 = units * c / n_threads, u1 = units * (c + 1) / n_threads;
    const int64_t begin = u0 * step, end = std::min(n, u1 * step);
    if (begin < end) (*fn)(static_cast<int>(c), begin, end);
  }

  // Claims and runs chunks until the cursor is exhausted.
  void ClaimAndRun(int self) {
    uint64_t cur = cursor.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t next = cur & kIndexMask;
      const uint64_t total = (cur >> kIndexBits) & kIndexMask;
      if (next >= total) return;
      if (!cursor.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      RunChunk(static_cast<int64_t>(next), self);
      done.fetch_add(1, std::memory_order_release);
      cur = cursor.load(std::memory_order_acquire);
    }
  }

  // Returns the new generation once it differs from `seen`.
  uint64_t WaitForJob(uint64_t seen) {
    const auto start = Clock::now();
    for (uint32_t spins = 1;; ++spins) {
      const uint64_t g = generation.load(std::memory_order_acquire);
      if (g != seen) return g;
      CpuRelax();
      if ((spins & 255) != 0) continue;
      const auto waited = Clock::now() - start;
      if (waited < kYieldAfter) continue;
      if (waited < kWorkerSpin) {
        std::this_thread::yield();
        continue;
      }
      std::unique_lock<std::mutex> lock(mu);
      sleepers.fetch_add(1, std::memory_order_seq_cst);
      uint64_t now;
      while ((now = generation.load(std::memory_order_seq_cst)) == seen) cv.wait(lock);
      sleepers.fetch_sub(1, std::memory_order_relaxed);
      return now;
    }
  }

  void WorkerLoop(int index) {
    uint64_t seen = 0;
    for (;;) {
      seen = WaitForJob(seen);
      if (stop.load(std::memory_order_acquire)) return;
      ClaimAndRun(index);
    }
  }

  void Dispatch(int64_t n_items, int64_t chunk_items, bool dyn,
                const std::function<void(int, int64_t, int64_t)>& f) {
    if (n_items <= 0) return;
    chunk_items = std::max<int64_t>(chunk_items, 1);
    if (n_threads == 1 || n_items <= chunk_items) {  // one chunk: no handoff needed
      f(0, 0, n_items);
      return;
    }
    int64_t total;
    if (dyn) {
      // Keep the chunk count within the cursor's range by enlarging chunks if needed.
      if ((n_items + chunk_items - 1) / chunk_items > kMaxChunks)
        chunk_items = (n_items + kMaxChunks - 1) / kMaxChunks;
      total = (n_items + chunk_items - 1) / chunk_items;
    } else {
      total = n_threads;
      units = (n_items + chunk_items - 1) / chunk_items;
    }
    fn = &f;
    n = n_items;
    step = chunk_items;
    dynamic = dyn;
    done.store(0, std::memory_order_relaxed);
    job_tag = (job_tag + 1) & ((uint64_t{1} << (64 - 2 * kIndexBits)) - 1);
    cursor.store(PackCursor(job_tag, static_cast<uint64_t>(total), 0), std::memory_order_release);
    generation.fetch_add(1, std::memory_order_seq_cst);
    // Dekker-style pairing with WaitForJob: either the sleeper sees the new generation, or we
    // see it counted in `sleepers` and notify under the mutex, after it started waiting.
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
      { std::lock_guard<std::mutex> lock(mu); }
      cv.notify_all();
    }
    ClaimAndRun(0);
    const auto start = Clock::now();
    for (uint32_t spins = 1; done.load(std::memory_order_acquire) != total; ++spins) {
      CpuRelax();
      if ((spins & 255) == 0 && Clock::now() - start > kYieldAfter) std::this_thread::yield();
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(std::make_unique<Impl>()) {
  impl_->n_threads = std::max(1, n_threads);
  impl_->workers.reserve(static_cast<size_t>(impl_->n_threads - 1));
  for (int i = 1; i < impl_->n_threads; ++i) {
    impl_->workers.emplace_back([impl = impl_.get(), i] { impl->WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  impl_->stop.store(true, std::memory_order_release);
  impl_->generation.fetch_add(1, std::memory_order_seq_cst);
  { std::lock_guard<std::mutex> lock(impl_->mu); }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
}

int ThreadPool::size() const {
  return impl_->n_threads;
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn) {
  impl_->Dispatch(n, grain, /*dyn=*/false, fn);
}

void ThreadPool::ParallelForDynamic(int64_t n, int64_t chunk,
                                    const std::function<void(int, int64_t, int64_t)>& fn) {
  impl_->Dispatch(n, chunk, /*dyn=*/true, fn);
}

}  // namespace meridian::engine::cpu
