#include "parallel/mpi_communicator.h"

#include <fmt/format.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "parallel/flight_recorder.h"
#include "parallel/reduce_kernels.h"
#include "parallel/watchdog.h"
#include "parallel/work_queue.h"

namespace pouch {

namespace {

constexpr int kQueryTag = 1;
constexpr int kReplyTag = 2;

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return MPI_FLOAT;
    case DType::F64:
      return MPI_DOUBLE;
    case DType::I32:
      return MPI_INT32_T;
    default:
      POUCH_CHECK(false, "no MPI type for {}", dtype_name(dtype));
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Max ? MPI_MAX : MPI_SUM; }

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, static_cast<std::size_t>(len));
}

bool overlap(const Tensor& a, const Tensor& b) {
  const char* a0 = static_cast<const char*>(a.raw());
  const char* b0 = static_cast<const char*>(b.raw());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace

const char* peer_wait_name(PeerWait mode) {
  switch (mode) {
    case PeerWait::Auto:
      return "auto";
    case PeerWait::Spin:
      return "spin";
    case PeerWait::Sleep:
      return "sleep";
  }
  return "?";
}

int cpus_of_node(MPI_Comm node) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    for (unsigned c = 0; c < std::thread::hardware_concurrency() && c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
  }
  MPI_Allreduce(MPI_IN_PLACE, &set, static_cast<int>(sizeof(set)), MPI_BYTE, MPI_BOR, node);
  return std::max(1, CPU_COUNT(&set));
}

bool node_is_oversubscribed(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int on_node = 1;
  MPI_Comm_size(node, &on_node);
  const int cpus = cpus_of_node(node);
  MPI_Comm_free(&node);
  return on_node > cpus;
}

MpiCommunicator::MpiCommunicator(MPI_Comm base, std::string name, CommOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  POUCH_CHECK(mpi_is_running(), "MpiCommunicator '{}' created without MPI running (no MpiRuntime)", name_);
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  if (!options_.recorder) options_.recorder = std::make_shared<FlightRecorder>(world_rank);
  if (!options_.policy) options_.policy = std::make_shared<AbortJobPolicy>();
  {
    DeadlineGuard guard(fmt::format("creating communicator '{}' (MPI_Comm_dup)", name_), options_.timeout_s);
    MPI_Comm_dup(base, &comm_);
    MPI_Comm_dup(base, &side_);
    sleep_while_waiting_ = options_.peer_wait == PeerWait::Sleep ||
                           (options_.peer_wait == PeerWait::Auto && node_is_oversubscribed(comm_));
  }
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);

  MPI_Group group, world_group;
  MPI_Comm_group(comm_, &group);
  MPI_Comm_group(MPI_COMM_WORLD, &world_group);
  std::vector<int> ranks(static_cast<std::size_t>(size_));
  for (int r = 0; r < size_; ++r) ranks[static_cast<std::size_t>(r)] = r;
  world_ranks_.resize(ranks.size());
  MPI_Group_translate_ranks(group, size_, ranks.data(), world_group, world_ranks_.data());
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);

  thread_ = std::make_unique<CommThread>();
  watchdog_ = std::thread([this] { watchdog_loop(); });
}

MpiCommunicator::~MpiCommunicator() {
  thread_->shutdown();  // runs what is queued; the watchdog still bounds it
  {
    std::lock_guard<std::mutex> lock(watchdog_mutex_);
    stopping_ = true;
  }
  watchdog_cv_.notify_all();
  watchdog_.join();
  POUCH_CHECK(mpi_is_running(), "communicator '{}' outlived MPI_Finalize: destroy communicators before MpiRuntime",
              name_);
  reap_replies(/*at_shutdown=*/true);
  MPI_Comm_free(&side_);
  MPI_Comm_free(&comm_);
}

