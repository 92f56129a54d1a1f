// Continuous batching: batched results equal solo results, admission, queue limits, cancellation
// and deadlines, on a small random model.
#include "engine/scheduler/scheduler.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>

#include "engine/convert/random_model.h"
#include "engine/runtime/single_sequence.h"

namespace meridian::engine {
namespace {

class SchedulerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(std::filesystem::temp_directory_path() /
                            ("meridian_sched_" + std::to_string(getpid()) + ".gguf"));
    auto spec = RandomModelPreset("tiny-gqa");
    ASSERT_TRUE(spec.ok());
    spec->seed = 11;
    ASSERT_TRUE(WriteRandomGguf(*spec, *path_).ok());
    auto model = Model::Load(*path_);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = model->release();
  }
  static void TearDownTestSuite() {
    delete model_;
    std::filesystem::remove(*path_);
    delete path_;
  }

  std::unique_ptr<Backend> MakeBackend(int64_t kv_tokens) {
    BackendOptions o;
    o.n_threads = 2;
    o.kv_cache_tokens = kv_tokens;
    auto b = MakeCpuBackend(*model_, o);
    EXPECT_TRUE(b.ok());
    return std::move(*b);
  }

  std::vector<int32_t> Prompt(int n, int salt) {
    std::vector<int32_t> p;
    for (int i = 0; i < n; ++i) p.push_back(3 + (i * 37 + salt * 101) % (model_->config().n_vocab - 3));
    return p;
  }

  static std::string* path_;
  static Model* model_;
};
std::string* SchedulerTest::path_ = nullptr;
Model* SchedulerTest::model_ = nullptr;

// Collects events of one request; waits for the final one.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int32_t> tokens;
  std::string text;
  FinishReason finish = FinishReason::kNone;
  Status error;
  std::function<void(const GenerationEvent&)> Callback() {
    return [this](const GenerationEvent& ev) {
      std::lock_guard<std::mutex> lock(mu);
      if (ev.token >= 0) tokens.push_back(ev.token);
      text += ev.text;
      if (ev.finish != FinishReason::kNone) {
        finish = ev.finish;
        error = ev.error;
        cv.notify_all();
      }
    };
  }
  bool Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [this] { return finish != FinishReason::kNone; });
  }
};

