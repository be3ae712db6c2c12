#pragma once
// What pretrain and continual phases share in an optimizer step of
// next-token training: the micro-batch loop (forward with the scaled dloss,
// backward, the data-parallel reducer on the last micro-batch), the mean
// loss over the data-parallel group with the divergence check, and the
// step's result and report for the phase loop (phases/common/phase_loop.h).
#include <array>
#include <cstdint>
#include <functional>

#include "phases/common/dp_reducer.h"
#include "phases/common/phase_loop.h"
#include "phases/schedule/phase.h"

namespace pouch {

// Runs train.grad_accum micro-batches: `fill(micro)` writes this rank's rows
// into x and y, then forward(x, y, dloss) and backward(). The reducer (may be
// null) reduces during the last backward. Returns this rank's (sum, count)
// of target losses, F64 [2] on the backend's device, summed there over the
// micro-batches: nothing has blocked the host yet. The step reads it in the
// same copy as the grad norm (GPT::grad_norm(with, ...)), so a step is one
// host sync whatever grad_accum is; read_loss_sums reads it alone.
Tensor accumulate_gradients(const PhaseContext& ctx, DpReducer* reducer, const Tensor& x, const Tensor& y, float dloss,
                            const std::function<void(std::int64_t micro)>& fill);

// One host sync: the loss sums accumulate_gradients left on the device.
std::array<double, 2> read_loss_sums(Backend& be, const Tensor& sums);

// The mean target loss over every data-parallel rank from this rank's
// (sum, count) (a host collective over dp); a non-finite mean is an error
// unless `overflow_is_possible` (fp16: the loss scaler skips that step).
double step_mean_loss(const PhaseContext& ctx, std::array<double, 2> sums, std::int64_t global_step,
                      bool overflow_is_possible);

// A step of mean loss `loss` over B·T·A tokens at `flops_per_token`
// (GPT::train_flops_per_token at the phase start).
StepResult next_token_result(const RunConfig& cfg, double flops_per_token, double loss);

// The metrics (grad_norm, tokens_per_s, mfu) and progress line of a
// next-token step (phases/common/progress.h).
StepReport next_token_report(const PhaseContext& ctx, const StepInput& in, const StepResult& result,
                             const StepTiming& timing, double grad_norm);

}  // namespace pouch
