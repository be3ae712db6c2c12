// run_phase_steps (phases/common/phase_loop.h) with hooks that record what
// the loop asks of them: the step/global/last arguments, the evaluation
// cadence, the metrics line's loop fields, resume from a later step, a step
// that ends the phase early (its checkpoint is the phase boundary's), and a
// stop signal (checkpoint, then stop).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "phases/common/phase_loop.h"
#include "phases/schedule/run_state.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/stop_request.h"
#include "tests/support/temp_dir.h"

namespace pouch {
namespace {

using testing::TempDir;

RunConfig tiny_config() {
  RunConfig c;
  c.model = GPTConfig{.layers = 1, .d_model = 8, .heads = 2, .seq_len = 8, .vocab_size = 31};
  c.checkpoint.keep_last = 0;  // keep every checkpoint the tests look for
  return c;
}

struct Call {
  std::int64_t step, global;
  bool last;
};
struct Report {
  std::int64_t step, eval_step;  // eval_step: the evaluation's global step, -1 without one
  bool last;
};

// A phase of `steps` steps after `offset` global steps whose hooks record
// their calls; `end_at` >= 0: that in-phase step ends the phase.
struct LoopRun {
  TempDir dir;
  RunConfig cfg = tiny_config();
  PhaseConfig phase;
  std::string config_ini = "[model]\n";
  std::unique_ptr<Backend> be = make_backend(Device::CPU);
  TrainRanks ranks;
  GPT model{cfg.model, *be};
  AdamWOptimizer optimizer{model.parameters(), cfg.optim, *be};
  TrainingData data;
  std::vector<EvalResult> evals;
  std::unique_ptr<RunServices> services;

  std::vector<Call> steps;
  std::vector<Report> reports;
  std::vector<std::int64_t> evaluated;  // global steps
  std::int64_t end_at = -1, stop_at = -1;

  LoopRun(std::int64_t phase_steps, std::int64_t eval_every) {
    phase.index = 2;
    phase.kind = PhaseKind::Continual;
    phase.steps = phase_steps;
    phase.eval_every = eval_every;
    services = std::make_unique<RunServices>(cfg, ranks, *be, dir.file("ckpt"), dir.file("metrics.jsonl"), 0,
                                             std::vector<std::int64_t>{});
  }

  PhaseOutcome run(std::int64_t first_step, bool evaluate_last_step = true) {
    PhaseContext ctx{cfg,       phase, config_ini,       *be,     ranks, model, data,
                     *services, 10,    10 + phase.steps, nullptr, {},    &evals};
    PhaseLoopHooks hooks;
    hooks.step = [&](const StepInput& in) {
      steps.push_back({in.step, in.global, in.last});
      if (in.step == stop_at) request_stop(SIGUSR1);
      StepResult r;
      r.loss = 0.5 * static_cast<double>(in.step);
      r.tokens = 64.0;
      r.ends_phase = in.step == end_at;
      return r;
    };
    hooks.evaluate = [&](std::int64_t global_step) -> const EvalResult& {
      evaluated.push_back(global_step);
      evals.push_back(EvalResult{global_step, 1.25, {}});
      return evals.back();
    };
    hooks.report = [&](const StepInput& in, const StepResult&, const StepTiming&, const EvalResult* eval, bool last) {
      reports.push_back({in.step, eval ? eval->step : -1, last});
      StepReport report;
      report.line["own"] = in.step;
      report.progress = "progress";
      if (last) report.summary = "the summary";
      return report;
    };
    hooks.capture = [&](std::int64_t in_phase_steps) {
      CheckpointState s = capture_run_state(model, optimizer, RunPosition{10 + in_phase_steps, 0, 0});
      ctx.stamp(s, 10 + in_phase_steps, 0);
      return s;
    };
    hooks.evaluate_last_step = evaluate_last_step;
    PhaseOutcome out = run_phase_steps(ctx, first_step, hooks);
    services->wait();
    return out;
  }

