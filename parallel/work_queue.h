#pragma once
// The pieces every threaded Communicator shares: the Work handle it returns
// and the thread that runs its collectives one at a time, in issue order.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "parallel/communicator.h"

namespace pouch {

// One thread that runs posted tasks one at a time, in the order posted.
// shutdown() (and the destructor) runs every task still queued, then joins:
// a communicator's pending collectives complete (or hit the deadline) before
// it goes away. Tasks must not throw.
class CommThread {
 public:
  CommThread();
  ~CommThread();  // calls shutdown()
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  void post(std::function<void()> task);
  void shutdown();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::atomic<int> pending_{0};  // queue_.size(), readable without the lock
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

// A Work that the communication thread finishes exactly once. wait() blocks
// until then: the communicator guarantees it happens, by finishing the work
// with an error at the deadline (fake) or by aborting the job (MPI watchdog).
// A failure is kept as its message; wait() throws, and error() returns, a new
// CollectiveError with it on the caller's thread, so no exception object is
// shared between threads.
class CollectiveWork final : public Work {
 public:
  explicit CollectiveWork(std::uint64_t sequence) : sequence_(sequence) {}

  bool done() const override { return done_.load(std::memory_order_acquire); }
  bool wait_for(std::chrono::milliseconds timeout) override;
  void wait() override;
  std::exception_ptr error() const override;
  std::uint64_t sequence() const override { return sequence_; }

  // Called once, by the thread that ran the collective; `error` is the
  // failure's message, empty on success.
  void finish(std::string error = {});

 private:
  const std::uint64_t sequence_;
  std::atomic<bool> done_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string error_;
};

}  // namespace pouch
