#pragma once
// The simulated device's DeviceEvent: a marker that a SimStream's worker
// completes when it reaches it, stamping the steady_clock time then (what
// elapsed_s subtracts). synchronize() blocks the host until then and counts
// a host sync on the recording backend's counter (shared: events may outlive
// the backend).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "runtime/device_event.h"

namespace pouch {

class SimEvent final : public DeviceEvent, public std::enable_shared_from_this<SimEvent> {
 public:
  explicit SimEvent(std::shared_ptr<std::atomic<std::int64_t>> host_syncs) : host_syncs_(std::move(host_syncs)) {}

  bool query() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  void synchronize() override {
    wait();
    host_syncs_->fetch_add(1, std::memory_order_relaxed);
  }

  // Worker side: the stream reached the marker.
  void complete() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stamp_ = std::chrono::steady_clock::now();
      done_ = true;
    }
    cv_.notify_all();
  }
  // Blocks until complete, without counting (a stream waiting on an event).
  void wait() const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }
  // Only meaningful once query() is true.
  std::chrono::steady_clock::time_point stamp() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stamp_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  std::chrono::steady_clock::time_point stamp_{};
  std::shared_ptr<std::atomic<std::int64_t>> host_syncs_;
};

}  // namespace pouch
