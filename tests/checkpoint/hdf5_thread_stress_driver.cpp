// HDF5 from two threads on every rank of a two-rank job, run by mpiexec: a
// background thread publishes checkpoints collectively (MPI-IO) over the io
// communicator, as AsyncCheckpointWriter does, while the main thread writes
// and reads its own weights files and all-reduces over the world
// communicator between rounds (the training thread's collectives). Then:
//  - every checkpoint and every weights file is verified;
//  - rule 1 of checkpoint/training_checkpoint.h: while rank 0's background
//    thread is inside a collective write (held there: rank 1 joins it only
//    later), a second collective write on rank 0's main thread throws
//    instead of deadlocking.
// Without the HDF5 lock of checkpoint/hdf5_handle.h the first part crashes,
// fails an HDF5 call or reads wrong values; a deadlock between the lock and
// the collectives would hang it (the test's timeout). Exit 0 when every rank
// passes; any failure aborts the job naming the rank.
//   hdf5_thread_stress_driver <scratch dir>
#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "checkpoint/checkpoint_dir.h"
#include "hdf5_thread_stress.h"
#include "mpi_tp2_driver.h"
#include "parallel/communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_context.h"
#include "state_fixture.h"

using namespace pouch;
using pouch::testing::die;

namespace {

constexpr int kCheckpoints = 20;
constexpr int kMinRounds = 20;

CheckpointGroup io_group(const ParallelContext& ctx) {
  CheckpointGroup g = CheckpointGroup::of(ctx);
  g.world = &ctx.io();
  return g;
}

std::string weights_path(const std::string& dir, int rank, int round) {
  return dir + "/w-" + std::to_string(rank) + "-" + std::to_string(round) + ".h5";
}

void stress(const std::string& dir, const ParallelContext& ctx) {
  const int rank = ctx.rank();
  const std::string ckpt_dir = dir + "/checkpoints";
  const CheckpointGroup group = io_group(ctx);

  std::atomic<bool> writer_done{false};
  std::string writer_error;
  std::thread writer([&] {
    try {
      for (int step = 1; step <= kCheckpoints; ++step)
        save_checkpoint(ckpt_dir, testing::fixture_state(rank, ctx.tp_rank(), ctx.tp_size(), step), group);
    } catch (const std::exception& e) {
      writer_error = e.what();
    }
    writer_done = true;
  });

  // Both ranks run the same number of rounds (each round all-reduces), as
  // long as either rank's writer is still going.
  int rounds = 0;
  for (bool more = true; more; ++rounds) {
    const std::string bad = testing::stress_weights_round(weights_path(dir, rank, rounds), rank, rounds);
    if (!bad.empty()) die(rank, "round " + std::to_string(rounds) + ": " + bad);
    Tensor going = Tensor::empty({1}, DType::I32);
    going.data<std::int32_t>()[0] = !writer_done || rounds + 1 < kMinRounds ? 1 : 0;
    ctx.world().all_reduce(going, ReduceOp::Max);
    more = going.data<std::int32_t>()[0] != 0;
  }
  writer.join();
  if (!writer_error.empty()) die(rank, "background writer: " + writer_error);

  for (int r = 0; r < rounds; ++r) {
    const std::string bad = testing::check_stress_weights(weights_path(dir, rank, r), rank, r);
    if (!bad.empty()) die(rank, "afterwards: " + bad);
  }
  const auto published = list_checkpoints(ckpt_dir);
  if (published.size() != static_cast<std::size_t>(kCheckpoints))
    die(rank, std::to_string(published.size()) + " checkpoints published, expected " + std::to_string(kCheckpoints));
  for (const auto& c : published) {
    CheckpointState got = testing::fixture_targets(ctx.tp_rank(), ctx.tp_size());
    read_checkpoint_file(c.file, got, {.rank = rank, .verify = true});
    const std::string bad = testing::fixture_mismatch(got);
    if (!bad.empty()) die(rank, c.file + ": " + bad);
    if (got.meta.step != c.step) die(rank, c.file + ": /meta step differs");
    if (got.rng_per_rank != testing::fixture_state(rank, 0, 1, c.step).rng_per_rank) die(rank, c.file + ": rng row");
  }
  if (rank == 0)
    std::printf("hdf5 threads: %d collective checkpoints beside %d weights-file rounds per rank, all verified\n",
                kCheckpoints, rounds);
}

// Rank 0's background thread enters a collective write that rank 1 joins
// only after rank 0's main thread has tried a second one.
void second_collective_write_throws(const std::string& dir, const ParallelContext& ctx) {
  const int rank = ctx.rank();
  const CheckpointState state = testing::fixture_state(rank, ctx.tp_rank(), ctx.tp_size(), 1);
  const std::string first = dir + "/first.h5";
  if (rank == 0) {
    std::string writer_error;
    std::thread writer([&] {
      try {
        write_checkpoint_file(first, state, io_group(ctx));
      } catch (const std::exception& e) {
        writer_error = e.what();
      }
    });
    while (!collective_checkpoint_write_in_flight()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    bool threw = false;
    try {
      write_checkpoint_file(dir + "/second.h5", state, CheckpointGroup::of(ctx));
    } catch (const std::exception& e) {
      threw = std::string(e.what()).find("inside a collective checkpoint write") != std::string::npos;
      if (!threw) die(rank, std::string("the second write failed for another reason: ") + e.what());
    }
    if (!threw) die(rank, "a second collective write started while one was in flight");
    ctx.world().barrier();
    writer.join();
    if (!writer_error.empty()) die(rank, "the first write: " + writer_error);
  } else {
    ctx.world().barrier();
    write_checkpoint_file(first, state, io_group(ctx));
  }
  ctx.world().barrier();
  if (verify_checkpoint_file(first) <= 0) die(rank, "the first write is empty");
  if (rank == 0) std::printf("hdf5 threads: a second collective write in flight is refused\n");
}

}  // namespace

int main(int argc, char** argv) {
  return testing::run_tp2_driver(argc, argv, "scratch dir", [](const std::string& dir, ParallelContext& ctx) {
    if (ctx.rank() == 0) {
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
    }
    ctx.world().barrier();
    stress(dir, ctx);
    second_collective_write_throws(dir, ctx);
    ctx.world().barrier();
  });
}
