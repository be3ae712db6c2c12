#pragma once
// A phase of a run's schedule (phases/schedule/phase_config.h). The scheduler
// (phases/schedule/schedule_runner.h) makes one phase at a time, hands it the
// model the previous phase left, and calls run(); a phase resumed from a
// checkpoint taken inside it first gets restore(). A phase is made only from
// a config phases/schedule/phase_validation.h has accepted: it does not
// re-check user input, only its own invariants (POUCH_CHECK).
//
// Steps are counted over the whole schedule: phase k's step s (0-based) is
// global step offset_k + s, with offset_k the sum of the earlier phases'
// steps; checkpoints (step-N) and metrics lines use global steps, so both
// stay monotone across phases.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/gpt.h"
#include "phases/common/evaluation.h"
#include "phases/common/run_services.h"
#include "phases/common/training_data.h"
#include "phases/schedule/phase_config.h"
#include "phases/schedule/run_config.h"
#include "phases/schedule/train_ranks.h"
#include "runtime/peak_meter.h"

namespace pouch {

struct PhaseContext {
  const RunConfig& cfg;
  const PhaseConfig& phase;
  const std::string& config_ini;
  Backend& be;
  const TrainRanks& ranks;
  GPT& model;
  TrainingData& data;  // the pre-training data and the task tokenizer
  RunServices& services;
  std::int64_t step_offset = 0;              // global steps before this phase
  std::int64_t total_steps = 0;              // global steps of the whole schedule
  PeakMeter* peak = nullptr;                 // the job's MFU yardstick, shared by the phases
  std::string tokenizer_json;                // travels in checkpoints
  std::vector<EvalResult>* evals = nullptr;  // where evaluations are reported

  // The phase's learning rate and warmup (phase keys, else [optim]).
  OptimConfig optim() const;
  std::int64_t eval_every() const;
  // Checkpoint metadata every phase writes: global step, phase kind and
  // index (/meta phase, phase_index), layout, config and tokenizer.
  void stamp(CheckpointState& state, std::int64_t global_step, std::int64_t tokens_seen) const;
  // Evaluates the model at `global_step` (phases/common/evaluation.h; x, y:
  // this rank's batch buffers; `levels` empty: 1..data.task_max_level) and
  // appends the result to *evals. Collective over the data-parallel group.
  const EvalResult& record_eval(std::int64_t global_step, const Tensor& x, const Tensor& y,
                                const std::vector<int>& levels = {}) const;
};

struct PhaseOutcome {
  std::int64_t steps_done = 0;  // in-phase steps completed
  double final_loss = 0.0;      // the phase's own training loss of its last step
  double train_seconds = 0.0;   // time in steps (evaluations excluded)
  double tokens = 0.0;          // tokens processed in those steps
  double flops = 0.0;           // model FLOPs of those steps (for MFU)
  int stopped_by_signal = 0;    // stopped before its last step: checkpointed
  std::string summary;          // what the phase did, one line (printed at the end of the run)
};

class Phase {
 public:
  virtual ~Phase() = default;
  // Restores the phase's state (weights, optimizer, its own tensors) from a
  // checkpoint taken inside it. `verify`: check checksums first.
  virtual void restore(const std::string& file, bool verify) = 0;
  // Runs in-phase steps [first_step, phase.steps).
  virtual PhaseOutcome run(std::int64_t first_step) = 0;
};

std::unique_ptr<Phase> make_phase(const PhaseContext& ctx);

// The phase index a checkpoint was written in (/meta phase_index; 1 for
// checkpoints written before phases existed).
std::int64_t checkpoint_phase_index(const CheckpointState& state);

}  // namespace pouch
