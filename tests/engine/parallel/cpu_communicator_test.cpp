// CpuCommGroup: the all-reduce sums in rank order and gives every rank the same bits, for any
// size (including fewer elements than ranks), repeatedly; barriers hold ranks back; mismatched
// counts fail every rank instead of hanging.
#include "engine/parallel/cpu_communicator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <vector>

namespace meridian::engine::parallel {
namespace {

// Runs fn(rank) on `n` threads (rank 0 on this one) and waits for all.
void OnRanks(int32_t n, const std::function<void(int32_t)>& fn) {
  std::vector<std::thread> threads;
  for (int32_t r = 1; r < n; ++r) threads.emplace_back(fn, r);
  fn(0);
  for (auto& t : threads) t.join();
}

// Values whose float sum depends on the order of additions.
float Value(int32_t rank, int64_t i, int round) {
  const double base = std::pow(10.0, static_cast<double>((rank * 7 + i + round) % 9) - 4.0);
  return static_cast<float>(((rank + i + round) % 2 == 0 ? 1.0 : -1.0) * base * (1.0 + 0.1 * rank));
}

TEST(CpuCommunicatorTest, AllReduceSumsInRankOrderOnEveryRank) {
  for (int32_t n : {1, 2, 3, 4}) {
    for (int64_t count : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{17}, int64_t{1000}, int64_t{4099}}) {
      CpuCommGroup group(n);
      constexpr int kRounds = 3;
      std::vector<std::vector<std::vector<float>>> got(static_cast<size_t>(n));
      OnRanks(n, [&](int32_t r) {
        Communicator& comm = group.rank(r);
        EXPECT_EQ(comm.rank(), r);
        EXPECT_EQ(comm.size(), n);
        for (int round = 0; round < kRounds; ++round) {
          std::vector<float> data(static_cast<size_t>(count));
          for (int64_t i = 0; i < count; ++i) data[static_cast<size_t>(i)] = Value(r, i, round);
          Status s = comm.AllReduceSum(data.data(), count);
          EXPECT_TRUE(s.ok()) << s.ToString();
          got[static_cast<size_t>(r)].push_back(std::move(data));
        }
      });
      for (int round = 0; round < kRounds; ++round) {
        for (int64_t i = 0; i < count; ++i) {
          float expected = Value(0, i, round);
          for (int32_t r = 1; r < n; ++r) expected += Value(r, i, round);
          for (int32_t r = 0; r < n; ++r) {
            // Bit-identical: the same additions in the same order on every rank.
            ASSERT_EQ(got[static_cast<size_t>(r)][static_cast<size_t>(round)][static_cast<size_t>(i)],
                      expected)
                << "n=" << n << " count=" << count << " rank=" << r << " round=" << round << " i=" << i;
          }
        }
      }
    }
  }
}

TEST(CpuCommunicatorTest, BarrierWaitsForEveryRank) {
  constexpr int32_t kRanks = 4;
  constexpr int kRounds = 50;
  CpuCommGroup group(kRanks);
  std::atomic<int> arrived{0};
  std::atomic<bool> early{false};
  OnRanks(kRanks, [&](int32_t r) {
    for (int round = 0; round < kRounds; ++round) {
      arrived.fetch_add(1);
      ASSERT_TRUE(group.rank(r).Barrier().ok());
      // Nobody passes the barrier of round k before all arrived at it.
      if (arrived.load() < kRanks * (round + 1)) early = true;
      ASSERT_TRUE(group.rank(r).Barrier().ok());
    }
  });
  EXPECT_FALSE(early.load());
  EXPECT_EQ(arrived.load(), kRanks * kRounds);
}

TEST(CpuCommunicatorTest, MismatchedCountsFailEveryRank) {
  constexpr int32_t kRanks = 3;
  CpuCommGroup group(kRanks);
  std::vector<Status> statuses(kRanks);
  OnRanks(kRanks, [&](int32_t r) {
    std::vector<float> data(8, 1.0f);
    statuses[static_cast<size_t>(r)] = group.rank(r).AllReduceSum(data.data(), r == 2 ? 7 : 8);
  });
  for (const Status& s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("rank 2"), std::string::npos) << s.ToString();
  }
  // The group is still usable afterwards.
  OnRanks(kRanks, [&](int32_t r) {
    std::vector<float> data(5, static_cast<float>(r + 1));
    ASSERT_TRUE(group.rank(r).AllReduceSum(data.data(), 5).ok());
    for (float v : data) EXPECT_EQ(v, 6.0f);
  });
}

}  // namespace
}  // namespace meridian::engine::parallel
