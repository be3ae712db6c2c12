#include "phases/pretrain/pretrain_phase.h"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "data/curriculum_sampler.h"
#include "parallel/gradient_bucket_reducer.h"
#include "parallel/uniform_error.h"
#include "phases/schedule/fault_injection.h"
#include "phases/common/next_token_step.h"
#include "phases/common/progress.h"
#include "phases/schedule/run_state.h"
#include "runtime/adamw_optimizer.h"
#include "runtime/log.h"
#include "runtime/stopwatch.h"
#include "phases/common/phase_precision.h"

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
    const auto& cfg = ctx.cfg;
    const int dp = ctx.ranks.dp_size();
    if (dp > 1) {
      reducer_ = std::make_unique<GradientBucketReducer>(
          ctx.model.parameters(), *ctx.ranks.dp,
          GradientBucketReducer::Options{static_cast<std::int64_t>(cfg.parallel.bucket_mb * (1 << 20)),
                                         cfg.parallel.overlap});
      ctx.model.set_grad_ready_hook([this](const Parameter& p) { reducer_->mark_ready(p); });
      log_info("data-parallel gradient all-reduce: {} buckets of up to {} MiB, overlap {}", reducer_->num_buckets(),
               cfg.parallel.bucket_mb, cfg.parallel.overlap ? "on" : "off");
    }
  }

  ~PretrainPhase() override { ctx_.model.set_grad_ready_hook({}); }

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
    CheckpointState s = capture_run_state(
        ctx_.model, optimizer_, RunPosition{global, tokens, global * ctx_.cfg.train.grad_accum * ctx_.cfg.train.batch_size},
        1, 1, "");
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
  std::unique_ptr<GradientBucketReducer> reducer_;
};

PhaseOutcome PretrainPhase::run(std::int64_t first_step) {
  const RunConfig& cfg = ctx_.cfg;
  GPT& model = ctx_.model;
  Backend& be = ctx_.be;
  const TrainRanks& ranks = ctx_.ranks;
  RunServices& services = ctx_.services;
  const std::int64_t B = cfg.train.batch_size, T = cfg.model.seq_len, A = cfg.train.grad_accum;
  const std::int64_t B_local = B / ranks.dp_size();
  const std::int64_t steps = ctx_.phase.steps;
  model.set_recompute(cfg.train.recompute);
  precision_.begin(model, model.parameters());
  if (precision_.mixed())
    log_info("{}: {} weights and block activations, fp32 master weights and accumulation{}", ctx_.phase.name(),
             precision_name(precision_.precision()),
             precision_.precision() == Precision::FP16 ? fmt::format(", dynamic loss scale {}", precision_.loss_scale())
                                                      : "");
  int sampler_level = -1;

  PhaseOutcome out;
  out.steps_done = first_step;
  const Tensor x = be.empty({B_local, T}, DType::I32), y = be.empty({B_local, T}, DType::I32);
  const std::int64_t eval_every = ctx_.eval_every();
  auto record_eval = [&](std::int64_t global_step) -> const EvalResult& {
    ctx_.evals->push_back(evaluate(model, ctx_.data, cfg, ranks, global_step, x, y));
    return ctx_.evals->back();
  };
  if (eval_every > 0 && first_step == 0) services.print(format_eval(record_eval(ctx_.step_offset)));

  StepMeter meter(ctx_);
  const float dloss = 1.0f / static_cast<float>(B * T * A);
  const auto fault = fault_plan_from_env();
  for (std::int64_t step = first_step; step < steps; ++step) {
    const std::int64_t global = ctx_.step_offset + step;
    maybe_inject_fault(fault, ranks.world_rank, global + 1);
    const auto t0 = Clock::now();
    const float lr = lr_at(optim_cfg_, step, steps);
    if (sampler_ && sampler_->max_level_at(step) != sampler_level) {
      sampler_level = sampler_->max_level_at(step);
      const std::int64_t epoch = sampler_->epoch_of(global * A * B);
      services.print(fmt::format("curriculum at step {}: {}", global + 1,
                                 sampler_->summary(epoch, sampler_level).to_string()));
    }
    model.parameters().zero_grad();
    const double mean_loss = accumulate_gradients(
        ctx_, reducer_.get(), x, y, dloss * static_cast<float>(precision_.loss_scale()),
        [&](std::int64_t micro) {
          // Sequences are numbered over the run (global steps), so a second
          // pretrain phase reads on where the first stopped.
          const std::int64_t first_row = (global * A + micro) * B + ranks.dp_rank() * B_local;
          if (sampler_) {
            for (std::int64_t b = 0; b < B_local; ++b)
              sampler_->sequence(first_row + b, step, x.i32() + b * T, y.i32() + b * T);
          } else {
            fill_batch(*ctx_.data.train, first_row, cfg.model.vocab_size, x, y);
          }
        },
        global + 1, precision_.precision() == Precision::FP16);
    OptimizerStepStats stats;
    const bool applied =
        precision_.apply_update(ranks, be, global + 1, [&] { stats = optimizer_.step(lr, model.grad_norm()); });
    const bool last = step + 1 == steps;
    // The boundary checkpoint, model.h5 and the next phase get the fp32 masters.
    if (last) precision_.finish();
    nlohmann::json line = meter.finish(step, first_step, t0, mean_loss, lr, stats.grad_norm, out);
    if (reducer_) line["comm_wait_s"] = reducer_->last_wait_seconds();
    precision_.add_metrics(line, applied);
    if (sampler_) line["curriculum_level"] = sampler_level;
    const bool eval_now = eval_every > 0 && ((step + 1) % eval_every == 0 || last);
    if (eval_now) add_eval_fields(line, record_eval(global + 1));
    const ProgressInfo progress = meter.progress(step, mean_loss, lr);
    std::vector<std::string> after;
    if (eval_now) after.push_back(format_eval(ctx_.evals->back()));
    const int stop = ctx_.end_step(step, first_step, line, [&] { return capture(step + 1); }, progress, after);
    if (last) {
      out.summary = fmt::format("final loss {:.4f}", mean_loss);
      if (eval_now && !ctx_.evals->back().levels.empty())
        out.summary += fmt::format(", held-out accuracy {:.1f}%", 100.0 * overall_accuracy(ctx_.evals->back().levels));
      if (sampler_) out.summary += fmt::format(" ({})", describe_curriculum(sampler_->policy().curriculum));
    }
    if (stop != 0 && !last) {
      out.stopped_by_signal = stop;
      break;
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Phase> make_pretrain_phase(const PhaseContext& ctx) { return std::make_unique<PretrainPhase>(ctx); }

}  // namespace pouch