WorkHandle MpiCommunicator::enqueue(const CollectiveDesc& desc, std::function<int()> call) {
  std::lock_guard<std::mutex> lock(issue_mutex_);
  const std::uint64_t seq = issued_.load() + 1;
  auto work = std::make_shared<CollectiveWork>(seq);
  const std::uint64_t id = options_.recorder->queued(name_, seq, desc);
  issued_.store(seq);
  thread_->post([this, seq, desc, call = std::move(call), work, id] {
    FlightRecorder& recorder = *options_.recorder;
    std::string error;
    if (!failed_.empty()) {
      error = fmt::format("rank {}: collective {} ({}) on group '{}' cannot run: the communicator failed earlier: {}",
                          world_rank_of(rank_), seq, desc.str(), name_, failed_);
    } else {
      {
        std::lock_guard<std::mutex> running_lock(running_mutex_);
        running_ = Running{true, seq, desc, Clock::now()};
      }
      started_.store(seq);
      recorder.running(id);
      // In Sleep mode the arrival handshake is the barrier itself.
      int rc = sleep_while_waiting_ ? wait_for_peers() : MPI_SUCCESS;
      if (rc == MPI_SUCCESS && !(sleep_while_waiting_ && desc.kind == CollectiveKind::Barrier)) rc = call();
      {
        std::lock_guard<std::mutex> running_lock(running_mutex_);
        running_.active = false;
      }
      if (rc != MPI_SUCCESS) {
        failed_ = fmt::format("collective {} ({}) failed in MPI: {}", seq, desc.str(), mpi_error_text(rc));
        error = fmt::format("rank {}: on group '{}': {}", world_rank_of(rank_), name_, failed_);
      }
    }
    completed_.store(seq);
    if (error.empty()) {
      recorder.done(id);
    } else {
      recorder.failed(id, error);
    }
    work->finish(std::move(error));
  });
  return work;
}

WorkHandle MpiCommunicator::all_reduce_async(const Tensor& t, ReduceOp op) {
  const CollectiveDesc desc = describe_all_reduce({name_, rank_, size_}, t, op);
  return enqueue(desc, [this, t, op] {
    const int rc =
        MPI_Allreduce(MPI_IN_PLACE, t.raw(), static_cast<int>(t.numel()), mpi_type(t.dtype()), mpi_op(op), comm_);
    if (rc == MPI_SUCCESS && op == ReduceOp::Avg) divide(t, size_);
    return rc;
  });
}

WorkHandle MpiCommunicator::reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) {
  const CollectiveDesc desc = describe_reduce_scatter({name_, rank_, size_}, out, in, op);
  if (overlap(out, in))
    fail("reduce_scatter on group '{}' (rank {}): out and in overlap; MPI needs separate buffers", name_, rank_);
  return enqueue(desc, [this, out, in, op] {
    const int rc = MPI_Reduce_scatter_block(in.raw(), out.raw(), static_cast<int>(out.numel()), mpi_type(in.dtype()),
                                            mpi_op(op), comm_);
    if (rc == MPI_SUCCESS && op == ReduceOp::Avg) divide(out, size_);
    return rc;
  });
}

WorkHandle MpiCommunicator::all_gather_async(const Tensor& out, const Tensor& in) {
  const CollectiveDesc desc = describe_all_gather({name_, rank_, size_}, out, in);
  // In place when `in` is this rank's slot of `out` (MPI_IN_PLACE form).
  const bool in_place = static_cast<const char*>(in.raw()) ==
                        static_cast<const char*>(out.raw()) + in.nbytes() * static_cast<std::size_t>(rank_);
  if (!in_place && overlap(out, in))
    fail(
        "all_gather on group '{}' (rank {}): in overlaps out without being rank {}'s slot of it; MPI needs separate "
        "buffers or the in-place layout",
        name_, rank_, rank_);
  return enqueue(desc, [this, out, in, in_place] {
    const MPI_Datatype type = mpi_type(in.dtype());
    const int n = static_cast<int>(in.numel());
    return MPI_Allgather(in_place ? MPI_IN_PLACE : in.raw(), n, type, out.raw(), n, type, comm_);
  });
}

WorkHandle MpiCommunicator::broadcast_async(const Tensor& t, int root) {
  const CollectiveDesc desc = describe_broadcast({name_, rank_, size_}, t, root);
  return enqueue(desc, [this, t, root] {
    return MPI_Bcast(t.raw(), static_cast<int>(t.numel()), mpi_type(t.dtype()), root, comm_);
  });
}

WorkHandle MpiCommunicator::barrier_async() {
  return enqueue(describe_barrier(), [this] { return MPI_Barrier(comm_); });
}

int MpiCommunicator::wait_for_peers() {
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Ibarrier(comm_, &request);
  if (rc != MPI_SUCCESS) return rc;
  // Peers usually arrive within microseconds of each other: poll (yielding
  // the core) for up to 200 us, as MPI's own blocking wait would spin. A peer
  // later than that is busy elsewhere (compute imbalance, a hang): sleep
  // between polls so this thread does not take a core from the compute
  // threads, with a pause growing to 250 us (the most a late peer then costs).
  int done = 0;
  const auto spin_end = Clock::now() + std::chrono::microseconds(200);
  while (!done) {
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
    if (done || Clock::now() >= spin_end) break;
    std::this_thread::yield();
  }
  auto pause = std::chrono::microseconds(20);
  while (!done) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(250));
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