  std::vector<nlohmann::json> metrics() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir.file("metrics.jsonl"));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
};

TEST(PhaseLoop, RunsEveryStepWithItsGlobalStepAndEvaluatesOnCadenceAndAtTheEnd) {
  LoopRun r(5, 2);
  const PhaseOutcome out = r.run(0);
  ASSERT_EQ(r.steps.size(), 5u);
  for (std::int64_t s = 0; s < 5; ++s) {
    EXPECT_EQ(r.steps[s].step, s);
    EXPECT_EQ(r.steps[s].global, 10 + s);
    EXPECT_EQ(r.steps[s].last, s == 4);
  }
  EXPECT_EQ(r.evaluated, (std::vector<std::int64_t>{12, 14, 15}));
  // The report sees this step's evaluation (global step, or -1) and `last`.
  ASSERT_EQ(r.reports.size(), 5u);
  EXPECT_EQ(r.reports[1].eval_step, 12);
  EXPECT_EQ(r.reports[2].eval_step, -1);
  EXPECT_TRUE(r.reports[4].last);
  EXPECT_EQ(out.steps_done, 5);
  EXPECT_EQ(out.final_loss, 2.0);
  EXPECT_EQ(out.tokens, 5 * 64.0);
  EXPECT_EQ(out.summary, "the summary");
  EXPECT_EQ(out.stopped_by_signal, 0);

  const auto lines = r.metrics();
  ASSERT_EQ(lines.size(), 5u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["step"], 11 + static_cast<std::int64_t>(i));
    EXPECT_EQ(lines[i]["phase"], 2);
    EXPECT_EQ(lines[i]["phase_kind"], "continual");
    EXPECT_EQ(lines[i]["loss"], 0.5 * static_cast<double>(i));
    EXPECT_EQ(lines[i]["own"], static_cast<std::int64_t>(i));
    EXPECT_TRUE(lines[i].contains("lr"));
    EXPECT_EQ(lines[i].contains("val_loss"), i == 1 || i == 3 || i == 4) << i;
    EXPECT_EQ(lines[i].contains("checkpoint_s"), i == 4) << i;  // the phase end's checkpoint
  }
  EXPECT_NE(r.services->last_checkpoint().find("step-00000015"), std::string::npos) << r.services->last_checkpoint();
}

TEST(PhaseLoop, TheLastStepIsEvaluatedOnlyWithACadenceWhenAsked) {
  LoopRun off(3, 0);
  off.run(0, /*evaluate_last_step=*/false);
  EXPECT_TRUE(off.evaluated.empty());
  LoopRun always(3, 0);
  always.run(0, /*evaluate_last_step=*/true);
  EXPECT_EQ(always.evaluated, (std::vector<std::int64_t>{13}));
}

TEST(PhaseLoop, AResumedPhaseRunsOnlyTheStepsLeft) {
  LoopRun r(5, 0);
  const PhaseOutcome out = r.run(3);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].step, 3);
  EXPECT_EQ(r.steps[0].global, 13);
  EXPECT_EQ(out.steps_done, 5);
}

TEST(PhaseLoop, AStepThatEndsThePhaseIsItsLastAndCheckpointsAtThePhaseEnd) {
  LoopRun r(5, 0);
  r.end_at = 1;
  const PhaseOutcome out = r.run(0);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_FALSE(r.steps[1].last);   // by count it is not ...
  EXPECT_TRUE(r.reports[1].last);  // ... but the report is told it is
  EXPECT_EQ(r.evaluated, (std::vector<std::int64_t>{12}));
  EXPECT_EQ(out.steps_done, 5);  // the phase counts as done
  EXPECT_EQ(out.summary, "the summary");
  const auto lines = r.metrics();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["step"], 12);                                                   // the step that ran ...
  EXPECT_NE(r.services->last_checkpoint().find("step-00000015"), std::string::npos)  // ... stamped at the phase end
      << r.services->last_checkpoint();
}

TEST(PhaseLoop, AStopSignalCheckpointsThatStepAndStops) {
  LoopRun r(5, 0);
  r.stop_at = 1;
  const PhaseOutcome out = r.run(0);
  clear_stop_request();
  EXPECT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(out.stopped_by_signal, SIGUSR1);
  EXPECT_EQ(out.steps_done, 2);
  EXPECT_NE(r.services->last_checkpoint().find("step-00000012"), std::string::npos) << r.services->last_checkpoint();
  EXPECT_TRUE(out.summary.empty());
}

}  // namespace
}  // namespace pouch
