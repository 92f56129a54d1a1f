// Runner: the closed and open loops.
#include "loadgen/runner.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>

namespace meridian::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int64_t finished = 0, failed = 0;
  std::vector<RequestRecord> records;
};

}  // namespace

Result<RunResult> Run(const RunOptions& options, const std::function<void(const RunProgress&)>& progress) {
  if (options.concurrency < 1) return InvalidArgument("--concurrency must be at least 1");
  if (options.rate < 0) return InvalidArgument("--rate must not be negative");
  if (options.requests < 0 || options.warmup < 0) return InvalidArgument("request counts must not be negative");
  if (options.requests == 0 && options.duration_s <= 0) {
    return InvalidArgument("give a bound: --requests N or --duration S");
  }
  std::string base = options.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (base.ends_with("/v1")) base.resize(base.size() - 3);
  if (!base.starts_with("http://")) {
    return InvalidArgument("--url must start with http:// (TLS is not supported by this build), got '" +
                           options.base_url + "'");
  }
  CallOptions call = options.call;
  call.url = base + options.workload.Path();
  call.stream = options.workload.stream;

  http::HttpClientOptions client_options;
  client_options.io_threads = 2;
  client_options.connect_timeout = std::chrono::milliseconds(10'000);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.request_timeout_s * 1000));
  client_options.first_byte_timeout = timeout;
  client_options.read_idle_timeout = timeout;
  client_options.max_idle_per_host = static_cast<size_t>(options.concurrency) + 4;
  http::HttpClient client(client_options);
  Shared shared;

  // Warm-up: the same concurrency, not recorded.
  uint64_t index = 0;
  if (options.warmup > 0) {
    int64_t started = 0, finished = 0;
    std::mutex m;
    std::condition_variable cv;
    std::unique_lock lock(m);
    int in_flight = 0;
    while (finished < options.warmup) {
      while (started < options.warmup && in_flight < options.concurrency) {
        ++started;
        ++in_flight;
        StartOpenAiCall(client, call, options.workload.Body(index++), [&](RequestRecord) {
          std::lock_guard l(m);
          --in_flight;
          ++finished;
          cv.notify_all();
        });
      }
      cv.wait(lock);
    }
  }

  std::mt19937_64 rng(options.seed);
  std::exponential_distribution<double> gap(options.rate > 0 ? options.rate : 1.0);
  const auto run_start = Clock::now();
  const auto deadline = options.duration_s > 0
                            ? run_start + std::chrono::duration_cast<Clock::duration>(
                                              std::chrono::duration<double>(options.duration_s))
                            : Clock::time_point::max();
  auto next_arrival = run_start;
  auto last_progress = Clock::time_point{};
  int64_t started = 0;
  const int max_in_flight = options.rate > 0 ? std::max(options.concurrency, 1) : options.concurrency;

  std::unique_lock lock(shared.mutex);
  while (true) {
    const auto now = Clock::now();
    const bool may_start = (options.requests == 0 || started < options.requests) && now < deadline;
    if (!may_start && shared.in_flight == 0) break;
    if (may_start && shared.in_flight < max_in_flight && (options.rate <= 0 || now >= next_arrival)) {
      ++started;
      ++shared.in_flight;
      const double start_s = std::chrono::duration<double>(now - run_start).count();
      std::string body = options.workload.Body(index++);
      lock.unlock();
      StartOpenAiCall(client, call, std::move(body), [&shared, start_s](RequestRecord record) {
        record.start_s = start_s;
        std::lock_guard l(shared.mutex);
        --shared.in_flight;
        ++shared.finished;
        if (!record.ok()) ++shared.failed;
        shared.records.push_back(std::move(record));
        shared.changed.notify_all();
      });
      lock.lock();
      if (options.rate > 0) {
        next_arrival += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
      }
      continue;
    }
    if (progress && now - last_progress >= std::chrono::milliseconds(200)) {
      last_progress = now;
      RunProgress p{started, shared.finished, shared.failed, options.requests,
                    std::chrono::duration<double>(now - run_start).count(), options.duration_s};
      lock.unlock();
      progress(p);
      lock.lock();
      continue;
    }
    auto wake = now + std::chrono::milliseconds(200);
    if (may_start && options.rate > 0 && shared.in_flight < max_in_flight) wake = std::min(wake, next_arrival);
    if (may_start) wake = std::min(wake, deadline);
    shared.changed.wait_until(lock, wake);
  }
  if (progress) {
    progress(RunProgress{started, shared.finished, shared.failed, options.requests,
                         std::chrono::duration<double>(Clock::now() - run_start).count(), options.duration_s});
  }
  RunResult result;
  result.duration_s = std::chrono::duration<double>(Clock::now() - run_start).count();
  result.records = std::move(shared.records);
  return result;
}

}  // namespace meridian::loadgen
