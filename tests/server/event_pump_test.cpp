// EventPump: tasks run in order on one thread, Drain waits for them, the bound holds except for
// final events, and destruction runs what is still queued.
#include "server/event_pump.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace meridian::server {
namespace {

TEST(EventPump, RunsTasksInOrderOnOneThread) {
  EventPump pump;
  std::vector<int> seen;
  std::thread::id runner;
  bool one_thread = true;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(pump.Post([&, i] {
      if (i == 0) runner = std::this_thread::get_id();
      one_thread = one_thread && runner == std::this_thread::get_id();
      seen.push_back(i);
    }));
  }
  pump.Drain();
  ASSERT_EQ(seen.size(), 10000u);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(seen[i], i);
  EXPECT_TRUE(one_thread);
  EXPECT_NE(runner, std::this_thread::get_id());
}

TEST(EventPump, BoundRefusesAllButFinalEvents) {
  EventPump pump(/*max_queued=*/4);
  std::atomic<bool> release{false};
  std::atomic<int> ran{0};
  ASSERT_TRUE(pump.Post([&] {
    while (!release.load()) std::this_thread::yield();
    ++ran;
  }));
  // The first task may or may not have been taken yet: fill until refused.
  int accepted = 0;
  while (pump.Post([&] { ++ran; })) ++accepted;
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 4);
  EXPECT_TRUE(pump.Post([&] { ++ran; }, /*must_run=*/true));
  release.store(true);
  pump.Drain();
  EXPECT_EQ(ran.load(), 1 + accepted + 1);
}

TEST(EventPump, ManyProducersAndDestructionRunsTheRest) {
  std::atomic<int> ran{0};
  {
    EventPump pump;
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
      producers.emplace_back([&] {
        for (int i = 0; i < 5000; ++i) pump.Post([&] { ran.fetch_add(1, std::memory_order_relaxed); });
      });
    }
    for (auto& p : producers) p.join();
  }
  EXPECT_EQ(ran.load(), 20000);
}

TEST(EventPump, ATaskThatThrowsDoesNotStopThePump) {
  EventPump pump;
  int after = 0;
  pump.Post([] { throw std::runtime_error("boom"); });
  pump.Post([&] { after = 1; });
  pump.Drain();
  EXPECT_EQ(after, 1);
}

}  // namespace
}  // namespace meridian::server
