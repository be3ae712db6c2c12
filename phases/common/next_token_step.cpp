#include "phases/common/next_token_step.h"

#include <array>
#include <cmath>
#include <vector>

#include "phases/common/progress.h"
#include "runtime/error.h"

namespace pouch {

Tensor accumulate_gradients(const PhaseContext& ctx, DpReducer* reducer, const Tensor& x, const Tensor& y, float dloss,
                            const std::function<void(std::int64_t micro)>& fill) {
  GPT& model = ctx.model;
  const std::int64_t A = ctx.cfg.train.grad_accum;
  const Tensor sums = ctx.be.zeros({2}, DType::F64);
  for (std::int64_t micro = 0; micro < A; ++micro) {
    // With accumulation only the last micro-batch's backward reduces.
    if (reducer && micro == A - 1) reducer->begin();
    fill(micro);
    model.forward_deferred(x, y, dloss);
    model.add_loss_sums_to(sums);
    model.backward();
  }
  if (reducer) reducer->finish();
  return sums;
}

double step_mean_loss(const PhaseContext& ctx, std::array<double, 2> sums, std::int64_t global_step,
                      bool overflow_is_possible) {
  std::vector<double> loss(sums.begin(), sums.end());
  sum_over_dp(ctx.ranks, ctx.be, loss);
  const double mean = loss[1] > 0 ? loss[0] / loss[1] : 0.0;
  if (!std::isfinite(mean) && !overflow_is_possible)
    fail("training diverged at step {} ({}): the loss is {}; lower the learning rate or set [optim] grad_clip",
         global_step, ctx.phase.name(), mean);
  return mean;
}

std::array<double, 2> read_loss_sums(Backend& be, const Tensor& sums) {
  const Tensor host = Tensor::empty({2}, DType::F64);
  be.copy(host, sums);
  return {host.data<double>()[0], host.data<double>()[1]};
}

StepResult next_token_result(const RunConfig& cfg, double flops_per_token, double loss) {
  StepResult r;
  r.loss = loss;
  r.tokens = static_cast<double>(cfg.train.batch_size * cfg.model.seq_len * cfg.train.grad_accum);
  r.flops_per_token = flops_per_token;
  return r;
}

StepReport next_token_report(const PhaseContext& ctx, const StepInput& in, const StepResult& result,
                             const StepTiming& timing, double grad_norm) {
  StepReport report;
  report.line = {{"grad_norm", grad_norm}, {"tokens_per_s", timing.tokens_per_s}, {"mfu", timing.mfu}};
  report.progress = format_progress(
      {in.global + 1, ctx.total_steps, result.loss, in.lr, timing.tokens_per_s, timing.mfu, timing.eta_s});
  return report;
}

}  // namespace pouch
