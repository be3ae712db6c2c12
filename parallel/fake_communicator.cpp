#include "parallel/fake_communicator.h"

#include <fmt/format.h>

#include <cstring>
#include <thread>

#include "parallel/flight_recorder.h"
#include "parallel/reduce_kernels.h"
#include "parallel/watchdog.h"
#include "parallel/work_queue.h"

namespace pouch {

// One collective in flight: every rank's input (copied on arrival, so in-place
// outputs can be written while peers still read), then the result.
struct FakeWorld::Slot {
  CollectiveDesc desc;
  int first_rank = -1;
  std::vector<Tensor> inputs;
  std::vector<bool> present;
  int arrived = 0;
  int departed = 0;
  bool complete = false;
  Tensor result;  // all_reduce, broadcast: [count]; reduce_scatter: [count]; all_gather: [size * count]
};

FakeWorld::FakeWorld(int size, std::string name) : size_(size), name_(std::move(name)) {
  POUCH_CHECK(size > 0, "a fake world needs at least one rank");
}

void FakeWorld::inject_failure(int rank, std::uint64_t k) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_[{rank, k}] = true;
}

void FakeWorld::inject_delay(int rank, std::uint64_t k, std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mutex_);
  delays_[{rank, k}] = delay;
}

std::string FakeWorld::fail_locked(std::string message) {
  if (broken_.empty()) broken_ = std::move(message);
  cv_.notify_all();
  return broken_;
}

void FakeWorld::run(const RankView& me, std::uint64_t seq, const CollectiveDesc& desc, const Tensor& in,
                    const Tensor& out) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = delays_.find({me.rank, seq}); it != delays_.end()) delay = it->second;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);

  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                      std::chrono::duration<double>(me.timeout_s));
  auto where = [&] {
    return fmt::format("rank {}: collective {} ({}) on group '{}'", me.rank, seq, desc.str(), name_);
  };

  std::unique_lock<std::mutex> lock(mutex_);
  if (!broken_.empty())
    throw CollectiveError(fmt::format("{} cannot run: the group failed earlier: {}", where(), broken_));
  if (failures_.count({me.rank, seq})) {
    const std::string msg = fail_locked(fmt::format("injected failure on rank {} at collective {} ({}) of group '{}'",
                                                    me.rank, seq, desc.str(), name_));
    throw CollectiveError(msg);
  }

  std::shared_ptr<Slot>& slot_ref = slots_[seq];
  if (!slot_ref) {
    slot_ref = std::make_shared<Slot>();
    slot_ref->desc = desc;
    slot_ref->first_rank = me.rank;
    slot_ref->inputs.resize(static_cast<std::size_t>(size_));
    slot_ref->present.assign(static_cast<std::size_t>(size_), false);
  }
  const std::shared_ptr<Slot> slot = slot_ref;
  if (!(slot->desc == desc)) {
    const std::string msg = fail_locked(
        fmt::format("collective {} on group '{}' does not match across ranks: rank {} issued {}, rank {} issued "
                    "{}; every rank must issue the same collectives in the same order",
                    seq, name_, slot->first_rank, slot->desc.str(), me.rank, desc.str()));
    throw CollectiveError(msg);
  }
  const bool contributes =
      desc.kind != CollectiveKind::Barrier && (desc.kind != CollectiveKind::Broadcast || desc.root == me.rank);
  if (contributes) slot->inputs[static_cast<std::size_t>(me.rank)] = in.clone();
  slot->present[static_cast<std::size_t>(me.rank)] = true;
  ++slot->arrived;

  if (slot->arrived == size_) {
    switch (desc.kind) {
      case CollectiveKind::AllReduce:
        slot->result = reduce_in_rank_order(slot->inputs, desc.op);
        break;
      case CollectiveKind::ReduceScatter:
        slot->result = reduce_in_rank_order(slot->inputs, desc.op);
        break;
      case CollectiveKind::AllGather: {
        slot->result = Tensor::empty({desc.count * size_}, desc.dtype);
        const std::size_t bytes = desc.bytes();
        for (int r = 0; r < size_; ++r)
          std::memcpy(static_cast<char*>(slot->result.raw()) + bytes * static_cast<std::size_t>(r),
                      slot->inputs[static_cast<std::size_t>(r)].raw(), bytes);
        break;
      }
      case CollectiveKind::Broadcast:
        slot->result = slot->inputs[static_cast<std::size_t>(desc.root)];
        break;
      case CollectiveKind::Barrier:
        break;
    }
    slot->inputs.clear();
    slot->complete = true;
    cv_.notify_all();
  } else if (!cv_.wait_until(lock, deadline, [&] { return slot->complete || !broken_.empty(); })) {
    TimeoutReport report;
    report.group = name_;
    report.group_rank = me.rank;
    report.world_rank = me.rank;
    report.sequence = seq;
    report.desc = desc;
    report.waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report.timeout_s = me.timeout_s;
    for (int r = 0; r < size_; ++r) {
      if (slot->present[static_cast<std::size_t>(r)]) continue;
      report.missing.push_back(r);
      report.missing_world.push_back(r);
    }
    if (me.recorder) report.flight_record = me.recorder->dump();
    fail_locked(fmt::format("rank {} timed out after {:g} s in collective {} ({}), {}", me.rank, me.timeout_s, seq,
                            desc.str(), waiting_for(report.missing)));
    lock.unlock();
    if (me.policy) me.policy->on_timeout(report);
    throw CollectiveError(report.describe());
  }
  if (!slot->complete) throw CollectiveError(fmt::format("{} failed: {}", where(), broken_));

  // The result is immutable from here on; copy this rank's part.
  const std::size_t out_bytes = out.defined() ? out.nbytes() : 0;
  const char* src = static_cast<const char*>(slot->result.defined() ? slot->result.raw() : nullptr);
  if (desc.kind == CollectiveKind::ReduceScatter) src += out_bytes * static_cast<std::size_t>(me.rank);
  if (out_bytes > 0) std::memcpy(out.raw(), src, out_bytes);
  if (++slot->departed == size_) slots_.erase(seq);
}

