// ParallelContext::attach_device: the one place that picks the communicator
// for device tensors (the staged path today; NCCL, under POUCH_CUDA, later).
#include "parallel/device_communicator.h"
#include "parallel/parallel_context.h"
#include "parallel/staged_communicator.h"
#include "runtime/backend.h"

namespace pouch {

void ParallelContext::attach_device(Backend& backend) {
  if (backend.device() == Device::CPU) return;
  POUCH_CHECK(dynamic_cast<DeviceCommunicator*>(world_.get()) == nullptr,
              "ParallelContext::attach_device called twice");
  // Same order on every rank: each staging host communicator is collective
  // over its group.
  auto wrap = [&](std::unique_ptr<Communicator>& comm) {
    const std::string group = comm->name();
    auto staged = std::make_unique<StagedCommunicator>(make_staging_host_(group), backend, group, timeout_s_);
    comm = std::make_unique<DeviceCommunicator>(std::move(comm), std::move(staged));
  };
  wrap(world_);
  wrap(tp_);
  wrap(dp_);
}

}  // namespace pouch
