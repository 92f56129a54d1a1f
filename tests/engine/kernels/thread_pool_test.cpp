// ThreadPool: every index covered exactly once, chunk boundaries on the grain, wake-up after the
// workers went to sleep, and cheap back-to-back dispatch.
#include "engine/backend/cpu/kernels/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace meridian::engine::cpu {
namespace {

// Runs one ParallelFor and checks the coverage and chunking contract.
void CheckStaticSplit(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::vector<std::atomic<int>> calls_per_thread(static_cast<size_t>(pool.size()));
  std::atomic<bool> bad_bounds{false};
  pool.ParallelFor(n, grain, [&](int tid, int64_t begin, int64_t end) {
    if (tid < 0 || tid >= pool.size() || begin >= end || begin % grain != 0 ||
        (end != n && end % grain != 0)) {
      bad_bounds = true;
      return;
    }
    calls_per_thread[static_cast<size_t>(tid)].fetch_add(1);
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  EXPECT_FALSE(bad_bounds) << "n=" << n << " grain=" << grain;
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i;
  for (auto& c : calls_per_thread) EXPECT_LE(c.load(), 1);  // one contiguous chunk per slot
}

TEST(ThreadPool, SizeCountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).size(), 1);
  EXPECT_EQ(ThreadPool(3).size(), 3);
  EXPECT_EQ(ThreadPool(0).size(), 1);  // clamped
}

TEST(ThreadPool, StaticSplitCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000, 1001}) {
      for (int64_t grain : {1, 4, 16, 2000}) CheckStaticSplit(pool, n, grain);
    }
  }
}

TEST(ThreadPool, EmptyRangeCallsNothing) {
  ThreadPool pool(3);
  int calls = 0;
  pool.ParallelFor(0, 1, [&](int, int64_t, int64_t) { ++calls; });
  pool.ParallelForDynamic(0, 1, [&](int, int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, SlotsGetEqualShares) {
  ThreadPool pool(3);
  std::vector<int64_t> begins(3, -1), ends(3, -1);
  pool.ParallelFor(300, 1, [&](int slot, int64_t begin, int64_t end) {
    begins[static_cast<size_t>(slot)] = begin;
    ends[static_cast<size_t>(slot)] = end;
  });
  EXPECT_EQ(begins, (std::vector<int64_t>{0, 100, 200}));
  EXPECT_EQ(ends, (std::vector<int64_t>{100, 200, 300}));
}

TEST(ThreadPool, SlotsNeverRunConcurrentlyWithThemselves) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> busy(4);
  std::atomic<bool> overlap{false};
  for (int round = 0; round < 2000; ++round) {
    pool.ParallelFor(4, 1, [&](int slot, int64_t, int64_t) {
      if (busy[static_cast<size_t>(slot)].fetch_add(1) != 0) overlap = true;
      busy[static_cast<size_t>(slot)].fetch_sub(1);
    });
  }
  EXPECT_FALSE(overlap);
}

TEST(ThreadPool, DynamicThreadIndicesAreDistinctPerThread) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> busy(3);
  std::atomic<bool> overlap{false};
  pool.ParallelForDynamic(3000, 1, [&](int tid, int64_t, int64_t) {
    if (busy[static_cast<size_t>(tid)].fetch_add(1) != 0) overlap = true;
    busy[static_cast<size_t>(tid)].fetch_sub(1);
  });
  EXPECT_FALSE(overlap);
}

TEST(ThreadPool, DynamicSplitCoversEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 5, 100, 1023}) {
      for (int64_t chunk : {1, 3, 64}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<bool> bad{false};
        pool.ParallelForDynamic(n, chunk, [&](int tid, int64_t begin, int64_t end) {
          const bool whole = threads == 1 || n <= chunk;  // then one call covers [0, n)
          if (tid < 0 || tid >= threads || begin % chunk != 0) bad = true;
          if (whole ? (begin != 0 || end != n) : end - begin > chunk) bad = true;
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
        EXPECT_FALSE(bad);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1);
      }
    }
  }
}

TEST(ThreadPool, WorkersTakePart) {
  ThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  // Chunks that sleep leave the caller unable to take them all before the workers wake.
  pool.ParallelForDynamic(60, 1, [&](int, int64_t, int64_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_GT(ids.size(), 1u);
}

TEST(ThreadPool, WorkersWakeUpAfterSleeping) {
  ThreadPool pool(3);
  for (int round = 0; round < 3; ++round) {
    // Longer than the workers' spin phase, so they are asleep on the condition variable.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> seen_mask{0};
    pool.ParallelFor(3, 1, [&](int tid, int64_t, int64_t) { seen_mask.fetch_or(1 << tid); });
    EXPECT_EQ(seen_mask.load(), 0b111);
  }
}

TEST(ThreadPool, ResultsOfWorkersAreVisibleToTheCaller) {
  ThreadPool pool(4);
  std::vector<int64_t> out(10000);
  for (int round = 0; round < 50; ++round) {
    pool.ParallelFor(static_cast<int64_t>(out.size()), 8, [&](int, int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] = i * round;
    });
    for (size_t i = 0; i < out.size(); i += 997) ASSERT_EQ(out[i], static_cast<int64_t>(i) * round);
  }
}

TEST(ThreadPool, HundredThousandDispatchesAreCheap) {
  ThreadPool pool(2);
  std::atomic<int64_t> total{0};
  const auto start = std::chrono::steady_clock::now();
  constexpr int kCalls = 100000;
  for (int i = 0; i < kCalls; ++i) {
    pool.ParallelFor(2, 1,
                     [&](int, int64_t b, int64_t e) { total.fetch_add(e - b, std::memory_order_relaxed); });
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(total.load(), 2 * kCalls);
  // A sleeping handoff per call (futex wake + context switch, ~20-50 us) would take seconds;
  // spinning workers take ~1 us. 20 us per call leaves room for sanitizers and a busy machine.
  EXPECT_LT(secs / kCalls * 1e6, 20.0) << "seconds for " << kCalls << " calls: " << secs;
}

}  // namespace
}  // namespace meridian::engine::cpu
