#pragma once
// First come, first served turns at the one generator, with a bounded
// waiting line: a ticket lock (tickets handed out in arrival order, served in
// the same order). The server refuses a request (503) rather than let the
// line grow past max_waiting, so a client sees "busy" instead of a request
// that waits minutes.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>

namespace pouch {

class GenerationQueue {
 public:
  explicit GenerationQueue(std::int64_t max_waiting) : max_waiting_(max_waiting) {}

  // Holding a Turn is holding the generator; destroying it passes it on.
  class Turn {
   public:
    Turn(Turn&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (queue_) queue_->finish();
    }

   private:
    friend class GenerationQueue;
    explicit Turn(GenerationQueue* queue) : queue_(queue) {}
    GenerationQueue* queue_;
  };

  // Blocks until this caller's turn; nullopt at once when max_waiting
  // callers already wait behind the one generating.
  std::optional<Turn> wait_turn() {
    std::unique_lock lock(mutex_);
    // next_ - serving_ = the one generating (if any) + those waiting.
    if (static_cast<std::int64_t>(next_ - serving_) > max_waiting_) return std::nullopt;
    const std::uint64_t ticket = next_++;
    turn_changed_.wait(lock, [&] { return serving_ == ticket; });
    return Turn(this);
  }

  // Requests generating or waiting now.
  std::int64_t in_line() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::int64_t>(next_ - serving_);
  }

 private:
  void finish() {
    {
      std::lock_guard lock(mutex_);
      ++serving_;
    }
    turn_changed_.notify_all();
  }

  const std::int64_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable turn_changed_;
  std::uint64_t next_ = 0, serving_ = 0;
};

}  // namespace pouch
