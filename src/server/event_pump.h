// EventPump: takes engine events off the engine thread. The scheduler calls each request's
// callback on its engine thread; writing a chunk to a ResponseWriter there costs a lock and a
// wake-up of an io thread per token (measured at 28 to 60 us a token, i.e. 15% of decode
// throughput at 16 streams on 16 cores). Instead the engine thread only appends the event to this
// queue (one short lock; a condition-variable wake only when the pump sleeps), and the pump thread
// formats and writes, in order per request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace meridian::server {

//! Thread-safety: Post may be called from any thread (the engine thread, and Scheduler::Stop's
//! caller); tasks run one at a time, in Post order, on the pump thread. Drain and the destructor
//! must not be called from a task.
class EventPump {
 public:
  using Task = std::function<void()>;

  //! `max_queued`: tasks waiting at most; Post refuses more (the caller then fails the request).
  explicit EventPump(size_t max_queued = 1 << 16);
  //! Runs the tasks still queued, then stops the thread.
  ~EventPump();
  EventPump(const EventPump&) = delete;
  EventPump& operator=(const EventPump&) = delete;

  //! Queues `task`; false (task dropped) when `max_queued` tasks are already waiting, unless
  //! `must_run` (a request's final event: it always queues, so every request gets answered).
  bool Post(Task task, bool must_run = false);
  //! Blocks until every task posted so far has run.
  void Drain();

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;     //!< the pump: work or stop
  std::condition_variable drained_;  //!< Drain: the queue ran empty
  std::vector<Task> queue_;          //!< guarded by mu_
  bool sleeping_ = false;            //!< guarded by mu_: the pump waits on wake_
  bool busy_ = false;                //!< guarded by mu_: the pump runs a batch
  bool stopping_ = false;            //!< guarded by mu_
  std::thread thread_;
};

}  // namespace meridian::server
