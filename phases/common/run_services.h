#pragma once
// What every phase of a run shares: the console (rank 0 prints), the metrics
// file, and the checkpoint writer with its rules for when to write. The
// phase loop (phases/common/phase_loop.h) ends every optimizer step of every
// phase with end_step(), so stop signals, periodic and phase-end
// checkpoints behave the same in every phase.
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/async_checkpoint_writer.h"
#include "checkpoint/training_checkpoint.h"
#include "phases/common/metrics_log.h"
#include "phases/schedule/run_config.h"
#include "phases/schedule/train_ranks.h"
#include "runtime/backend.h"

namespace pouch {

// `state` with every device tensor copied to the host (one host sync each;
// checkpoint files are written from host memory). Host tensors are shared,
// not copied, so on the CPU backend this costs nothing.
CheckpointState state_on_host(Backend& be, const CheckpointState& state);

class RunServices {
 public:
  // `resumed_step` > 0: metrics of later steps (redone after the resume) are dropped.
  // `phase_ends`: the global steps that end a phase; their checkpoints are
  // never pruned (`--phases` starts a later phase from them).
  RunServices(const RunConfig& cfg, const TrainRanks& ranks, Backend& be, const std::string& checkpoint_dir,
              const std::string& metrics_path, std::int64_t resumed_step, std::vector<std::int64_t> phase_ends);

  const TrainRanks& ranks() const { return ranks_; }
  void print(const std::string& line) const;
  void write_metrics(const nlohmann::json& line);

  // The same decision on every rank: whether any rank has been asked to stop
  // (the signal number, 0 = none).
  int agreed_stop_signal();

  // The end of optimizer step `global_step` (1-based count of steps done):
  // agrees on a stop signal, writes a checkpoint when one is due (every
  // checkpoint.every_steps in the background; at the last step of a phase
  // and on a signal now), adds checkpoint_s to `line` and writes it to the
  // metrics (rank 0). Returns the stop signal; the phase returns at once when
  // it is non-zero (the scheduler stops before the next phase when it came at
  // a phase's last step). `capture` is called only when a checkpoint is written.
  int end_step(std::int64_t global_step, bool last_in_phase, nlohmann::json& line,
               const std::function<CheckpointState()>& capture);

  // Joins a background write; rethrows its error.
  void wait();
  std::string last_checkpoint() const;
  const std::vector<double>& checkpoint_stalls() const { return stalls_; }
  // The stop signal some end_step() agreed on; 0 = none.
  int stop_signal() const { return stop_signal_; }

 private:
  double save(const CheckpointState& state, std::int64_t global_step, int stop_signal, bool now);

  std::chrono::steady_clock::time_point start_;
  const RunConfig& cfg_;
  const TrainRanks& ranks_;
  Backend& be_;
  AsyncCheckpointWriter writer_;
  MetricsLog metrics_;
  std::vector<double> stalls_;
  std::string last_checkpoint_;
  int stop_signal_ = 0;
};

// The checkpoint group of this rank: checkpoints are written on a background
// thread over the io communicator, whose collectives cannot interleave with
// training's.
CheckpointGroup checkpoint_group(const TrainRanks& ranks);

}  // namespace pouch