// Waits (at most 2 s) for the load report to show no running sequence and every block free.
void ExpectIdleSoon(const Scheduler& sched) {
  auto idle = [&] {
    LoadReport l = sched.Load();
    return l.running == 0 && l.kv_blocks_free == l.kv_blocks_total;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!idle() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  LoadReport l = sched.Load();
  EXPECT_EQ(l.running, 0);
  EXPECT_EQ(l.kv_blocks_free, l.kv_blocks_total);
}

TEST_F(SchedulerTest, BatchedGreedyEqualsSolo) {
  constexpr int kRequests = 6;
  std::vector<std::vector<int32_t>> solo(kRequests);
  {
    auto backend = MakeBackend(256);
    KvBlockAllocator blocks(backend->kv_blocks_total(), backend->kv_block_tokens());
    for (int r = 0; r < kRequests; ++r) {
      GenerateOptions o;
      o.max_tokens = 12;
      o.sampling.temperature = 0;
      auto res = GenerateTokens(*model_, *backend, blocks, Prompt(5 + 7 * r, r), o, [](int32_t) { return true; });
      ASSERT_TRUE(res.ok());
      solo[r] = res->tokens;
      // EOS ends a solo run without a callback; the scheduler reports it as a final event.
      if (!solo[r].empty() && model_->tokenizer().IsEndOfGeneration(solo[r].back())) solo[r].pop_back();
    }
  }
  auto backend = MakeBackend(1024);
  SchedulerOptions so;
  so.max_running = 4;  // fewer than the requests: some wait, then join mid-flight
  so.max_batch_tokens = 16;  // forces chunked prefill of the longer prompts
  Scheduler sched(*model_, *backend, so);
  sched.Start();
  std::vector<Collector> got(kRequests);
  for (int r = 0; r < kRequests; ++r) {
    GenerationRequest req;
    req.prompt = Prompt(5 + 7 * r, r);
    req.max_tokens = 12;
    req.sampling.temperature = 0;
    req.on_event = got[r].Callback();
    ASSERT_TRUE(sched.Submit(std::move(req)).ok());
  }
  for (int r = 0; r < kRequests; ++r) {
    ASSERT_TRUE(got[r].Wait());
    EXPECT_EQ(got[r].tokens, solo[r]) << "request " << r;
  }
  // The load report is published at the end of the step that delivered the final events.
  ExpectIdleSoon(sched);
}

TEST_F(SchedulerTest, RejectsWhatCanNeverFit) {
  auto backend = MakeBackend(64);
  Scheduler sched(*model_, *backend, {});
  GenerationRequest req;
  req.prompt = Prompt(10, 1);
  req.max_tokens = model_->config().context_length;
  EXPECT_EQ(sched.Submit(req).status().code(), StatusCode::kInvalidArgument);
  req.max_tokens = 100;  // fits the context but not this 64-token cache
  EXPECT_EQ(sched.Submit(req).status().code(), StatusCode::kInvalidArgument);
  req.prompt.clear();
  req.max_tokens = 4;
  EXPECT_EQ(sched.Submit(req).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SchedulerTest, FullQueueRefusesAtOnce) {
  // The queue limit counts requests beyond the free running slots: with 2 slots and 2 queue places,
  // a burst of 4 is accepted before the engine loop has admitted anything, and the 5th is refused.
  auto backend = MakeBackend(256);
  SchedulerOptions so;
  so.max_running = 2;
  so.max_waiting = 2;
  Scheduler sched(*model_, *backend, so);  // not started: nothing leaves the queue
  GenerationRequest req;
  req.prompt = Prompt(4, 2);
  req.max_tokens = 4;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(sched.Submit(req).ok()) << i;
    EXPECT_EQ(sched.Load().saturated, i == 3) << i;
  }
  auto fifth = sched.Submit(req);
  EXPECT_EQ(fifth.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(sched.Load().saturated);
}

TEST_F(SchedulerTest, ZeroQueueAcceptsOnlyWhatCanRunAtOnce) {
  auto backend = MakeBackend(256);
  SchedulerOptions so;
  so.max_running = 2;
  so.max_waiting = 0;
  Scheduler sched(*model_, *backend, so);
  GenerationRequest req;
  req.prompt = Prompt(4, 5);
  req.max_tokens = 4;
  EXPECT_TRUE(sched.Submit(req).ok());
  EXPECT_TRUE(sched.Submit(req).ok());
  EXPECT_EQ(sched.Submit(req).status().code(), StatusCode::kResourceExhausted);
}

TEST_F(SchedulerTest, CancelFreesBlocksAndDeadlinesExpire) {
  auto backend = MakeBackend(512);
  Scheduler sched(*model_, *backend, {});
  sched.Start();
  Collector cancelled, expired;
  GenerationRequest req;
  req.prompt = Prompt(8, 3);
  req.max_tokens = 200;
  req.on_event = cancelled.Callback();
  auto id = sched.Submit(req);
  ASSERT_TRUE(id.ok());
  sched.Cancel(*id);
  ASSERT_TRUE(cancelled.Wait());
  EXPECT_EQ(cancelled.finish, FinishReason::kCancelled);

  req.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  req.on_event = expired.Callback();
  ASSERT_TRUE(sched.Submit(req).ok());
  ASSERT_TRUE(expired.Wait());
  EXPECT_EQ(expired.finish, FinishReason::kDeadline);
  EXPECT_EQ(expired.error.code(), StatusCode::kDeadlineExceeded);

  ExpectIdleSoon(sched);
}

TEST_F(SchedulerTest, StopCancelsEverything) {
  auto backend = MakeBackend(512);
  auto sched = std::make_unique<Scheduler>(*model_, *backend, SchedulerOptions{});
  Collector c;
  GenerationRequest req;
  req.prompt = Prompt(8, 4);
  req.max_tokens = 50;
  req.on_event = c.Callback();
  ASSERT_TRUE(sched->Submit(req).ok());
  sched->Stop();
  ASSERT_TRUE(c.Wait(std::chrono::milliseconds(100)));
  EXPECT_EQ(c.finish, FinishReason::kCancelled);
}

}  // namespace
}  // namespace meridian::engine
