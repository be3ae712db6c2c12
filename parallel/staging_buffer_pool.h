#pragma once
// Pinned host buffers for the staged communicator, reused across collectives
// instead of one Backend::empty_host allocation per collective (page-locking
// memory costs far more than the copy of a small tensor on CUDA: a
// cudaHostAlloc is a syscall and a TLB shootdown).
//
// A buffer goes back to the pool with the device event after its last use
// (the host->device copy of the result, enqueued by Work::wait()); it is
// handed out again only once that event has completed (DeviceEvent::query,
// never a host sync), so the device never reads a buffer a later collective
// is already writing. Buffers are kept per (dtype, element count): the
// collectives of a training step repeat the same sizes every step, so after
// the first step every collective finds its buffers here.
//
// Threads: acquire and release are called by the thread that drives the
// Backend (the staged communicator's caller); a mutex makes them safe from
// any thread anyway.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "runtime/device_event.h"
#include "runtime/tensor.h"

namespace pouch {

class Backend;

class StagingBufferPool {
 public:
  // `backend` allocates the buffers (empty_host) and outlives the pool.
  explicit StagingBufferPool(Backend& backend) : backend_(backend) {}

  // A host buffer of `shape` and `dtype`: a free one whose last device use is
  // complete, else a new one.
  Tensor acquire(const Shape& shape, DType dtype);
  // Returns `buffer` (from acquire) to the pool; it is reusable once `after`
  // has completed. Beyond kMaxFreePerSize free buffers of a size, it is freed.
  void release(Tensor buffer, std::shared_ptr<DeviceEvent> after);

  std::int64_t allocations() const;  // buffers ever allocated
  std::int64_t reuses() const;       // acquires served from the pool

  static constexpr std::size_t kMaxFreePerSize = 8;

 private:
  struct Free {
    Tensor buffer;
    std::shared_ptr<DeviceEvent> after;
  };
  Backend& backend_;
  mutable std::mutex mu_;
  std::map<std::pair<DType, std::int64_t>, std::vector<Free>> free_;
  std::int64_t allocations_ = 0, reuses_ = 0;
};

}  // namespace pouch
