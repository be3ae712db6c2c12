#include "runtime/sim/sim_stream.h"

#include <chrono>

#include "runtime/error.h"
#include "runtime/threads.h"

namespace pouch {

SimStream::SimStream(std::string name, const SimOptions& options)
    : name_(std::move(name)), options_(options), delay_rng_(options.delay_seed) {
  worker_ = std::thread([this] { run(); });
}

SimStream::~SimStream() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return completed_ == enqueued_; });
    stop_ = true;
  }
  work_cv_.notify_all();
  worker_.join();
}

void SimStream::throw_failure() {
  throw Error(
      fmt::format("sim device, stream {}: {} failed: {} (ops are asynchronous: set POUCH_SIM_SYNC=1 to stop "
                  "at the failing call)",
                  name_, failed_op_, failure_));
}

void SimStream::check() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_.empty()) throw_failure();
}

void SimStream::enqueue(const char* op, std::function<void()> fn, bool is_op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.empty()) throw_failure();
    queue_.push_back(Item{op, std::move(fn), compute_threads(), is_op});
    ++enqueued_;
  }
  work_cv_.notify_one();
  if (options_.sync_each_op && is_op) drain();
}

void SimStream::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  const std::uint64_t target = enqueued_;
  done_cv_.wait(lock, [&] { return completed_ >= target; });
  if (!failure_.empty()) throw_failure();
}

void SimStream::delay() {
  if (options_.max_delay_us <= 0) return;
  std::uniform_int_distribution<std::int64_t> us(options_.min_delay_us, options_.max_delay_us);
  std::this_thread::sleep_for(std::chrono::microseconds(us(delay_rng_)));
}

void SimStream::run() {
  int threads = compute_threads();
  for (;;) {
    Item item;
    bool skip = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      item = std::move(queue_.front());
      queue_.pop_front();
      skip = item.is_op && !failure_.empty();
    }
    if (!skip) {
      delay();
      if (item.threads != threads) {
        set_compute_threads(item.threads);
        threads = item.threads;
      }
      try {
        item.fn();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu_);
        if (failure_.empty()) {
          failed_op_ = item.op;
          failure_ = e.what()[0] != '\0' ? e.what() : "unknown error";
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (failure_.empty()) {
          failed_op_ = item.op;
          failure_ = "a non-standard exception";
        }
      }
    }
    // Release what the item captured (tensors it kept alive) before counting
    // it done, so a drained stream holds no references.
    item.fn = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++completed_;
    }
    done_cv_.notify_all();
  }
}

}  // namespace pouch
