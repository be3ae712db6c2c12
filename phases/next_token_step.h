#pragma once
// What pretrain and continual phases share in an optimizer step of
// next-token training: the micro-batch loop (forward with the scaled dloss,
// backward, the data-parallel reducer on the last micro-batch), the mean
// loss over the data-parallel group with the divergence check, and the
// step's timing (tokens/s, MFU, the ETA's moving average).
#include <cstdint>
#include <functional>

#include <nlohmann/json.hpp>

#include "parallel/gradient_bucket_reducer.h"
#include "phases/phase.h"
#include "phases/progress.h"
#include "runtime/stopwatch.h"

namespace pouch {

// Runs train.grad_accum micro-batches: `fill(micro)` writes this rank's rows
// into x and y, then forward(x, y, dloss) and backward(). The reducer (may be
// null) reduces during the last backward. Returns the mean target loss over
// every rank; a non-finite loss is an error unless `overflow_is_possible`
// (fp16: the loss scaler skips that step instead).
double accumulate_gradients(const PhaseContext& ctx, GradientBucketReducer* reducer, const Tensor& x, const Tensor& y,
                            float dloss, const std::function<void(std::int64_t micro)>& fill,
                            std::int64_t global_step, bool overflow_is_possible);

// Times the steps of a phase and fills its outcome's totals.
class StepMeter {
 public:
  explicit StepMeter(const PhaseContext& ctx);
  // The step that just ended (in-phase `step`, started at t0): adds it to
  // `out` and returns the metrics line's common fields.
  nlohmann::json finish(std::int64_t step, std::int64_t first_step, Clock::time_point t0, double loss, float lr,
                        double grad_norm, PhaseOutcome& out);
  ProgressInfo progress(std::int64_t step, double loss, float lr) const;

 private:
  const PhaseContext& ctx_;
  double tokens_per_step_, flops_per_token_;
  double avg_step_ = 0.0, tok_s_ = 0.0, mfu_ = 0.0;
};

}  // namespace pouch
