#include "parallel/staged_communicator.h"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "parallel/collective_desc.h"
#include "parallel/staging_buffer_pool.h"
#include "parallel/work_queue.h"
#include "runtime/backend.h"

namespace pouch {

namespace {

// The one reader of the test-only switch (see the header).
bool skip_wait_for(const std::string& group) {
  const char* v = std::getenv("POUCH_TEST_SKIP_COMM_WAIT");
  return v != nullptr && group == v;
}

}  // namespace

// One staged collective: the device tensors, their pinned host copies, and
// the event after the device->host copies. In-place collectives use the same
// tensor for in and out.
struct StagedCommunicator::Staged {
  CollectiveKind kind = CollectiveKind::AllReduce;
  ReduceOp op = ReduceOp::Sum;
  int root = 0;
  Tensor device_in, device_out;
  Tensor host_in, host_out;
  std::shared_ptr<DeviceEvent> ready;
};

namespace {

// Step 3 of the header: wait for the host collective, then queue the copy of
// the result back to the device.
class StagedWork final : public Work {
 public:
  StagedWork(std::shared_ptr<CollectiveWork> inner, std::shared_ptr<void> staged, Tensor device_out, Tensor host_in,
             Tensor host_out, Backend& backend, std::shared_ptr<StagingBufferPool> pool, bool skip_wait,
             std::shared_ptr<std::atomic<std::int64_t>> host_blocks)
      : inner_(std::move(inner)),
        staged_(std::move(staged)),
        device_out_(std::move(device_out)),
        host_in_(std::move(host_in)),
        host_out_(std::move(host_out)),
        backend_(backend),
        pool_(std::move(pool)),
        skip_wait_(skip_wait),
        host_blocks_(std::move(host_blocks)) {}

  bool done() const override { return inner_->done(); }
  bool wait_for(std::chrono::milliseconds timeout) override { return inner_->wait_for(timeout); }
  std::exception_ptr error() const override { return inner_->error(); }
  std::uint64_t sequence() const override { return inner_->sequence(); }

  void wait() override {
    if (copied_) {
      inner_->wait();
      return;
    }
    if (!skip_wait_) {
      if (!inner_->done()) host_blocks_->fetch_add(1, std::memory_order_relaxed);
      inner_->wait();
    }
    copied_ = true;
    if (device_out_.defined()) backend_.copy(device_out_, host_out_);
    // The staging thread is done with the buffers once the collective is; the
    // device is once the copy just enqueued has run. (A skipped wait races
    // the staging thread: its buffers are not reused.)
    if (inner_->done() && host_out_.defined()) {
      const std::shared_ptr<DeviceEvent> after = backend_.record_event();
      if (host_in_.raw() != host_out_.raw()) pool_->release(host_in_, after);
      pool_->release(host_out_, after);
    }
  }

