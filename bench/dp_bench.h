#pragma once
// Data-parallel training-step benchmark (behind `pouch bench dp`, run under
// mpirun with every rank on one thread), all in one run:
//   single     rank 0 alone runs steps on its per-rank batch while the other
//              ranks wait: the dp = 1 throughput;
//   comm       the whole gradient all-reduced bucket by bucket with no
//              compute: what the reduction costs on its own;
//   local      every rank a step on its per-rank batch with no reduction:
//              the step time if communication were free (it includes the
//              ranks' contention for memory bandwidth);
//   overlap    every rank a step, buckets reduced during backward
//              (parallel.overlap = true);
//   serial     the same with the reduction after backward (overlap = false).
// A step's time is the slowest rank's (max over ranks), medians are reported.
// Weak-scaling efficiency = tokens/s of `overlap` / (ranks x tokens/s of
// `single`). Share of the reduction hidden behind backward = 1 - (the wait
// the optimizer step still sees with overlap) / (the wait without): how much
// of the reduction backward covers. Whether that shortens the step depends on
// spare cores: the communication thread's copies (shared memory on one node)
// compete with compute when every core computes.
#include <cstdint>

#include "model/gpt_config.h"
#include "parallel/parallel_context.h"

namespace pouch {

struct DpBenchConfig {
  GPTConfig model;
  std::int64_t batch_per_rank = 4;
  std::int64_t steps = 6;  // timed steps per phase, after one warm-up step
  double bucket_mb = 4.0;
};

struct DpBenchResult {
  int ranks = 1;
  double single_step_s = 0, local_step_s = 0, overlap_step_s = 0, serial_step_s = 0, comm_s = 0;
  double overlap_wait_s = 0, serial_wait_s = 0;
  std::size_t buckets = 0;
  double single_tokens_per_s = 0, overlap_tokens_per_s = 0, serial_tokens_per_s = 0;
  double efficiency() const { return overlap_tokens_per_s / (ranks * single_tokens_per_s); }
  double hidden_share() const { return serial_wait_s > 0 ? 1.0 - overlap_wait_s / serial_wait_s : 0.0; }
};

// Collective over the context's world (every rank calls it); tp must be 1.
DpBenchResult run_dp_bench(const ParallelContext& ctx, const DpBenchConfig& cfg, bool print = true);

}  // namespace pouch
