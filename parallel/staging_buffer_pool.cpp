#include "parallel/staging_buffer_pool.h"

#include "runtime/backend.h"

namespace pouch {

Tensor StagingBufferPool::acquire(const Shape& shape, DType dtype) {
  const std::int64_t numel = shape_numel(shape);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find({dtype, numel});
    if (it != free_.end()) {
      std::vector<Free>& list = it->second;
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i].after && !list[i].after->query()) continue;
        Tensor buffer = std::move(list[i].buffer);
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        ++reuses_;
        return buffer.reshape(shape);
      }
    }
    ++allocations_;
  }
  return backend_.empty_host(shape, dtype);
}

void StagingBufferPool::release(Tensor buffer, std::shared_ptr<DeviceEvent> after) {
  if (!buffer.defined()) return;
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Free>& list = free_[{buffer.dtype(), buffer.numel()}];
  if (list.size() < kMaxFreePerSize) list.push_back({std::move(buffer), std::move(after)});
}

std::int64_t StagingBufferPool::allocations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return allocations_;
}

std::int64_t StagingBufferPool::reuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reuses_;
}

}  // namespace pouch
