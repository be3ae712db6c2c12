#include "phases/pretrain/pretrain_phase.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "data/curriculum_sampler.h"
#include "parallel/uniform_error.h"
#include "phases/common/dp_reducer.h"
#include "phases/common/next_token_step.h"
#include "phases/common/phase_loop.h"
#include "phases/common/phase_precision.h"
#include "phases/schedule/run_state.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/log.h"

namespace pouch {

namespace {

bool uses_sampler(const PretrainPhaseConfig& p) {
  return p.curriculum != "none" || p.quality_sampling || !p.source_weights.empty();
}

// The sampler of a pretrain phase whose keys ask for one (null otherwise):
// pacing over curriculum_fraction of the phase's steps.
std::unique_ptr<CurriculumSampler> make_sampler(const PhaseContext& ctx) {
  const PretrainPhaseConfig& p = ctx.phase.pretrain;
  if (!uses_sampler(p)) return nullptr;
  POUCH_CHECK(ctx.data.task_corpus != nullptr, "a pretrain sampler without the built-in task (config validation)");
  const std::string prefix = fmt::format("phase.{}.", ctx.phase.index);
  SamplingPolicy policy;
  policy.curriculum.kind = parse_pacing_kind(p.curriculum, prefix + "curriculum");
  policy.curriculum.min_level = static_cast<double>(p.curriculum_min_level);
  policy.curriculum.max_level =
      static_cast<double>(p.curriculum_max_level > 0 ? p.curriculum_max_level : ctx.cfg.data.task_max_level);
  policy.curriculum.degree = policy.curriculum.kind == PacingKind::Linear ? 1.0 : p.curriculum_degree;
  policy.curriculum.total_steps =
      std::max<std::int64_t>(1, std::llround(p.curriculum_fraction * static_cast<double>(ctx.phase.steps)));
  policy.curriculum.boundaries = parse_step_list(p.curriculum_boundaries, prefix + "curriculum_boundaries");
  validate_curriculum(policy.curriculum, CurriculumKeys::under(prefix));
  policy.source_weights = SourceWeightRules::parse(p.source_weights, prefix + "source_weights");
  policy.quality_sampling = p.quality_sampling;
  policy.quality_growth = p.quality_growth;
  policy.quality_temperature = p.quality_temperature;
  return std::make_unique<CurriculumSampler>(*ctx.data.task_corpus, ctx.cfg.model.seq_len, std::move(policy),
                                             ctx.cfg.train.seed);
}

class PretrainPhase final : public Phase {
 public:
  explicit PretrainPhase(const PhaseContext& ctx)
      : ctx_(ctx),
        optim_cfg_(ctx.optim()),
        optimizer_(ctx.model.parameters(), optim_cfg_, ctx.be),
        precision_(ctx.phase),
        sampler_(make_sampler(ctx)) {
    reducer_ = make_dp_reducer(ctx, ctx.model.parameters(), &ctx.model);
  }

  // The weights in a checkpoint are the fp32 masters; the loss scaler's state
  // rides in /data_f64.
  void restore(const std::string& file, bool verify) override {
    restore_run_state(file, ctx_.model, optimizer_, ctx_.ranks.world_rank, verify);
    precision_.restore(file);
  }

  PhaseOutcome run(std::int64_t first_step) override;

 private:
  CheckpointState capture(std::int64_t in_phase_steps) const {
    const std::int64_t tokens = tokens_per_step() * (ctx_.step_offset + in_phase_steps);
    const std::int64_t global = ctx_.step_offset + in_phase_steps;
    CheckpointState s =
        capture_run_state(ctx_.model, optimizer_,
                          RunPosition{global, tokens, global * ctx_.cfg.train.grad_accum * ctx_.cfg.train.batch_size});
    ctx_.stamp(s, global, tokens);
    std::size_t i = 0;
    for (const auto& p : ctx_.model.parameters()) s.model[i++].local = precision_.master_of(p);
    precision_.capture(s);
    return s;
  }
  std::int64_t tokens_per_step() const {
    return ctx_.cfg.train.batch_size * ctx_.cfg.model.seq_len * ctx_.cfg.train.grad_accum;
  }

