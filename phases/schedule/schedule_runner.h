#pragma once
// A run: the schedule of phases in the config (phases/schedule/phase_config.h; no
// [phase.N] sections = one pretrain phase of train.steps), run in order on
// one model, every rank calling train(). Each phase ends every optimizer
// step with the same services (phases/common/run_services.h): metrics, progress,
// periodic checkpoints, a checkpoint at its last step (the phase boundary),
// and a checkpoint + stop on SIGUSR1/SIGTERM. --resume=auto finds the
// newest checkpoint and continues in the phase and at the step it was taken,
// with that phase's own state.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "parallel/communicator.h"
#include "phases/common/evaluation.h"
#include "phases/common/task_eval.h"
#include "phases/schedule/config_origins.h"
#include "phases/schedule/run_config.h"
#include "phases/schedule/train_ranks.h"
#include "runtime/backend.h"

namespace pouch {

// How one phase of the run went.
struct PhaseReport {
  std::int64_t index = 0;
  std::string kind;
  std::int64_t first_step = 0, last_step = 0;  // global steps [first, last) run by this process
  double final_loss = 0.0;
  double seconds = 0.0;
  std::string summary;  // the phase's own one-line account of what it did
};

struct TrainReport {
  std::int64_t steps = 0;
  double final_loss = 0.0;    // training loss of the last step
  double tokens_per_s = 0.0;  // over the training steps, evals excluded
  double mfu = 0.0;
  double seconds = 0.0;  // wall time of the whole run
  std::vector<EvalResult> evals;
  std::string run_dir, weights_path, metrics_path;
  std::int64_t resumed_from_step = 0;      // 0: started fresh
  std::string resumed_from;                // the checkpoint resumed from, if any
  bool already_finished = false;           // resumed from a checkpoint at the last step: nothing to do
  int stopped_by_signal = 0;               // SIGUSR1/SIGTERM: checkpointed and stopped early
  std::string last_checkpoint;             // the newest checkpoint this run published
  std::vector<double> checkpoint_stall_s;  // time each checkpoint held training up
  std::vector<PhaseReport> phases;         // the phases this process ran, in order
};

// How a run starts: fresh, or from a checkpoint. `resume` is empty (fresh),
// "auto" (the newest complete checkpoint of the run's checkpoint directory,
// fresh when there is none), or a checkpoint (a step-N directory or its
// state.h5).
struct TrainStart {
  std::string resume;
  // The phases to run, [first, last] (1-based); 0 = from the first / to the
  // last. A run starting at phase k > 1 without --resume continues from the
  // checkpoint at the end of phase k-1 in the checkpoint directory.
  std::int64_t first_phase = 0, last_phase = 0;
};

// "2,3", "2-3", "2" -> [first, last]; errors name --phases.
std::pair<std::int64_t, std::int64_t> parse_phase_range(const std::string& text, std::int64_t num_phases);

// The schedule a config describes: its [phase.N] sections, or one pretrain
// phase of train.steps when there are none.
std::vector<PhaseConfig> schedule_of(const RunConfig& cfg);

// Runs the training described by `cfg` on this rank (every rank calls it);
// `config_ini` is its INI text, saved in the run directory and the weights
// file. Rank 0 prints progress and writes metrics and weights. First, before
// any file or step, every rule of the schedule is checked with this world's
// layout (phases/schedule/phase_validation.h; a UniformError, alike on every
// rank); `origins` says where each key was set, for those messages.
//
// Data parallelism: train.batch_size is the global micro-batch; data-parallel
// rank d reads rows [d*B/dp, (d+1)*B/dp) of it, so the global batch and the
// order of samples do not depend on dp.
TrainReport train(const RunConfig& cfg, const std::string& config_ini, Backend& backend, const TrainRanks& ranks = {},
                  const TrainStart& start = {}, const ConfigOrigins& origins = ConfigOrigins{});

// The checkpoint directory a config resolves to: checkpoint.dir, else <run_dir>/checkpoints.
std::string resolve_checkpoint_dir(const RunConfig& cfg);

// The run directory a config resolves to: train.run_dir, else runs/<name>.
std::string resolve_run_dir(const RunConfig& cfg);

}  // namespace pouch
