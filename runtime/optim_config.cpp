#include "runtime/optim_config.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace pouch {

float lr_at(const OptimConfig& cfg, std::int64_t step, std::int64_t total_steps) {
  if (cfg.warmup_steps > 0 && step < cfg.warmup_steps)
    return cfg.lr * static_cast<float>(step + 1) / static_cast<float>(cfg.warmup_steps);
  if (cfg.schedule == LrSchedule::Constant) return cfg.lr;
  std::int64_t decay_steps = std::max<std::int64_t>(1, total_steps - cfg.warmup_steps - 1);
  double progress =
      std::clamp(static_cast<double>(step - cfg.warmup_steps) / static_cast<double>(decay_steps), 0.0, 1.0);
  double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  double min_lr = cfg.lr * cfg.min_lr_ratio;
  return static_cast<float>(min_lr + coeff * (cfg.lr - min_lr));
}

}  // namespace pouch
