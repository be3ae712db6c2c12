#pragma once
// All-reduce bus bandwidth of MpiCommunicator against raw MPI_Allreduce on the
// same buffer, in the same run, on every rank of MPI_COMM_WORLD (behind
// `pouch bench allreduce`, run under mpirun).
//
// Method (that of nccl-tests and the OSU benchmarks): a round is a common
// MPI_Barrier, then `iterations` back-to-back all-reduces (f32 sum, in place)
// of one form; its time per all-reduce is the slowest rank's. Rounds of the
// three forms alternate (the first form rotates), and the median round is
// reported:
//   raw       MPI_Allreduce on a duplicate of MPI_COMM_WORLD
//   blocking  Communicator::all_reduce
//   async     all `iterations` issued with all_reduce_async, then waited:
//             the gradient reducer's pattern (a queue of buckets)
//   sleep     blocking, with PeerWait::Sleep forced (the arrival handshake
//             an oversubscribed node gets; comm_options.h)
// The blocking and async forms use PeerWait::Auto, as ParallelContext would.
// Bus bandwidth = 2 (n - 1) / n x bytes / time, the bytes each rank's link
// carries in a ring all-reduce (nccl-tests' definition).
#include <cstddef>
#include <vector>

namespace pouch {

struct AllreduceBenchConfig {
  std::vector<std::size_t> sizes_bytes = {std::size_t{1} << 20, std::size_t{16} << 20, std::size_t{64} << 20};
  int iterations = 0;      // all-reduces per round; 0: 20 up to 1 MiB, 5 up to 16 MiB, else 2
  int rounds = 7;          // per form and size; the median is reported
  double timeout_s = 300;  // the communicator's deadline
};

struct AllreduceBenchRow {
  std::size_t bytes = 0;
  int iterations = 0;
  double raw_s = 0, blocking_s = 0, async_s = 0, sleep_s = 0;                  // time per all-reduce
  double raw_busbw = 0, blocking_busbw = 0, async_busbw = 0, sleep_busbw = 0;  // GB/s
  // Communicator bandwidth / raw MPI_Allreduce bandwidth.
  double blocking_ratio() const { return raw_s / blocking_s; }
  double async_ratio() const { return raw_s / async_s; }
  double sleep_ratio() const { return raw_s / sleep_s; }
};

struct AllreduceBenchResult {
  int ranks = 0;
  const char* peer_wait = "";  // what Auto resolved to for the blocking and async forms
  std::vector<AllreduceBenchRow> rows;
};

// Collective over MPI_COMM_WORLD (every rank calls it); MPI must be running
// (throws pouch::Error otherwise, or with fewer than 2 ranks). Rank 0 prints
// the table to stdout when `print`; every rank gets the same result.
AllreduceBenchResult run_allreduce_bench(const AllreduceBenchConfig& cfg, bool print = true);

}  // namespace pouch
