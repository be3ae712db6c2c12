#pragma once
// Collectives on device tensors over any host Communicator (MPI, Fake, Self),
// staged through Backend::empty_host buffers and ordered by Backend events
// only: no CUDA types. It is the NCCL-less path (the simulated device, TP on
// one GPU with in-process ranks, CI). Host tensors are refused: the device
// communicator (device_communicator.h) routes them to the host communicator.
//
// The host communicator is this object's own (a second communicator over the
// same group, named "<group>/staged"): it carries the staged collectives
// only, in their issue order, so they never interleave with the group's
// host-tensor collectives, whose order differs between ranks by timing.
//
// One collective, step by step, and where each runs:
//  1. issue (the calling thread, the one that drives the Backend): the
//     arguments are checked (same device as the backend, the host
//     communicator's dtype/size rules, the message names the group and rank);
//     pinned host buffers are taken from the communicator's pool
//     (staging_buffer_pool.h; wait() gives them back with the event after
//     the copy back); the device->host copies are enqueued
//     on the backend's compute stream, then an event `ready` is recorded
//     after them. The call returns at once.
//  2. the staging thread (one per communicator, issue order): polls `ready`
//     (DeviceEvent::query, never a host sync of the backend) until the copies
//     are done, bounded by the deadline; then runs the host collective on the
//     buffers and waits for it: the host communicator's deadline and watchdog
//     apply, so a stalled peer ends the job (MPI) or fails the Work (Fake),
//     and its sequence numbers and flight records ("tp/staged") say where.
//  3. Work::wait() (the calling thread again: it enqueues on the Backend):
//     blocks the host until step 2 is done (rethrowing its error), then
//     enqueues the host->device copy of the result on the compute stream and
//     returns without waiting for it. Later compute work is ordered after the
//     result by stream order. This is the one place the staged path blocks
//     the host: the compute stream cannot wait on a host collective without
//     a device-side flag, so wait() waits on the host instead (NCCL's path
//     makes wait() a stream-event wait). Each such block is counted in
//     host_blocks(). Nothing else blocks: no synchronize(), no event
//     synchronize, no copy into pageable memory.
// Rules for callers: call wait() (exactly as for a host tensor) on the thread
// that drives the Backend; a device Work never waited leaves its result in
// the staging buffer. done() and wait_for() report step 2 only.
//
// Test-only: env POUCH_TEST_SKIP_COMM_WAIT=<group> ("tp", "dp", "world")
// makes wait() on that group's device all-reduces enqueue the copy back at
// once, without waiting for the collective: the compute stream then races
// the staging thread, which is the missing wait the sim device must catch
// (tests/spmd/sim_device.sh). All-reduces only: their staging buffer starts
// as the local values, so a lost race yields wrong numbers, never
// uninitialised indices. Read once, at construction, in
// staged_communicator.cpp; never set it outside tests.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace pouch {

class Backend;
class CommThread;
class StagingBufferPool;

class StagedCommunicator final : public Communicator {
 public:
  // `host` runs the collectives; `backend` is the device's (it outlives this
  // communicator); `name` is the group's name used in error messages.
  // timeout_s bounds step 2's wait for the device copies.
  StagedCommunicator(std::unique_ptr<Communicator> host, Backend& backend, std::string name, double timeout_s);
  ~StagedCommunicator() override;  // lets queued collectives finish

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  const std::string& name() const override { return name_; }

  WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) override;
  WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkHandle all_gather_async(const Tensor& out, const Tensor& in) override;
  WorkHandle broadcast_async(const Tensor& t, int root) override;
  // On the host communicator, in the staged order (no tensors to stage).
  WorkHandle barrier_async() override;

  // Times wait() blocked the host on a collective that was not done yet.
  std::int64_t host_blocks() const override { return host_blocks_->load(std::memory_order_relaxed); }
  Communicator& host() const { return *host_; }
  // The staging buffers: how many were allocated, how many acquires reused one.
  const StagingBufferPool& staging_buffers() const { return *pool_; }

 private:
  struct Staged;
  WorkHandle issue(std::shared_ptr<Staged> s);
  void check_device(const char* what, const char* arg, const Tensor& t) const;

  std::unique_ptr<Communicator> host_;
  Backend& backend_;
  std::string name_;
  double timeout_s_;
  bool skip_wait_;  // POUCH_TEST_SKIP_COMM_WAIT names this group
  std::uint64_t issued_ = 0;
  // Shared with the Works, which may outlive the communicator.
  std::shared_ptr<std::atomic<std::int64_t>> host_blocks_ = std::make_shared<std::atomic<std::int64_t>>(0);
  std::shared_ptr<StagingBufferPool> pool_;  // shared with the Works, which give buffers back
  std::unique_ptr<CommThread> thread_;       // last: joins before the members above go
};

}  // namespace pouch