 private:
  std::shared_ptr<CollectiveWork> inner_;
  std::shared_ptr<void> staged_;  // keeps the buffers alive while the staging thread may still use them
  Tensor device_out_, host_in_, host_out_;
  Backend& backend_;
  std::shared_ptr<StagingBufferPool> pool_;
  const bool skip_wait_;
  std::shared_ptr<std::atomic<std::int64_t>> host_blocks_;
  bool copied_ = false;
};

// Polls `ready` without counting a host sync: short yields first (the copies
// of a small tensor take microseconds), then sleeps, up to the deadline.
bool wait_ready(const DeviceEvent& ready, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  while (!ready.query()) {
    const auto now = Clock::now();
    if (now > deadline) return false;
    if (now - start < std::chrono::microseconds(200))
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

}  // namespace

StagedCommunicator::StagedCommunicator(std::unique_ptr<Communicator> host, Backend& backend, std::string name,
                                       double timeout_s)
    : host_(std::move(host)),
      backend_(backend),
      name_(std::move(name)),
      timeout_s_(timeout_s),
      skip_wait_(skip_wait_for(name_)),
      pool_(std::make_shared<StagingBufferPool>(backend)),
      thread_(std::make_unique<CommThread>()) {}

StagedCommunicator::~StagedCommunicator() { thread_->shutdown(); }

void StagedCommunicator::check_device(const char* what, const char* arg, const Tensor& t) const {
  if (!t.defined()) fail("{} on group '{}' (rank {}): {} is an undefined tensor", what, name_, rank(), arg);
  if (t.device() != backend_.device())
    fail("{} on group '{}' (rank {}): {} is on {}, but this communicator stages {} tensors; copy it with Backend::copy",
         what, name_, rank(), arg, device_name(t.device()), device_name(backend_.device()));
}

WorkHandle StagedCommunicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  check_device("all_reduce", "the tensor", t);
  auto s = std::make_shared<Staged>();
  s->kind = CollectiveKind::AllReduce;
  s->op = op;
  s->device_in = s->device_out = t;
  s->host_in = s->host_out = pool_->acquire(t.shape(), t.dtype());
  describe_all_reduce({name_, rank(), size()}, s->host_in, op);
  return issue(std::move(s));
}

WorkHandle StagedCommunicator::reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) {
  check_device("reduce_scatter", "out", out);
  check_device("reduce_scatter", "in", in);
  auto s = std::make_shared<Staged>();
  s->kind = CollectiveKind::ReduceScatter;
  s->op = op;
  s->device_in = in;
  s->device_out = out;
  s->host_in = pool_->acquire(in.shape(), in.dtype());
  s->host_out = pool_->acquire(out.shape(), out.dtype());
  describe_reduce_scatter({name_, rank(), size()}, s->host_out, s->host_in, op);
  return issue(std::move(s));
}

WorkHandle StagedCommunicator::all_gather_async(const Tensor& out, const Tensor& in) {
  check_device("all_gather", "out", out);
  check_device("all_gather", "in", in);
  auto s = std::make_shared<Staged>();
  s->kind = CollectiveKind::AllGather;
  s->device_in = in;
  s->device_out = out;
  s->host_in = pool_->acquire(in.shape(), in.dtype());
  s->host_out = pool_->acquire(out.shape(), out.dtype());
  describe_all_gather({name_, rank(), size()}, s->host_out, s->host_in);
  return issue(std::move(s));
}

WorkHandle StagedCommunicator::broadcast_async(const Tensor& t, int root) {
  check_device("broadcast", "the tensor", t);
  auto s = std::make_shared<Staged>();
  s->kind = CollectiveKind::Broadcast;
  s->root = root;
  s->device_in = s->device_out = t;
  s->host_in = s->host_out = pool_->acquire(t.shape(), t.dtype());
  describe_broadcast({name_, rank(), size()}, s->host_in, root);
  return issue(std::move(s));
}

WorkHandle StagedCommunicator::barrier_async() { return issue(std::make_shared<Staged>()); }

WorkHandle StagedCommunicator::issue(std::shared_ptr<Staged> s) {
  // Step 1, on the calling thread: the copies to the host, then `ready`.
  if (s->device_in.defined()) backend_.copy(s->host_in, s->device_in);
  s->ready = backend_.record_event();
  auto inner = std::make_shared<CollectiveWork>(++issued_);
  thread_->post([this, s, inner] {
    // Step 2, on the staging thread.
    if (!wait_ready(*s->ready, timeout_s_)) {
      inner->finish(fmt::format(
          "{} on group '{}' (rank {}): the device work before it did not complete within parallel.timeout_s = {:g} "
          "s (a stuck kernel or stream); staged collective {}",
          s->device_in.defined() ? collective_kind_name(s->kind) : "barrier", name_, rank(), timeout_s_,
          inner->sequence()));
      return;
    }
    try {
      WorkHandle w;
      if (!s->device_in.defined()) {
        w = host_->barrier_async();
      } else {
        switch (s->kind) {
          case CollectiveKind::AllReduce:
            w = host_->all_reduce_async(s->host_in, s->op);
            break;
          case CollectiveKind::ReduceScatter:
            w = host_->reduce_scatter_async(s->host_out, s->host_in, s->op);
            break;
          case CollectiveKind::AllGather:
            w = host_->all_gather_async(s->host_out, s->host_in);
            break;
          case CollectiveKind::Broadcast:
            w = host_->broadcast_async(s->host_in, s->root);
            break;
          case CollectiveKind::Barrier:
            w = host_->barrier_async();
            break;
        }
      }
      w->wait();
      inner->finish();
    } catch (const std::exception& e) {
      inner->finish(e.what());
    }
  });
  const bool skip = skip_wait_ && s->kind == CollectiveKind::AllReduce && s->device_in.defined();
  return std::make_shared<StagedWork>(inner, s, s->device_out, s->host_in, s->host_out, backend_, pool_, skip,
                                      host_blocks_);
}

}  // namespace pouch
