#pragma once
// A group's communicator once a device backend exists: routes each
// collective by where its tensors live. Host tensors (Device::CPU) go to the
// group's host communicator exactly as before; device tensors go to the
// device path (StagedCommunicator now, NCCL later). The two paths keep their
// own sequence numbers and flight-record names ("tp", "tp/staged"): each is
// issued in program order on every rank, so each matches across ranks on its
// own. A collective whose tensors sit on different devices is refused with a
// message naming the group and rank. barrier() runs on the host communicator.
// Made by ParallelContext::attach_device (communicator_registry.cpp).
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace pouch {

class DeviceCommunicator final : public Communicator {
 public:
  DeviceCommunicator(std::unique_ptr<Communicator> host, std::unique_ptr<Communicator> device);

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  const std::string& name() const override { return host_->name(); }

  WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) override;
  WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkHandle all_gather_async(const Tensor& out, const Tensor& in) override;
  WorkHandle broadcast_async(const Tensor& t, int root) override;
  WorkHandle barrier_async() override;

  std::int64_t host_blocks() const override { return host_->host_blocks() + device_->host_blocks(); }

  Communicator& host() const { return *host_; }
  Communicator& device() const { return *device_; }

 private:
  // The path for a collective over `out` and `in`.
  Communicator& route(const char* what, const Tensor& out, const Tensor& in) const;

  std::unique_ptr<Communicator> host_;
  std::unique_ptr<Communicator> device_;
};

}  // namespace pouch
