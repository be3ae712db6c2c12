#include "runtime/adamw_optimizer.h"

#include <cmath>

namespace pouch {

AdamWOptimizer::AdamWOptimizer(ParameterStore& params, const OptimConfig& cfg, Backend& backend)
    : params_(params), cfg_(cfg), be_(backend) {
  POUCH_CHECK(params.allocated(), "optimizer built before the parameters were allocated");
  m_ = be_.zeros(params.values().shape());
  v_ = be_.zeros(params.values().shape());
}

double AdamWOptimizer::grad_norm() const { return std::sqrt(be_.sum_squares(params_.grads())); }

OptimizerStepStats AdamWOptimizer::step(float lr, double grad_norm_in) {
  OptimizerStepStats stats;
  stats.lr = lr;
  stats.grad_norm = grad_norm_in >= 0.0 ? grad_norm_in : grad_norm();
  if (cfg_.grad_clip > 0.0f) {
    const double coef = cfg_.grad_clip / (stats.grad_norm + 1e-6);
    if (coef < 1.0) stats.clip_scale = static_cast<float>(coef);
  }
  ++step_;
  AdamWParams hp;
  hp.lr = lr;
  hp.beta1 = cfg_.beta1;
  hp.beta2 = cfg_.beta2;
  hp.eps = cfg_.eps;
  hp.step = static_cast<long>(step_);
  hp.grad_scale = stats.clip_scale;
  for (auto& p : params_) {
    hp.weight_decay = p.decay ? cfg_.weight_decay : 0.0f;
    hp.lr = lr * p.lr_scale;
    // The store's values, not p.value: under mixed precision p.value is the
    // 16-bit working copy and the store holds the fp32 masters
    // (runtime/mixed_precision_weights.h); otherwise they are the same.
    be_.adamw_update(params_.values().view(p.offset, p.shape), p.grad, m_.view(p.offset, p.shape),
                     v_.view(p.offset, p.shape), hp);
  }
  return stats;
}

}  // namespace pouch