void MpiCommunicator::watchdog_loop() {
  const auto tick =
      std::chrono::milliseconds(std::clamp(static_cast<long>(options_.timeout_s * 1000.0 / 10.0), 10L, 100L));
  std::unique_lock<std::mutex> lock(watchdog_mutex_);
  while (!watchdog_cv_.wait_for(lock, tick, [&] { return stopping_; })) {
    serve_peer_queries();
    reap_replies(false);
    Running running;
    {
      std::lock_guard<std::mutex> running_lock(running_mutex_);
      running = running_;
    }
    if (running.active && std::chrono::duration<double>(Clock::now() - running.start).count() > options_.timeout_s) {
      lock.unlock();
      fire(running);
    }
  }
}

void MpiCommunicator::serve_peer_queries() {
  for (;;) {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kQueryTag, side_, &flag, &status);
    if (!flag) return;
    std::uint64_t asked = 0;
    MPI_Recv(&asked, 1, MPI_UINT64_T, status.MPI_SOURCE, kQueryTag, side_, MPI_STATUS_IGNORE);
    PendingReply& reply = replies_.emplace_back();
    reply.progress[0] = issued_.load();
    reply.progress[1] = started_.load();
    reply.progress[2] = completed_.load();
    MPI_Isend(reply.progress, 3, MPI_UINT64_T, status.MPI_SOURCE, kReplyTag, side_, &reply.request);
  }
}

void MpiCommunicator::reap_replies(bool at_shutdown) {
  for (auto it = replies_.begin(); it != replies_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    if (!done && at_shutdown) MPI_Request_free(&it->request);  // the asker is gone
    it = (done || at_shutdown) ? replies_.erase(it) : std::next(it);
  }
}

void MpiCommunicator::fire(const Running& running) {
  TimeoutReport report;
  report.group = name_;
  report.group_rank = rank_;
  report.world_rank = world_rank_of(rank_);
  report.sequence = running.sequence;
  report.desc = running.desc;
  report.timeout_s = options_.timeout_s;

  // Ask every peer where it stands, answering their questions meanwhile (they
  // may be stuck too, and asking us).
  const std::uint64_t asked = running.sequence;
  std::vector<std::array<std::uint64_t, 3>> answers(static_cast<std::size_t>(size_));
  std::vector<MPI_Request> receives(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<MPI_Request> sends(static_cast<std::size_t>(size_), MPI_REQUEST_NULL);
  std::vector<bool> answered(static_cast<std::size_t>(size_), false);
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    const auto i = static_cast<std::size_t>(p);
    MPI_Irecv(answers[i].data(), 3, MPI_UINT64_T, p, kReplyTag, side_, &receives[i]);
    MPI_Isend(&asked, 1, MPI_UINT64_T, p, kQueryTag, side_, &sends[i]);
  }
  const double grace_s = std::clamp(options_.timeout_s / 2.0, 1.0, 10.0);
  const Clock::time_point grace_end =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace_s));
  int pending = size_ - 1;
  while (pending > 0 && Clock::now() < grace_end) {
    for (int p = 0; p < size_; ++p) {
      const auto i = static_cast<std::size_t>(p);
      if (p == rank_ || answered[i]) continue;
      int done = 0;
      MPI_Test(&receives[i], &done, MPI_STATUS_IGNORE);
      if (done) {
        answered[i] = true;
        --pending;
      }
    }
    serve_peer_queries();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int p = 0; p < size_; ++p) {
    if (p == rank_) continue;
    const auto i = static_cast<std::size_t>(p);
    PeerProgress peer;
    peer.group_rank = p;
    peer.world_rank = world_rank_of(p);
    peer.answered = answered[i];
    if (peer.answered) {
      peer.issued = answers[i][0];
      peer.started = answers[i][1];
      peer.completed = answers[i][2];
    }
    if (!peer.answered || peer.started < running.sequence) {
      report.missing.push_back(p);
      report.missing_world.push_back(peer.world_rank);
    }
    report.peers.push_back(peer);
  }
  report.waited_s = std::chrono::duration<double>(Clock::now() - running.start).count();
  report.flight_record = options_.recorder->dump();
  options_.policy->on_timeout(report);
  // The policy returned, but a running MPI collective cannot be cancelled:
  // nothing could ever finish this Work. End the job as the default would.
  AbortJobPolicy().on_timeout(report);
  std::abort();  // not reached: AbortJobPolicy does not return
}

}  // namespace pouch
