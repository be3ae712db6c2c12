#pragma once
// The CPU backend's DeviceEvent: the CPU runs every op to completion before
// the call returns, so an event is complete when it is recorded and is only
// a steady_clock stamp. synchronize() still counts a host sync, on a counter
// shared with the backend (events may outlive it).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "runtime/device_event.h"

namespace pouch {

class CpuEvent final : public DeviceEvent {
 public:
  explicit CpuEvent(std::shared_ptr<std::atomic<std::int64_t>> host_syncs)
      : stamp_(std::chrono::steady_clock::now()), host_syncs_(std::move(host_syncs)) {}

  bool query() const override { return true; }
  void synchronize() override { host_syncs_->fetch_add(1, std::memory_order_relaxed); }
  std::chrono::steady_clock::time_point stamp() const { return stamp_; }

 private:
  std::chrono::steady_clock::time_point stamp_;
  std::shared_ptr<std::atomic<std::int64_t>> host_syncs_;
};

}  // namespace pouch
