#pragma once
// Everything a rank needs to run in parallel: its place in the (tp, dp)
// layout and the world, tp and dp communicators, sharing one flight recorder
// and one deadline. Created once per run by the command that trains (after
// main has created the MpiRuntime, if any) and destroyed before it: the
// communicators, their threads and MPI_Comms go in reverse order of creation,
// all before MPI_Finalize.
//
// Exceptions: destroying a context lets its queued async collectives finish
// first (their peers are likely issuing them too), bounded by the deadline.
// An exception that unwinds through the context while a peer can no longer
// match those collectives (it waits in another one for this rank) therefore
// takes up to parallel.timeout_s before the watchdog ends the job. Where that
// matters, catch inside the context's scope and call abort_job (watchdog.h)
// there: the job ends at once and the message is printed.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parallel/comm_options.h"
#include "parallel/communicator.h"
#include "parallel/process_groups.h"

namespace pouch {

class Backend;
class FlightRecorder;

struct ParallelOptions {
  int tp = 1;
  int dp = 0;                       // 0: derived as world size / tp
  double timeout_s = 300.0;         // parallel.timeout_s: deadline of every collective
  std::size_t flight_records = 64;  // collectives kept for the watchdog's report
  // Auto: Sleep when the job runs more ranks on this node than this process
  // has cores, else Spin (comm_options.h).
  PeerWait peer_wait = PeerWait::Auto;
};

class ParallelContext {
 public:
  // With MPI running (an MpiRuntime exists): collective over MPI_COMM_WORLD,
  // every rank must call it. Splits the world into tp groups (consecutive
  // ranks) and dp groups (strided) with MPI_Comm_split; a group of one rank
  // gets a SelfCommunicator. Without MPI: a world of one, every communicator
  // a SelfCommunicator. Throws UniformError (the same on every rank, before
  // any communication) when tp x dp does not fit the world; call
  // validate_layout with the model's heads and d_model before, to refuse
  // those too.
  static std::unique_ptr<ParallelContext> create(const ParallelOptions& options);

  // In-process ranks for tests: tp x dp (dp must be set) contexts over
  // FakeCommunicators, index = world rank; use each from its own thread.
  // Deadline expiries fail the collective (RecordingPolicy) instead of
  // aborting.
  static std::vector<std::unique_ptr<ParallelContext>> fake(const ParallelOptions& options);

  ~ParallelContext();

  // Once the backend exists (collective: every rank calls it, once, before
  // any collective on device tensors): on a device backend, world(), tp()
  // and dp() become DeviceCommunicators that send host tensors to the host
  // communicators as before and device tensors through a StagedCommunicator
  // over a second host communicator of the group ("tp/staged"). io() stays
  // host-only (the checkpoint writer moves host copies). On the CPU backend
  // nothing changes. `backend` must outlive the context's collectives.
  // Defined in communicator_registry.cpp, the one place that picks device
  // communicators.
  void attach_device(Backend& backend);
  ParallelContext(const ParallelContext&) = delete;
  ParallelContext& operator=(const ParallelContext&) = delete;

  Communicator& world() const { return *world_; }
  Communicator& tp() const { return *tp_; }
  Communicator& dp() const { return *dp_; }
  // A second communicator over the whole world, for collectives issued from
  // another thread (the background checkpoint writer): each communicator
  // keeps its own order, so these never interleave with world()'s.
  Communicator& io() const { return *io_; }

  const GroupLayout& layout() const { return layout_; }
  int rank() const { return layout_.rank; }
  int world_size() const { return layout_.world_size; }
  int tp_rank() const { return layout_.tp_rank; }
  int tp_size() const { return layout_.tp; }
  int dp_rank() const { return layout_.dp_rank; }
  int dp_size() const { return layout_.dp; }
  bool is_root() const { return layout_.rank == 0; }
  // This rank's index among the ranks on its node (from MPI_COMM_TYPE_SHARED;
  // 0 for a world of one): the GPU to use, never rank % gpus.
  int local_rank() const { return local_rank_; }
  int ranks_on_node() const { return ranks_on_node_; }
  // "Open MPI (mpirun)", "Slurm (srun)", "PMIx", "none", "fake".
  const std::string& launcher() const { return launcher_; }
  double timeout_s() const { return timeout_s_; }
  // How the MPI communicators wait for late peers (Auto resolved).
  PeerWait peer_wait() const { return peer_wait_; }
  FlightRecorder& flight_recorder() const { return *recorder_; }
  // "launcher Open MPI (mpirun), world 4 = tp 2 x dp 2, rank 1 (tp 1, dp 0),
  // local rank 1 of 2, timeout 300 s, peer wait spin"
  std::string describe() const;

 private:
  ParallelContext() = default;

  GroupLayout layout_;
  int local_rank_ = 0;
  int ranks_on_node_ = 1;
  std::string launcher_;
  double timeout_s_ = 300.0;
  PeerWait peer_wait_ = PeerWait::Spin;
  std::shared_ptr<FlightRecorder> recorder_;
  // Makes the host communicator a staged path runs on, for "world", "tp" or
  // "dp" (a second one over the same ranks); set by create() and fake().
  std::function<std::unique_ptr<Communicator>(const std::string& group)> make_staging_host_;
  // (create() keeps the tp and dp groups' MPI_Comms in its closure, freed
  // with it, after the communicators.)
  // Destroyed in reverse: dp, tp, then world (each joins its threads and
  // frees its MPI_Comms), and the recorder after them.
  std::unique_ptr<Communicator> world_, tp_, dp_, io_;
};

}  // namespace pouch
