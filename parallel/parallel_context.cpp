#include "parallel/parallel_context.h"

#include <fmt/format.h>
#include <mpi.h>

#include "parallel/comm_options.h"
#include "parallel/fake_communicator.h"
#include "parallel/flight_recorder.h"
#include "parallel/launcher_env.h"
#include "parallel/mpi_communicator.h"
#include "parallel/self_communicator.h"
#include "parallel/watchdog.h"
#include "runtime/log.h"

namespace pouch {

namespace {

// The communicator of one group: MPI over `comm` when the group has several
// ranks, else a SelfCommunicator (no threads, no MPI_Comm).
std::unique_ptr<Communicator> group_communicator(MPI_Comm comm, int size, const std::string& name,
                                                 const CommOptions& options) {
  if (size == 1) return std::make_unique<SelfCommunicator>(name);
  return std::make_unique<MpiCommunicator>(comm, name, options);
}

// The tp and dp groups' MPI_Comms, freed when the last holder goes.
struct GroupComms {
  MPI_Comm tp = MPI_COMM_NULL, dp = MPI_COMM_NULL;
  ~GroupComms() {
    MPI_Comm_free(&tp);
    MPI_Comm_free(&dp);
  }
};

}  // namespace

ParallelContext::~ParallelContext() {
  io_.reset();
  dp_.reset();
  tp_.reset();
  world_.reset();
}

std::unique_ptr<ParallelContext> ParallelContext::create(const ParallelOptions& options) {
  std::unique_ptr<ParallelContext> ctx(new ParallelContext());
  ctx->timeout_s_ = options.timeout_s;
  if (!mpi_is_running()) {
    ctx->layout_ = compute_layout(1, options.tp, options.dp, 0);
    ctx->launcher_ = launcher_name(detect_launch_env(process_environment()).launcher);
    ctx->recorder_ = std::make_shared<FlightRecorder>(0, options.flight_records);
    ctx->world_ = std::make_unique<SelfCommunicator>("world");
    ctx->io_ = std::make_unique<SelfCommunicator>("io");
    ctx->tp_ = std::make_unique<SelfCommunicator>("tp");
    ctx->dp_ = std::make_unique<SelfCommunicator>("dp");
    ctx->make_staging_host_ = [](const std::string& group) {
      return std::make_unique<SelfCommunicator>(group + "/staged");
    };
    return ctx;
  }

  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ctx->layout_ = compute_layout(size, options.tp, options.dp, rank);  // same verdict on every rank
  const EnvMap env = process_environment();
  ctx->launcher_ = launcher_name(detect_launch_env(env).launcher);
  ctx->recorder_ = std::make_shared<FlightRecorder>(rank, options.flight_records);
  const GroupLayout& g = ctx->layout_;

  MPI_Comm node = MPI_COMM_NULL, tp = MPI_COMM_NULL, dp = MPI_COMM_NULL;
  {
    DeadlineGuard guard("splitting MPI_COMM_WORLD into node, tp and dp groups", options.timeout_s);
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    // color: which group; key: the rank within it, so group ranks follow the layout.
    MPI_Comm_split(MPI_COMM_WORLD, g.dp_rank, g.tp_rank, &tp);
    MPI_Comm_split(MPI_COMM_WORLD, g.tp_rank, g.dp_rank, &dp);
  }
  MPI_Comm_rank(node, &ctx->local_rank_);
  MPI_Comm_size(node, &ctx->ranks_on_node_);
  ctx->peer_wait_ = options.peer_wait;
  if (options.peer_wait == PeerWait::Auto) {
    DeadlineGuard guard("counting the CPUs of this node's ranks", options.timeout_s);
    ctx->peer_wait_ = ctx->ranks_on_node_ > cpus_of_node(node) ? PeerWait::Sleep : PeerWait::Spin;
  }
  int tp_rank = -1, dp_rank = -1;
  MPI_Comm_rank(tp, &tp_rank);
  MPI_Comm_rank(dp, &dp_rank);
  POUCH_CHECK(tp_rank == g.tp_rank && dp_rank == g.dp_rank,
              "MPI_Comm_split gave tp rank {} / dp rank {}, layout says {} / {}", tp_rank, dp_rank, g.tp_rank,
              g.dp_rank);
  // Tensor parallelism talks in every layer; a tp group across nodes is
  // legal but slow. Say so once (tp rank 0 of each such group).
  if (g.tp > 1) {
    int node_leader = rank;
    {
      DeadlineGuard guard("checking the node placement of tp groups", options.timeout_s);
      MPI_Allreduce(MPI_IN_PLACE, &node_leader, 1, MPI_INT, MPI_MIN, node);
      int lo = node_leader, hi = node_leader;
      MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_INT, MPI_MIN, tp);
      MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_INT, MPI_MAX, tp);
      if (lo != hi && g.tp_rank == 0)
        log_warn(
            "tp group of ranks {}..{} spans nodes: tensor parallelism all-reduces in every layer; use "
            "parallel.tp <= ranks per node ({}) and place consecutive ranks on one node",
            g.tp_members.front(), g.tp_members.back(), ctx->ranks_on_node_);
    }
  }

  const CommOptions comm_options{options.timeout_s, ctx->recorder_, nullptr, ctx->peer_wait_};
  ctx->world_ = group_communicator(MPI_COMM_WORLD, size, "world", comm_options);
  ctx->io_ = group_communicator(MPI_COMM_WORLD, size, "io", comm_options);
  ctx->tp_ = group_communicator(tp, g.tp, "tp", comm_options);
  ctx->dp_ = group_communicator(dp, g.dp, "dp", comm_options);
  MPI_Comm_free(&node);
  // The group comms stay for attach_device's staging communicators.
  auto groups = std::shared_ptr<GroupComms>(new GroupComms{tp, dp});
  ctx->make_staging_host_ = [groups, comm_options, g, size](const std::string& group) {
    if (group == "tp") return group_communicator(groups->tp, g.tp, "tp/staged", comm_options);
    if (group == "dp") return group_communicator(groups->dp, g.dp, "dp/staged", comm_options);
    return group_communicator(MPI_COMM_WORLD, size, group + "/staged", comm_options);
  };
  return ctx;
}

