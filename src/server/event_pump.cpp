// EventPump: a single consumer thread draining batches of tasks posted by the engine thread.
#include "server/event_pump.h"

#include "core/log.h"

namespace meridian::server {

EventPump::EventPump(size_t max_queued) : max_queued_(max_queued) {
  thread_ = std::thread([this] { Run(); });
}

EventPump::~EventPump() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool EventPump::Post(Task task, bool must_run) {
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!must_run && queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
    // Wake only a sleeping pump: while it works it picks new tasks up by itself, so a step of
    // many tokens costs the engine thread one wake-up at most.
    notify = sleeping_;
    sleeping_ = false;
  }
  if (notify) wake_.notify_one();
  return true;
}

void EventPump::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  drained_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void EventPump::Run() {
  std::vector<Task> batch;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (queue_.empty()) {
      busy_ = false;
      drained_.notify_all();
      if (stopping_) return;
      sleeping_ = true;
      wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      sleeping_ = false;
      continue;
    }
    busy_ = true;
    batch.swap(queue_);
    lock.unlock();
    for (Task& task : batch) {
      try {
        task();
      } catch (const std::exception& e) {
        log::Error("an engine event handler threw", {{"error", e.what()}});
      } catch (...) {
        log::Error("an engine event handler threw", {});
      }
    }
    batch.clear();
    lock.lock();
  }
}

}  // namespace meridian::server
