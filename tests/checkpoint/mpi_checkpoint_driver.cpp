// Multi-rank checkpoint test, run by mpiexec on 2 ranks (tp=2) or 4 ranks
// (tp=2 x dp=2): every rank writes its shards collectively through
// save_checkpoint, then every rank reads the file back at tp=1, tp=2 and
// tp=4 (resharding) and its own row of /rng and /data, and checks them
// against the full tensors. Exit 0 when all ranks agree; any mismatch aborts
// the job (MPI_Abort) with a message naming the rank.
//   mpi_checkpoint_driver <checkpoint dir>
#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "checkpoint/checkpoint_dir.h"
#include "parallel/communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "state_fixture.h"

using namespace pouch;

namespace {

[[noreturn]] void die(int rank, const std::string& what) {
  std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

void run(const std::string& dir, const ParallelContext& ctx) {
  const int rank = ctx.rank();
  CheckpointGroup group = CheckpointGroup::of(ctx);
  if (rank == 0) std::filesystem::remove_all(dir);
  ctx.world().barrier();

  for (std::int64_t step : {10, 20}) {
    CheckpointState mine = testing::fixture_state(rank, ctx.tp_rank(), ctx.tp_size(), step);
    std::string file = save_checkpoint(dir, mine, group, {.keep_last = 1});
    if (file != dir + "/" + step_dir_name(step) + "/state.h5") die(rank, "save_checkpoint returned " + file);
  }
  auto found = find_latest_complete(dir);
  if (!found || found->step != 20) die(rank, "find_latest_complete did not find step 20");
  if (list_checkpoints(dir).size() != 1) die(rank, "keep_last = 1 left more than one checkpoint");

  for (int tp : {1, 2, 4})
    for (int r = 0; r < tp; ++r) {
      CheckpointState got = testing::fixture_targets(r, tp);
      read_checkpoint_file(found->file, got, {.rank = rank, .verify = tp == 1});
      std::string bad = testing::fixture_mismatch(got);
      if (!bad.empty()) die(rank, "read at tp " + std::to_string(tp) + " rank " + std::to_string(r) + ": " + bad);
      CheckpointState want = testing::fixture_state(rank, 0, 1, 20);
      if (got.rng_per_rank != want.rng_per_rank) die(rank, "rng row differs");
      if (got.data_per_rank != want.data_per_rank) die(rank, "data row differs");
      if (got.meta.tp != ctx.tp_size() || got.meta.dp != ctx.dp_size() || got.meta.world_size != ctx.world_size())
        die(rank, "meta layout differs");
    }
  ctx.world().barrier();
  if (rank == 0) std::printf("mpi checkpoint: %d ranks (tp %d x dp %d) wrote and resharded OK\n", ctx.world_size(),
                             ctx.tp_size(), ctx.dp_size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <checkpoint dir>\n", argv[0]);
    return 2;
  }
  MpiRuntime mpi(&argc, &argv);
  try {
    ParallelOptions options;
    options.tp = 2;
    options.timeout_s = 60;
    auto ctx = ParallelContext::create(options);
    run(argv[1], *ctx);
  } catch (const std::exception& e) {
    die(mpi.world_rank(), e.what());
  }
  return 0;
}
