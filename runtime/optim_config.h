#pragma once
#include <cstdint>
#include <string>

namespace pouch {

enum class LrSchedule { Constant, Cosine };

// [optim] section: AdamW hyper-parameters and the learning-rate schedule.
struct OptimConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to parameters with >= 2 dimensions only
  float grad_clip = 1.0f;     // global-norm clip; 0 = off
  std::int64_t warmup_steps = 0;
  LrSchedule schedule = LrSchedule::Cosine;
  float min_lr_ratio = 0.1f;  // cosine decays to lr * min_lr_ratio at the last step
};

// Learning rate for optimizer step `step` (0-based) of `total_steps`:
// linear warmup over warmup_steps (from lr/warmup to lr), then constant or a
// cosine from lr down to lr*min_lr_ratio at the last step.
float lr_at(const OptimConfig& cfg, std::int64_t step, std::int64_t total_steps);

}  // namespace pouch
