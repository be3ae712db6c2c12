#include "parallel/work_queue.h"

#include <chrono>

namespace pouch {

namespace {

// Waiting sides spin (yielding) this long before sleeping on a condition
// variable: collectives often follow each other within microseconds (bucket
// bursts), and waking a sleeping thread costs tens of microseconds on a VM; a
// yield loop costs nothing when another thread needs the core.
constexpr auto kSpin = std::chrono::microseconds(50);

template <typename Pred>
void spin_until(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + kSpin;
  while (!pred() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
}

}  // namespace

CommThread::CommThread() : thread_([this] { loop(); }) {}

CommThread::~CommThread() { shutdown(); }

void CommThread::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    POUCH_CHECK(!stopping_, "collective posted to a communicator that is shutting down");
    queue_.push_back(std::move(task));
    pending_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_one();
}

void CommThread::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommThread::loop() {
  for (;;) {
    spin_until([&] { return pending_.load(std::memory_order_acquire) > 0; });
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything posted has run
      task = std::move(queue_.front());
      queue_.pop_front();
      pending_.fetch_sub(1, std::memory_order_relaxed);
    }
    task();
  }
}

bool CollectiveWork::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return done(); })) return false;
  if (!error_.empty()) throw CollectiveError(error_);
  return true;
}

void CollectiveWork::wait() {
  spin_until([&] { return done(); });
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return done(); });
  if (!error_.empty()) throw CollectiveError(error_);
}

std::exception_ptr CollectiveWork::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_.empty() ? nullptr : std::make_exception_ptr(CollectiveError(error_));
}

void CollectiveWork::finish(std::string error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    POUCH_CHECK(!done(), "collective {} finished twice", sequence_);
    error_ = std::move(error);
    done_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

}  // namespace pouch