  PhaseContext ctx_;
  OptimConfig optim_cfg_;
  AdamWOptimizer optimizer_;
  PhasePrecision precision_;
  std::unique_ptr<CurriculumSampler> sampler_;
  std::unique_ptr<DpReducer> reducer_;  // null at dp = 1
};

PhaseOutcome PretrainPhase::run(std::int64_t first_step) {
  const RunConfig& cfg = ctx_.cfg;
  GPT& model = ctx_.model;
  Backend& be = ctx_.be;
  const TrainRanks& ranks = ctx_.ranks;
  const std::int64_t B = cfg.train.batch_size, T = cfg.model.seq_len, A = cfg.train.grad_accum;
  const std::int64_t B_local = B / ranks.dp_size();
  model.set_recompute(cfg.train.recompute);
  precision_.begin(model, model.parameters());
  if (precision_.mixed())
    log_info("{}: {} weights and block activations, fp32 master weights and accumulation{}", ctx_.phase.name(),
             precision_name(precision_.precision()),
             precision_.precision() == Precision::FP16 ? fmt::format(", dynamic loss scale {}", precision_.loss_scale())
                                                       : "");
  // Host buffers: the sampler writes them, GPT::forward copies them to the device.
  const Tensor x = Tensor::empty({B_local, T}, DType::I32), y = Tensor::empty({B_local, T}, DType::I32);
  if (ctx_.eval_every() > 0 && first_step == 0)
    ctx_.services.print(format_eval(ctx_.record_eval(ctx_.step_offset, x, y)));

  const float dloss = 1.0f / static_cast<float>(B * T * A);
  const double flops_per_token = model.train_flops_per_token(T);
  int sampler_level = -1;
  // What the step leaves for its report.
  OptimizerStepStats stats;
  bool applied = false;
  PhaseLoopHooks hooks;
  hooks.step = [&](const StepInput& in) {
    if (sampler_ && sampler_->max_level_at(in.step) != sampler_level) {
      sampler_level = sampler_->max_level_at(in.step);
      const std::int64_t epoch = sampler_->epoch_of(in.global * A * B);
      ctx_.services.print(
          fmt::format("curriculum at step {}: {}", in.global + 1, sampler_->summary(epoch, sampler_level).to_string()));
    }
    model.parameters().zero_grad();
    const Tensor loss_sums = accumulate_gradients(
        ctx_, reducer_.get(), x, y, dloss * static_cast<float>(precision_.loss_scale()), [&](std::int64_t micro) {
          // Sequences are numbered over the run (global steps), so a second
          // pretrain phase reads on where the first stopped.
          const std::int64_t first_row = (in.global * A + micro) * B + ranks.dp_rank() * B_local;
          if (sampler_) {
            for (std::int64_t b = 0; b < B_local; ++b)
              sampler_->sequence(first_row + b, in.step, x.i32() + b * T, y.i32() + b * T);
          } else {
            fill_batch(*ctx_.data.train, first_row, cfg.model.vocab_size, x, y);
          }
        });
    const bool fp16 = precision_.precision() == Precision::FP16;
    stats = OptimizerStepStats{};
    double mean_loss = 0.0;
    applied = precision_.apply_update(ranks, be, in.global + 1, [&] {
      std::array<double, 2> loss{};
      const double norm = model.grad_norm(loss_sums, loss);  // the step's one host sync
      mean_loss = step_mean_loss(ctx_, loss, in.global + 1, fp16);
      stats = optimizer_.step(in.lr, norm);
    });
    if (!applied) mean_loss = step_mean_loss(ctx_, read_loss_sums(be, loss_sums), in.global + 1, fp16);
    // The boundary checkpoint, model.h5 and the next phase get the fp32 masters.
    if (in.last) precision_.finish();
    return next_token_result(cfg, flops_per_token, mean_loss);
  };
  hooks.evaluate = [&](std::int64_t global_step) -> const EvalResult& { return ctx_.record_eval(global_step, x, y); };
  hooks.report = [&](const StepInput& in, const StepResult& r, const StepTiming& timing, const EvalResult* eval,
                     bool last) {
    StepReport report = next_token_report(ctx_, in, r, timing, stats.grad_norm);
    nlohmann::json& line = report.line;
    if (reducer_) reducer_->add_metrics(line);
    precision_.add_metrics(line, applied);
    if (sampler_) line["curriculum_level"] = sampler_level;
    if (last) {
      report.summary = fmt::format("final loss {:.4f}", r.loss);
      if (eval && !eval->levels.empty())
        report.summary += fmt::format(", held-out accuracy {:.1f}%", 100.0 * overall_accuracy(eval->levels));
      if (sampler_) report.summary += fmt::format(" ({})", describe_curriculum(sampler_->policy().curriculum));
    }
    return report;
  };
  hooks.capture = [this](std::int64_t in_phase_steps) { return capture(in_phase_steps); };
  hooks.evaluate_last_step = false;
  return run_phase_steps(ctx_, first_step, hooks);
}

}  // namespace

std::unique_ptr<Phase> make_pretrain_phase(const PhaseContext& ctx) { return std::make_unique<PretrainPhase>(ctx); }

}  // namespace pouch
