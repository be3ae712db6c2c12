#include "phases/next_token_step.h"

#include <cmath>
#include <vector>

namespace pouch {

double accumulate_gradients(const PhaseContext& ctx, GradientBucketReducer* reducer, const Tensor& x, const Tensor& y,
                            float dloss, const std::function<void(std::int64_t micro)>& fill,
                            std::int64_t global_step, bool overflow_is_possible) {
  GPT& model = ctx.model;
  const std::int64_t A = ctx.cfg.train.grad_accum;
  std::vector<double> loss = {0.0, 0.0};  // sum and count of this rank's target losses
  for (std::int64_t micro = 0; micro < A; ++micro) {
    // With accumulation only the last micro-batch's backward reduces.
    if (reducer && micro == A - 1) reducer->begin();
    fill(micro);
    model.forward(x, y, dloss);
    model.backward();
    loss[0] += model.last_loss_sum();
    loss[1] += static_cast<double>(model.last_loss_count());
  }
  if (reducer) reducer->finish();
  sum_over_dp(ctx.ranks, ctx.be, loss);
  const double mean = loss[1] > 0 ? loss[0] / loss[1] : 0.0;
  if (!std::isfinite(mean) && !overflow_is_possible)
    fail("training diverged at step {} ({}): the loss is {}; lower the learning rate or set [optim] grad_clip",
         global_step, ctx.phase.name(), mean);
  return mean;
}

StepMeter::StepMeter(const PhaseContext& ctx)
    : ctx_(ctx),
      tokens_per_step_(static_cast<double>(ctx.cfg.train.batch_size * ctx.cfg.model.seq_len * ctx.cfg.train.grad_accum)),
      flops_per_token_(ctx.model.train_flops_per_token(ctx.cfg.model.seq_len)) {}

nlohmann::json StepMeter::finish(std::int64_t step, std::int64_t first_step, Clock::time_point t0, double loss,
                                 float lr, double grad_norm, PhaseOutcome& out) {
  const double dt = seconds_since(t0);
  out.train_seconds += dt;
  out.tokens += tokens_per_step_;
  out.flops += flops_per_token_ * tokens_per_step_;
  out.final_loss = loss;
  out.steps_done = step + 1;
  avg_step_ = step == first_step ? dt : 0.9 * avg_step_ + 0.1 * dt;
  tok_s_ = tokens_per_step_ / dt;
  mfu_ = ctx_.peak->utilisation(flops_per_token_ * tokens_per_step_, dt);
  return {{"step", ctx_.step_offset + step + 1},
          {"phase", ctx_.phase.index},
          {"phase_kind", std::string(phase_kind_name(ctx_.phase.kind))},
          {"loss", loss},
          {"lr", lr},
          {"grad_norm", grad_norm},
          {"tokens_per_s", tok_s_},
          {"mfu", mfu_}};
}

ProgressInfo StepMeter::progress(std::int64_t step, double loss, float lr) const {
  return {ctx_.step_offset + step + 1, ctx_.total_steps, loss, lr, tok_s_, mfu_,
          avg_step_ * static_cast<double>(ctx_.phase.steps - step - 1)};
}

}  // namespace pouch