std::vector<std::unique_ptr<ParallelContext>> ParallelContext::fake(const ParallelOptions& options) {
  POUCH_CHECK(options.tp >= 1 && options.dp >= 1, "ParallelContext::fake needs tp and dp set");
  const int world_size = options.tp * options.dp;
  auto world = std::make_shared<FakeWorld>(world_size, "world");
  auto io = std::make_shared<FakeWorld>(world_size, "io");
  std::vector<std::shared_ptr<FakeWorld>> tp_worlds, dp_worlds;
  for (int d = 0; d < options.dp; ++d) tp_worlds.push_back(std::make_shared<FakeWorld>(options.tp, "tp"));
  for (int t = 0; t < options.tp; ++t) dp_worlds.push_back(std::make_shared<FakeWorld>(options.dp, "dp"));

  // The staged paths' own worlds, one per group as above.
  auto staged_world = std::make_shared<FakeWorld>(world_size, "world/staged");
  std::vector<std::shared_ptr<FakeWorld>> staged_tp, staged_dp;
  for (int d = 0; d < options.dp; ++d) staged_tp.push_back(std::make_shared<FakeWorld>(options.tp, "tp/staged"));
  for (int t = 0; t < options.tp; ++t) staged_dp.push_back(std::make_shared<FakeWorld>(options.dp, "dp/staged"));

  std::vector<std::unique_ptr<ParallelContext>> ranks;
  for (int r = 0; r < world_size; ++r) {
    std::unique_ptr<ParallelContext> ctx(new ParallelContext());
    ctx->layout_ = compute_layout(world_size, options.tp, options.dp, r);
    ctx->launcher_ = "fake";
    ctx->timeout_s_ = options.timeout_s;
    ctx->local_rank_ = r;
    ctx->ranks_on_node_ = world_size;
    ctx->recorder_ = std::make_shared<FlightRecorder>(r, options.flight_records);
    const CommOptions o{options.timeout_s, ctx->recorder_, nullptr, PeerWait::Auto};
    const GroupLayout& g = ctx->layout_;
    ctx->world_ = std::make_unique<FakeCommunicator>(world, r, o);
    ctx->io_ = std::make_unique<FakeCommunicator>(io, r, o);
    ctx->tp_ = std::make_unique<FakeCommunicator>(tp_worlds[static_cast<std::size_t>(g.dp_rank)], g.tp_rank, o);
    ctx->dp_ = std::make_unique<FakeCommunicator>(dp_worlds[static_cast<std::size_t>(g.tp_rank)], g.dp_rank, o);
    ctx->make_staging_host_ = [=](const std::string& group) -> std::unique_ptr<Communicator> {
      if (group == "tp")
        return std::make_unique<FakeCommunicator>(staged_tp[static_cast<std::size_t>(g.dp_rank)], g.tp_rank, o);
      if (group == "dp")
        return std::make_unique<FakeCommunicator>(staged_dp[static_cast<std::size_t>(g.tp_rank)], g.dp_rank, o);
      return std::make_unique<FakeCommunicator>(staged_world, r, o);
    };
    ranks.push_back(std::move(ctx));
  }
  return ranks;
}

std::string ParallelContext::describe() const {
  return fmt::format(
      "launcher {}, world {} = tp {} x dp {}, rank {} (tp {}, dp {}), local rank {} of {}, timeout {:g} s, peer wait "
      "{}",
      launcher_, world_size(), tp_size(), dp_size(), rank(), tp_rank(), dp_rank(), local_rank_, ranks_on_node_,
      timeout_s_, peer_wait_name(peer_wait_));
}

}  // namespace pouch
