#include "runtime/loss_scaler.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

LossScaler::LossScaler(const LossScalerConfig& cfg) : cfg_(cfg) {
  if (!(cfg.min_scale > 0.0) || !(cfg.max_scale >= cfg.min_scale) || !std::isfinite(cfg.max_scale))
    fail("loss scaler: need 0 < min_scale ({}) <= max_scale ({}) < inf", cfg.min_scale, cfg.max_scale);
  if (!(cfg.init_scale >= cfg.min_scale && cfg.init_scale <= cfg.max_scale))
    fail("loss scaler: init_scale {} is outside [min_scale {}, max_scale {}]", cfg.init_scale, cfg.min_scale,
         cfg.max_scale);
  if (!(cfg.growth_factor >= 1.0)) fail("loss scaler: growth_factor {} must be >= 1", cfg.growth_factor);
  if (!(cfg.backoff_factor > 0.0 && cfg.backoff_factor < 1.0))
    fail("loss scaler: backoff_factor {} must be in (0, 1)", cfg.backoff_factor);
  if (cfg.growth_interval < 1) fail("loss scaler: growth_interval {} must be >= 1", cfg.growth_interval);
  state_.scale = cfg.init_scale;
}

bool LossScaler::update(bool found_overflow) {
  if (found_overflow) {
    ++state_.skipped_steps;
    state_.good_steps = 0;
    if (cfg_.dynamic) state_.scale = std::max(state_.scale * cfg_.backoff_factor, cfg_.min_scale);
    return false;
  }
  if (!cfg_.dynamic) return true;
  if (++state_.good_steps >= cfg_.growth_interval) {
    state_.scale = std::min(state_.scale * cfg_.growth_factor, cfg_.max_scale);
    state_.good_steps = 0;
  }
  return true;
}

void LossScaler::set_state(const LossScalerState& state) {
  if (!(state.scale > 0.0) || !std::isfinite(state.scale) || state.good_steps < 0 || state.skipped_steps < 0)
    fail("loss scaler: cannot restore scale {} good_steps {} skipped_steps {} (checkpoint damaged?)", state.scale,
         state.good_steps, state.skipped_steps);
  state_ = state;
}

}  // namespace pouch
