#pragma once
// Single-phase training (pre-training on a token stream), the loop every
// later phase builds on:
//   for each optimizer step: for each micro-batch: forward, backward
//   (gradients accumulate); clip by the global norm; AdamW with the LR
//   schedule; one metrics line; a progress line every [log] every steps;
//   an eval every [train] eval_every steps.
// The i-th training sequence of the run is sequence i of the data's order,
// counting rows, then micro-batches, then steps (phases/training_data.h).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "parallel/communicator.h"
#include "phases/run_config.h"
#include "phases/task_eval.h"
#include "runtime/backend.h"

namespace pouch {

struct EvalResult {
  std::int64_t step = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // NaN when there is no validation data
  std::vector<LevelAccuracy> levels;                           // built-in task only
};

struct TrainReport {
  std::int64_t steps = 0;
  double final_loss = 0.0;     // training loss of the last step
  double tokens_per_s = 0.0;   // over the training steps, evals excluded
  double mfu = 0.0;
  double seconds = 0.0;        // wall time of the whole run
  std::vector<EvalResult> evals;
  std::string run_dir, weights_path, metrics_path;
  std::int64_t resumed_from_step = 0;  // 0: started fresh
  std::string resumed_from;            // the checkpoint resumed from, if any
  bool already_finished = false;       // resumed from a checkpoint at the last step: nothing to do
  int stopped_by_signal = 0;           // SIGUSR1/SIGTERM: checkpointed and stopped early
  std::string last_checkpoint;         // the newest checkpoint this run published
  std::vector<double> checkpoint_stall_s;  // time each checkpoint held training up
};

// How a run starts: fresh, or from a checkpoint. `resume` is empty (fresh),
// "auto" (the newest complete checkpoint of the run's checkpoint directory,
// fresh when there is none), or a checkpoint (a step-N directory or its
// state.h5).
struct TrainStart {
  std::string resume;
};

// Where this process sits in an SPMD run. The launcher builds it from the
// process groups (parallel/); a world of one is the default.
struct TrainRanks {
  int world_rank = 0;
  int world_size = 1;
  Communicator* world = nullptr;  // null: a world of one
  Communicator* io = nullptr;     // a second world communicator for background checkpoint writes
  Communicator* tp = nullptr;     // null or size 1: no tensor parallelism
  Communicator* dp = nullptr;     // null or size 1: no data parallelism
  int tp_size() const { return tp ? tp->size() : 1; }
  int dp_size() const { return dp ? dp->size() : 1; }
  int dp_rank() const { return dp ? dp->rank() : 0; }
  bool main() const { return world_rank == 0; }
};

// Runs the training described by `cfg` on this rank (every rank calls it);
// `config_ini` is its INI text, saved in the run directory and the weights
// file. Rank 0 prints progress and writes metrics and weights.
//
// Data parallelism: train.batch_size is the global micro-batch; data-parallel
// rank d reads rows [d*B/dp, (d+1)*B/dp) of it, so the global batch and the
// order of samples do not depend on dp.
TrainReport train(const RunConfig& cfg, const std::string& config_ini, Backend& backend,
                  const TrainRanks& ranks = {}, const TrainStart& start = {});

// The checkpoint directory a config resolves to: checkpoint.dir, else <run_dir>/checkpoints.
std::string resolve_checkpoint_dir(const RunConfig& cfg);

// The run directory a config resolves to: train.run_dir, else runs/<name>.
std::string resolve_run_dir(const RunConfig& cfg);

}  // namespace pouch
