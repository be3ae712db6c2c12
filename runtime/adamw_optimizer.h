#pragma once
// AdamW over a ParameterStore's flat buffers, with global-norm gradient
// clipping and weight decay only on parameters flagged `decay` (>= 2 dims,
// as nanoGPT/GPT-2). Moments m and v have the parameters' flat layout, so a
// checkpoint (checkpoint/training_checkpoint.h) writes them beside their
// parameters with the same sharding.
#include <cstdint>

#include "runtime/backend.h"
#include "runtime/optim_config.h"
#include "runtime/parameter_store.h"

namespace pouch {

struct OptimizerStepStats {
  double grad_norm = 0.0;   // global L2 norm before clipping
  float clip_scale = 1.0f;  // factor applied to the gradients
  float lr = 0.0f;
};

class AdamWOptimizer {
 public:
  AdamWOptimizer(ParameterStore& params, const OptimConfig& cfg, Backend& backend);

  // Global L2 norm of all gradients (double accumulation).
  double grad_norm() const;
  // One update with learning rate `lr`. Clipping follows
  // torch.nn.utils.clip_grad_norm_: scale = min(1, clip / (norm + 1e-6)).
  // `grad_norm` may be passed in when the caller already reduced it across
  // ranks; negative means compute it here.
  OptimizerStepStats step(float lr, double grad_norm = -1.0);

  std::int64_t steps_taken() const { return step_; }
  // Restoring a checkpoint: the step count (bias corrections) and the moments.
  void set_steps_taken(std::int64_t steps) { step_ = steps; }
  Tensor exp_avg_of(const Parameter& p) const { return m_.view(p.offset, p.shape); }
  Tensor exp_avg_sq_of(const Parameter& p) const { return v_.view(p.offset, p.shape); }
  const Tensor& exp_avg() const { return m_; }  // flat, like ParameterStore::values()
  const Tensor& exp_avg_sq() const { return v_; }

 private:
  ParameterStore& params_;
  OptimConfig cfg_;
  Backend& be_;
  Tensor m_, v_;
  std::int64_t step_ = 0;
};

}  // namespace pouch
