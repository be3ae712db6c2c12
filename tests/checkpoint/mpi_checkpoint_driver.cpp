// Multi-rank checkpoint test, run by mpiexec on 2 ranks (tp=2) or 4 ranks
// (tp=2 x dp=2): every rank writes its shards collectively through
// save_checkpoint, then every rank reads the file back at tp=1, tp=2 and
// tp=4 (resharding) and its own row of /rng and /data, and checks them
// against the full tensors. The state carries phase state too: /phase
// tensors (a nested, vocab-padded Rows one written by both tp ranks, and a
// replicated one) and a per-rank f64 row (/data_f64). Exit 0 when all ranks agree; any mismatch aborts
// the job (MPI_Abort) with a message naming the rank.
//   mpi_checkpoint_driver <checkpoint dir>
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_dir.h"
#include "mpi_tp2_driver.h"
#include "parallel/communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "state_fixture.h"

using namespace pouch;
using pouch::testing::die;

namespace {

constexpr int kPhaseSalt = 5;
const testing::FixtureParam kPhaseParams[] = {
    {"ppo/ref/wte", {10, 8}, ShardSpec::Kind::Rows, 1},
    {"ppo/value_head.weight", {1, 8}, ShardSpec::Kind::Replicated, 1},
};

std::vector<ShardedTensor> phase_tensors(int tp_rank, int tp, bool fill) {
  std::vector<ShardedTensor> out;
  for (const auto& p : kPhaseParams) {
    ShardedTensor t{p.name, p.full, testing::fixture_spec(p, tp_rank, tp), Tensor()};
    if (fill) {
      t.local = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
      copy_full_to_shard(t.shard, testing::fixture_full(p.name, p.full, kPhaseSalt), t.local);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string phase_mismatch(const std::vector<ShardedTensor>& got) {
  for (const auto& t : got) {
    Tensor want = Tensor::empty(shard_shape(t.shard, t.full_shape), DType::F32);
    copy_full_to_shard(t.shard, testing::fixture_full(t.name, t.full_shape, kPhaseSalt), want);
    if (!t.local.defined() || t.local.shape() != want.shape() ||
        std::memcmp(t.local.raw(), want.raw(), want.nbytes()) != 0)
      return "phase " + t.name + " differs";
  }
  return "";
}

std::map<std::string, std::vector<double>> f64_row(int rank) {
  return {{"loss_scale", {65536.0 / (rank + 1), 0.25 * rank}}};
}

void run(const std::string& dir, const ParallelContext& ctx) {
  const int rank = ctx.rank();
  CheckpointGroup group = CheckpointGroup::of(ctx);
  if (rank == 0) std::filesystem::remove_all(dir);
  ctx.world().barrier();

  for (std::int64_t step : {10, 20}) {
    CheckpointState mine = testing::fixture_state(rank, ctx.tp_rank(), ctx.tp_size(), step);
    mine.phase = phase_tensors(ctx.tp_rank(), ctx.tp_size(), true);
    mine.f64_per_rank = f64_row(rank);
    std::string file = save_checkpoint(dir, mine, group, {.keep_last = 1, .keep_every = 0, .keep_steps = {}});
    if (file != dir + "/" + step_dir_name(step) + "/state.h5") die(rank, "save_checkpoint returned " + file);
  }
  auto found = find_latest_complete(dir);
  if (!found || found->step != 20) die(rank, "find_latest_complete did not find step 20");
  if (list_checkpoints(dir).size() != 1) die(rank, "keep_last = 1 left more than one checkpoint");

  for (int tp : {1, 2, 4})
    for (int r = 0; r < tp; ++r) {
      CheckpointState got = testing::fixture_targets(r, tp);
      got.phase = phase_tensors(r, tp, false);
      read_checkpoint_file(found->file, got, {.rank = rank, .verify = tp == 1});
      std::string bad = testing::fixture_mismatch(got);
      if (bad.empty()) bad = phase_mismatch(got.phase);
      if (!bad.empty()) die(rank, "read at tp " + std::to_string(tp) + " rank " + std::to_string(r) + ": " + bad);
      CheckpointState want = testing::fixture_state(rank, 0, 1, 20);
      if (got.rng_per_rank != want.rng_per_rank) die(rank, "rng row differs");
      if (got.data_per_rank != want.data_per_rank) die(rank, "data row differs");
      if (got.f64_per_rank != f64_row(rank)) die(rank, "f64 row differs");
      if (got.meta.tp != ctx.tp_size() || got.meta.dp != ctx.dp_size() || got.meta.world_size != ctx.world_size())
        die(rank, "meta layout differs");
    }
  ctx.world().barrier();
  if (rank == 0)
    std::printf("mpi checkpoint: %d ranks (tp %d x dp %d) wrote and resharded OK\n", ctx.world_size(), ctx.tp_size(),
                ctx.dp_size());
}

}  // namespace

int main(int argc, char** argv) {
  return testing::run_tp2_driver(argc, argv, "checkpoint dir",
                                 [](const std::string& dir, ParallelContext& ctx) { run(dir, ctx); });
}
