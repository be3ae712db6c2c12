#pragma once
// The optimizer-step loop of every phase (pretrain, ppo/grpo, continual):
// the loop owns what all phases do around a step, the phase supplies the
// step, its evaluation and its metrics through PhaseLoopHooks.
//
// In-phase step s of [first_step, phase.steps), global step g = step_offset + s:
//   1. the fault plan (POUCH_FAULT, phases/schedule/fault_injection.h) at g + 1;
//   2. lr = lr_at(the phase's optim, s, phase.steps);
//   3. hooks.step: the optimizer step;
//   4. timing (the host clock from before 2 to after 3, evaluation excluded):
//      seconds, tokens/s, MFU, the ETA from a moving average (0.9) of the
//      step time; the outcome's totals;
//   5. hooks.evaluate every eval_every steps and at the phase's last step
//      (always, or only when eval_every > 0 if evaluate_last_step is false);
//   6. hooks.report: the metrics line; the loop adds step (g + 1), phase,
//      phase_kind, loss, lr and the evaluation's fields;
//   7. RunServices::end_step: the stop signal agreed over the world, a
//      checkpoint when due (hooks.capture), the metrics line (rank 0);
//   8. prints (rank 0): the progress line every [log] every steps and at the
//      first and last step, the evaluation line, the report's `after` lines;
//   9. ends after the last step, or after a step on which end_step agreed on
//      a stop signal (PhaseOutcome::stopped_by_signal).
// A step whose StepResult::ends_phase is set is the phase's last (alignment's
// KL ceiling): it counts as the phase's final step, so its checkpoint is the
// phase boundary's (stamped at the phase's last global step).
//
// Contract: every rank of the world runs the loop and calls each hook with
// the same arguments in the same order, so the collectives inside the hooks
// (gradient and loss sums over dp, tensor-parallel all-reduces, evaluation
// sums, publishing's broadcasts) line up on every rank. The loop's own
// collectives are end_step's: the max of the stop flag over the world every
// step, and, when a checkpoint is due, its write over the io communicator
// (in the background every checkpoint.every_steps, else before end_step
// returns). The hooks run on the calling thread; a hook's results must be
// final when it returns (the CPU backend computes on the host, so the step's
// time is taken when hooks.step returns).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint/training_checkpoint.h"
#include "phases/common/evaluation.h"
#include "phases/schedule/phase.h"

namespace pouch {

struct StepInput {
  std::int64_t step = 0;    // in-phase, 0-based
  std::int64_t global = 0;  // step_offset + step
  float lr = 0.0f;
  bool last = false;  // step + 1 == phase.steps
};

struct StepResult {
  double loss = 0.0;             // the metrics' loss and the outcome's final_loss
  double tokens = 0.0;           // processed in the step: tokens/s and the outcome's total
  double flops_per_token = 0.0;  // model FLOPs per token for MFU (0: no MFU)
  bool ends_phase = false;       // the phase ends after this step although steps remain
};

struct StepTiming {
  double seconds = 0.0;
  double tokens_per_s = 0.0;
  double mfu = 0.0;    // fraction of the job's peak, in [0, 1] (PhaseContext::peak, runtime/peak_meter.h)
  double eta_s = 0.0;  // moving-average step time x the phase's steps left
};

struct StepReport {
  nlohmann::json line;             // the phase's metrics (the loop adds its own fields)
  std::string progress;            // the progress line
  std::vector<std::string> after;  // printed after the evaluation line
  std::string summary;             // at the last step: PhaseOutcome::summary
};

struct PhaseLoopHooks {
  std::function<StepResult(const StepInput&)> step;
  // Evaluates at `global_step` (1-based count of steps done) and records the
  // result in PhaseContext::evals (PhaseContext::record_eval).
  std::function<const EvalResult&(std::int64_t global_step)> evaluate;
  // `eval`: this step's evaluation (null when none was due); `last`: the
  // phase ends with this step.
  std::function<StepReport(const StepInput&, const StepResult&, const StepTiming&, const EvalResult* eval, bool last)>
      report;
  // The checkpoint after `in_phase_steps` steps.
  std::function<CheckpointState(std::int64_t in_phase_steps)> capture;
  bool evaluate_last_step = true;
};

// Runs in-phase steps [first_step, ctx.phase.steps).
PhaseOutcome run_phase_steps(const PhaseContext& ctx, std::int64_t first_step, const PhaseLoopHooks& hooks);

}  // namespace pouch
