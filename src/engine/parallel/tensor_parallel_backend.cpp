// TensorParallelBackend: the rank threads, the fan-out of each Forward step, and the factory.
#include "engine/parallel/tensor_parallel_backend.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/parallel/cpu_communicator.h"
#include "engine/parallel/rank_weights.h"
#include "engine/parallel/shard_plan.h"

namespace meridian::engine::parallel {
namespace {

class TensorParallelBackend final : public Backend {
 public:
  TensorParallelBackend(std::unique_ptr<CpuCommGroup> group,
                        std::vector<std::unique_ptr<cpu::CpuBackend>> ranks)
      : group_(std::move(group)), ranks_(std::move(ranks)), statuses_(ranks_.size()) {
    for (size_t r = 1; r < ranks_.size(); ++r) threads_.emplace_back([this, r] { RankLoop(r); });
  }

  ~TensorParallelBackend() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  std::string name() const override { return "cpu-tp" + std::to_string(ranks_.size()); }

  Status Forward(std::span<const SequenceStep> steps, float* logits) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      steps_ = steps;
      logits_ = logits;
      pending_ = ranks_.size() - 1;
      ++job_;
    }
    work_cv_.notify_all();
    statuses_[0] = ranks_[0]->Forward(steps, logits);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    for (const Status& s : statuses_) {
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  int32_t kv_block_tokens() const override { return ranks_[0]->kv_block_tokens(); }
  int32_t kv_blocks_total() const override { return ranks_[0]->kv_blocks_total(); }
  uint64_t kv_bytes() const override {
    uint64_t total = 0;
    for (const auto& r : ranks_) total += r->kv_bytes();
    return total;
  }

 private:
  void RankLoop(size_t r) {
    uint64_t seen = 0;
    for (;;) {
      std::span<const SequenceStep> steps;
      float* logits = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_cv_.wait(lock, [&] { return stop_ || job_ != seen; });
        if (stop_) return;
        seen = job_;
        steps = steps_;
        logits = logits_;
      }
      Status s = ranks_[r]->Forward(steps, logits);
      std::lock_guard<std::mutex> lock(mu_);
      statuses_[r] = std::move(s);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::unique_ptr<CpuCommGroup> group_;  //!< outlives the ranks' use of it (threads join first)
  std::vector<std::unique_ptr<cpu::CpuBackend>> ranks_;
  std::vector<std::thread> threads_;  //!< ranks 1..N-1

  std::mutex mu_;
  std::condition_variable work_cv_;  //!< a new job, or stop
  std::condition_variable done_cv_;  //!< pending_ reached 0
  // The current job, under mu_.
  uint64_t job_ = 0;
  std::span<const SequenceStep> steps_;
  float* logits_ = nullptr;
  size_t pending_ = 0;  //!< rank threads still running the job
  bool stop_ = false;
  std::vector<Status> statuses_;  //!< per rank, of the last job
};

}  // namespace

Result<std::unique_ptr<Backend>> MakeTensorParallelCpuBackend(const Model& model,
                                                              const BackendOptions& options,
                                                              int32_t n_blocks) {
  const int32_t n = options.tensor_parallel;
  const ColumnBlocks column_blocks = ColumnBlocksOf(model);
  // Rank 0's plan carries every divisibility check; fail here, before any thread starts.
  MERIDIAN_RETURN_IF_ERROR(MakeShardPlan(model.config(), n, 0, column_blocks).status());
  BackendOptions rank_options = options;
  rank_options.tensor_parallel = 1;
  rank_options.n_threads = std::max(1, options.n_threads / n);

  auto group = std::make_unique<CpuCommGroup>(n);
  std::vector<std::unique_ptr<cpu::CpuBackend>> ranks(static_cast<size_t>(n));
  std::vector<Status> statuses(static_cast<size_t>(n));
  // Each rank slices and packs its own weights; the ranks do so concurrently.
  auto build = [&](int32_t r) {
    auto plan = MakeShardPlan(model.config(), n, r, column_blocks);
    if (!plan.ok()) {
      statuses[static_cast<size_t>(r)] = plan.status();
      return;
    }
    auto weights = SliceModelWeights(model, *plan);
    if (!weights.ok()) {
      statuses[static_cast<size_t>(r)] = weights.status();
      return;
    }
    cpu::RankShard shard{*plan, std::move(*weights), &group->rank(r)};
    auto backend = std::make_unique<cpu::CpuBackend>(model, rank_options, n_blocks, std::move(shard));
    if (!backend->allocated()) {
      statuses[static_cast<size_t>(r)] = ResourceExhausted(
          "rank " + std::to_string(r) + ": cannot allocate " + std::to_string(backend->kv_bytes() >> 20) +
          " MiB for its KV cache; lower --kv-cache-tokens");
      return;
    }
    ranks[static_cast<size_t>(r)] = std::move(backend);
  };
  std::vector<std::thread> builders;
  for (int32_t r = 1; r < n; ++r) builders.emplace_back(build, r);
  build(0);
  for (auto& t : builders) t.join();
  for (const Status& s : statuses) {
    if (!s.ok()) return s;
  }
  return std::unique_ptr<Backend>(
      std::make_unique<TensorParallelBackend>(std::move(group), std::move(ranks)));
}

}  // namespace meridian::engine::parallel
