#include "parallel/device_communicator.h"

namespace pouch {

DeviceCommunicator::DeviceCommunicator(std::unique_ptr<Communicator> host, std::unique_ptr<Communicator> device)
    : host_(std::move(host)), device_(std::move(device)) {}

Communicator& DeviceCommunicator::route(const char* what, const Tensor& out, const Tensor& in) const {
  // Undefined tensors go to the host path, whose checks name them.
  const bool out_host = !out.defined() || out.device() == Device::CPU;
  const bool in_host = !in.defined() || in.device() == Device::CPU;
  if (out_host != in_host)
    fail(
        "{} on group '{}' (rank {}): out is on {} but in is on {}; a collective's tensors must be on one device "
        "(copy with Backend::copy)",
        what, name(), rank(), device_name(out.device()), device_name(in.device()));
  return out_host ? *host_ : *device_;
}

WorkHandle DeviceCommunicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  return route("all_reduce", t, t).all_reduce_async(t, op);
}

WorkHandle DeviceCommunicator::reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) {
  return route("reduce_scatter", out, in).reduce_scatter_async(out, in, op);
}

WorkHandle DeviceCommunicator::all_gather_async(const Tensor& out, const Tensor& in) {
  return route("all_gather", out, in).all_gather_async(out, in);
}

WorkHandle DeviceCommunicator::broadcast_async(const Tensor& t, int root) {
  return route("broadcast", t, t).broadcast_async(t, root);
}

WorkHandle DeviceCommunicator::barrier_async() { return host_->barrier_async(); }

}  // namespace pouch
