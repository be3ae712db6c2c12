#pragma once
// The Communicator over MPI (Open MPI from Debian; any MPI with
// MPI_THREAD_MULTIPLE).
//
// Threads, per communicator:
//  - the communication thread runs the collectives one at a time, in issue
//    order, each as the BLOCKING MPI call (MPI_Allreduce,
//    MPI_Reduce_scatter_block, MPI_Allgather, MPI_Bcast, MPI_Barrier). Why
//    blocking: MPI picks its tuned algorithms for the blocking calls, while
//    Open MPI 4.1 runs MPI_Iallreduce through libnbc, measured here about 2x
//    slower at 16 and 64 MiB; the async form must not cost bandwidth.
//    Avg is MPI_SUM, then a division on this thread. In PeerWait::Sleep mode
//    (comm_options.h) an MPI_Ibarrier handshake, polled with sleeps, comes
//    first, so waiting for a late peer does not burn a core.
//  - the watchdog thread observes the deadline. Every tick (100 ms, or a
//    tenth of a deadline under 1 s) it checks the
//    running collective; once it has run longer than options.timeout_s it
//    asks every peer of the group where it stands, builds a TimeoutReport
//    (which ranks had not started the collective, the flight record) and
//    hands it to the policy (default AbortJobPolicy: print, MPI_Abort). So
//    the communication thread may block in MPI, but never forever.
//
// The side channel (how a stuck rank learns which peers are missing): each
// communicator owns a second duplicate of its group's MPI_Comm, used only by
// watchdog threads. A rank whose deadline passed sends each peer a query
// there (point-to-point); each peer's watchdog thread polls for queries with
// MPI_Iprobe on every tick and answers with its progress on the group: the
// last sequence number issued, started and completed. A peer that has not
// started the stuck collective is named as the one waited for; a peer that
// does not answer within a grace period (timeout/2, clamped to 1..10 s) is
// named too (dead, or wedged). Point-to-point messages work across nodes on
// any transport MPI has, with no files or extra ports; the cost in normal
// operation is one MPI_Iprobe per communicator per tick.
//
// A failing MPI call (errors return on this communicator) fails its Work with
// a CollectiveError and leaves the communicator failed: later collectives
// fail at once. Shutdown: the destructor lets queued collectives finish
// (bounded by the watchdog), joins both threads, then frees both
// duplicates; it must run before MPI_Finalize.
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallel/collective_desc.h"
#include "parallel/comm_options.h"
#include "parallel/communicator.h"

namespace pouch {

// Collective over `node` (ranks of one node): the CPUs the ranks may run on
// together, the union of their affinity masks (what mpirun's binding, Slurm
// and cgroups grant).
int cpus_of_node(MPI_Comm node);
// Collective over `comm`: more of its ranks share a node than they have CPUs.
bool node_is_oversubscribed(MPI_Comm comm);

class CommThread;
class FlightRecorder;
class WatchdogPolicy;

class MpiCommunicator final : public Communicator {
 public:
  // Collective over `base` (every rank of it must construct one, in the same
  // order): duplicates it twice; `base` stays the caller's to free. The
  // duplication runs under a DeadlineGuard of options.timeout_s.
  MpiCommunicator(MPI_Comm base, std::string name, CommOptions options = {});
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }

  WorkHandle all_reduce_async(const Tensor& t, ReduceOp op) override;
  WorkHandle reduce_scatter_async(const Tensor& out, const Tensor& in, ReduceOp op) override;
  WorkHandle all_gather_async(const Tensor& out, const Tensor& in) override;
  WorkHandle broadcast_async(const Tensor& t, int root) override;
  WorkHandle barrier_async() override;

  // The duplicate the collectives run on. For raw-MPI comparisons in
  // benchmarks only, never while collectives of this communicator are queued.
  MPI_Comm mpi_comm() const { return comm_; }
  // World rank of a rank of this group.
  int world_rank_of(int group_rank) const { return world_ranks_.at(static_cast<std::size_t>(group_rank)); }
  double timeout_s() const { return options_.timeout_s; }
  // The resolved PeerWait (Spin or Sleep).
  PeerWait peer_wait() const { return sleep_while_waiting_ ? PeerWait::Sleep : PeerWait::Spin; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    bool active = false;
    std::uint64_t sequence = 0;
    CollectiveDesc desc;
    Clock::time_point start;
  };
  struct PendingReply {
    std::uint64_t progress[3];
    MPI_Request request = MPI_REQUEST_NULL;
  };

  // Queues `call` (an MPI call returning its error code) as the next collective.
  WorkHandle enqueue(const CollectiveDesc& desc, std::function<int()> call);
  // The arrival handshake of PeerWait::Sleep: MPI_Ibarrier on comm_, polled
  // (returns MPI's code).
  int wait_for_peers();
  void watchdog_loop();
  void serve_peer_queries();
  void reap_replies(bool at_shutdown);
  [[noreturn]] void fire(const Running& running);

  std::string name_;
  CommOptions options_;
  int rank_ = 0;
  int size_ = 1;
  std::vector<int> world_ranks_;
  bool sleep_while_waiting_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;  // collectives (communication thread)
  MPI_Comm side_ = MPI_COMM_NULL;  // watchdog queries and answers (watchdog threads)

  std::mutex issue_mutex_;  // sequence numbers follow queue order
  std::atomic<std::uint64_t> issued_{0}, started_{0}, completed_{0};
  std::string failed_;  // communication thread only: non-empty once a collective failed

  std::mutex running_mutex_;
  Running running_;

  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool stopping_ = false;
  std::list<PendingReply> replies_;  // watchdog thread only

  std::unique_ptr<CommThread> thread_;
  std::thread watchdog_;
};

}  // namespace pouch
