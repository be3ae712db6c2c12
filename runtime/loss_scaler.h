#pragma once
// Dynamic loss scaling for fp16 training (Micikevicius et al. 2018, "Mixed
// Precision Training"; the rule of PyTorch's torch.cuda.amp.GradScaler and
// Megatron's DynamicGradScaler).
//
// fp16 gradients underflow: anything below 2^-24 becomes 0, and the backward
// pass of a language model produces many such values. The loss is therefore
// multiplied by `scale` before backward, every gradient comes out `scale`
// times larger (shifted into fp16's range), and the optimizer sees
// grad * (1/scale). Too large a scale overflows to inf; then the step is
// skipped and the scale backs off. After `growth_interval` good steps in a
// row the scale grows again, so it hovers near the largest safe value.
//
// bf16 needs no loss scaling: it has fp32's 8 exponent bits, hence the same
// range (down to ~1e-38 normal), and gradients do not underflow. Callers use
// a static scale of 1 for bf16 (and fp32): LossScalerConfig{.init_scale = 1,
// .dynamic = false}.
//
// The scaler is pure bookkeeping, identical on every rank: the caller
// all-reduces the overflow flag (logical OR) before update(), so all ranks
// skip or apply the same steps and keep the same scale.
#include <cstdint>

namespace pouch {

struct LossScalerConfig {
  double init_scale = 65536.0;  // 2^16, GradScaler's default
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;  // consecutive good steps before growing
  double min_scale = 1.0;
  double max_scale = 16777216.0;  // 2^24
  bool dynamic = true;            // false: the scale stays init_scale forever
};

struct LossScalerState {
  double scale = 1.0;
  std::int64_t good_steps = 0;     // consecutive steps without overflow since the last change
  std::int64_t skipped_steps = 0;  // total steps skipped for overflow
};

class LossScaler {
 public:
  // Fails (pouch::Error) on a config that cannot work: scale outside
  // [min_scale, max_scale], growth_factor < 1, backoff_factor outside (0, 1),
  // growth_interval < 1.
  explicit LossScaler(const LossScalerConfig& cfg = {});

  // The factor to multiply the loss by (its gradient seed) this step.
  double scale() const { return state_.scale; }
  float inv_scale() const { return static_cast<float>(1.0 / state_.scale); }

  // Records one step's outcome; returns whether the optimizer step is applied
  // (false: skip it, the gradients hold inf/NaN).
  //   overflow: scale = max(scale * backoff, min_scale), good_steps = 0,
  //             skipped_steps += 1, return false.
  //   else:     good_steps += 1; when it reaches growth_interval,
  //             scale = min(scale * growth, max_scale) and good_steps = 0.
  // With dynamic = false the scale never changes, but an overflow still
  // skips the step (and counts it).
  bool update(bool found_overflow);

  // For checkpoints: save and restore.
  const LossScalerState& state() const { return state_; }
  void set_state(const LossScalerState& state);
  const LossScalerConfig& config() const { return cfg_; }

 private:
  LossScalerConfig cfg_;
  LossScalerState state_;
};

}  // namespace pouch
