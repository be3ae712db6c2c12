#pragma once
// One in-order stream of the simulated device: a worker thread that runs the
// queued items one at a time, in enqueue order, as a GPU stream runs its
// kernels. The host thread that enqueues returns at once.
//
// Errors are sticky, as on CUDA: when an op throws, the stream records the
// op's name and message, skips every later op (markers and waits still run,
// so nothing waiting on the stream hangs), and the next enqueue() or drain()
// on the host rethrows it as pouch::Error.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "runtime/sim/sim_options.h"

namespace pouch {

class SimStream {
 public:
  SimStream(std::string name, const SimOptions& options);
  ~SimStream();
  SimStream(const SimStream&) = delete;
  SimStream& operator=(const SimStream&) = delete;

  // Queues `fn`, run on the worker with `compute_threads` OpenMP threads (the
  // host's setting at the call, so kernels split work exactly as on the
  // CPU backend). An op is skipped once the stream has failed; a marker
  // (is_op = false: events, waits) always runs.
  void enqueue(const char* op, std::function<void()> fn, bool is_op = true);
  // Blocks the host until everything queued so far has run; rethrows a
  // sticky error.
  void drain();
  // Rethrows a sticky error, if any, without waiting.
  void check();

  const std::string& name() const { return name_; }

 private:
  struct Item {
    const char* op;
    std::function<void()> fn;
    int threads;
    bool is_op;
  };
  void run();
  void delay();
  void throw_failure();  // requires mu_

  std::string name_;
  SimOptions options_;
  std::mt19937_64 delay_rng_;  // worker-owned

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Item> queue_;
  std::uint64_t enqueued_ = 0, completed_ = 0;
  bool stop_ = false;
  std::string failed_op_, failure_;  // empty: no failure
  std::thread worker_;
};

}  // namespace pouch