FakeCommunicator::FakeCommunicator(std::shared_ptr<FakeWorld> world, int rank, CommOptions options)
    : world_(std::move(world)), rank_(rank), options_(std::move(options)) {
  POUCH_CHECK(world_ && rank >= 0 && rank < world_->size(), "fake rank {} outside its world", rank);
  if (!options_.recorder) options_.recorder = std::make_shared<FlightRecorder>(rank);
  if (!options_.policy) options_.policy = std::make_shared<RecordingPolicy>();
  thread_ = std::make_unique<CommThread>();
}

FakeCommunicator::~FakeCommunicator() { thread_->shutdown(); }

WorkHandle FakeCommunicator::enqueue(const CollectiveDesc& desc, const Tensor& in, const Tensor& out) {
  std::lock_guard<std::mutex> lock(issue_mutex_);
  const std::uint64_t seq = ++issued_;
  auto work = std::make_shared<CollectiveWork>(seq);
  FlightRecorder* recorder = options_.recorder.get();
  const std::uint64_t id = recorder->queued(name(), seq, desc);
  const FakeWorld::RankView me{rank_, options_.timeout_s, recorder, options_.policy.get()};
  thread_->post([this, me, seq, desc, in, out, work, id] {
    me.recorder->running(id);
    try {
      world_->run(me, seq, desc, in, out);
      me.recorder->done(id);
      work->finish();
    } catch (const std::exception& e) {
      me.recorder->failed(id, e.what());
      work->finish(*e.what() ? e.what() : "collective failed");
    }
  });
  return work;
}

WorkHandle FakeCommunicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  return enqueue(describe_all_reduce({name(), rank_, size()}, t, op), t, t);
}

WorkHandle FakeCommunicator::reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) {
  return enqueue(describe_reduce_scatter({name(), rank_, size()}, out, in, op), in, out);
}

WorkHandle FakeCommunicator::all_gather_async(const Tensor& out, const Tensor& in) {
  return enqueue(describe_all_gather({name(), rank_, size()}, out, in), in, out);
}

WorkHandle FakeCommunicator::broadcast_async(const Tensor& t, int root) {
  return enqueue(describe_broadcast({name(), rank_, size()}, t, root), t, t);
}

WorkHandle FakeCommunicator::barrier_async() { return enqueue(describe_barrier(), Tensor(), Tensor()); }

std::vector<std::unique_ptr<FakeCommunicator>> make_fake_group(int size, const std::string& name,
                                                               const CommOptions& options) {
  auto world = std::make_shared<FakeWorld>(size, name);
  std::vector<std::unique_ptr<FakeCommunicator>> ranks;
  for (int r = 0; r < size; ++r) {
    CommOptions o = options;
    o.recorder = nullptr;  // one recorder per rank, as in a real job
    ranks.push_back(std::make_unique<FakeCommunicator>(world, r, o));
  }
  return ranks;
}

}  // namespace pouch
