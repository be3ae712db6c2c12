#include "phases/alignment/ppo_math.h"

#include <algorithm>

#include "runtime/error.h"

namespace pouch {

KlEstimator parse_kl_estimator(std::string_view text, std::string_view config_key) {
  if (text == "k1") return KlEstimator::K1;
  if (text == "k3") return KlEstimator::K3;
  fail("{} = '{}': the KL estimator is k1 (lp - lp_ref) or k3 (exp(lp_ref - lp) - (lp_ref - lp) - 1)", config_key,
       text);
}

void kl_shaped_rewards(std::span<const float> logprobs, std::span<const float> ref_logprobs, double beta,
                       double sequence_reward, std::span<float> rewards, KlEstimator estimator) {
  const std::size_t n = logprobs.size();
  POUCH_CHECK(n > 0 && ref_logprobs.size() == n && rewards.size() == n);
  for (std::size_t t = 0; t < n; ++t) {
    double r = -beta * kl_estimate(estimator, logprobs[t], ref_logprobs[t]);
    if (t + 1 == n) r += sequence_reward;
    rewards[t] = static_cast<float>(r);
  }
}

void compute_gae(std::span<const float> rewards, std::span<const float> values, const GaeParams& params,
                 std::span<float> advantages, std::span<float> returns) {
  const std::size_t n = rewards.size();
  POUCH_CHECK(values.size() == n && advantages.size() == n && returns.size() == n);
  // Backwards from the end; next_value and next_adv are V_{t+1} and A_{t+1} (0 past the end).
  double next_value = 0.0, next_adv = 0.0;
  for (std::size_t k = n; k-- > 0;) {
    const double v = values[k];
    const double delta = rewards[k] + params.gamma * next_value - v;
    const double adv = delta + params.gamma * params.lambda * next_adv;
    advantages[k] = static_cast<float>(adv);
    returns[k] = static_cast<float>(adv + v);
    next_value = v;
    next_adv = adv;
  }
}

void Moments::add(std::span<const float> x) {
  for (float v : x) {
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  count += static_cast<double>(x.size());
}

Moments& Moments::operator+=(const Moments& other) {
  sum += other.sum;
  sum_sq += other.sum_sq;
  count += other.count;
  return *this;
}

double Moments::mean() const {
  POUCH_CHECK(count > 0, "moments of an empty batch");
  return sum / count;
}

double Moments::variance() const {
  const double m = mean();
  // One-pass formula: fine in double for advantages of order 1; clamp the
  // rounding that can push a constant batch's variance below 0.
  return std::max(0.0, sum_sq / count - m * m);
}

void whiten(std::span<float> x, const Moments& global, double eps) {
  const double mean = global.mean();
  const double inv_std = 1.0 / std::sqrt(global.variance() + eps);
  for (float& v : x) v = static_cast<float>((v - mean) * inv_std);
}

PolicyLossResult clipped_policy_loss(std::span<const float> logprobs, std::span<const float> old_logprobs,
                                     std::span<const float> advantages, double clip_eps, double token_count,
                                     std::span<float> grad_logprobs) {
  const std::size_t n = logprobs.size();
  POUCH_CHECK(old_logprobs.size() == n && advantages.size() == n && grad_logprobs.size() == n);
  POUCH_CHECK(token_count > 0 && clip_eps >= 0);
  const double scale = 1.0 / token_count;
  PolicyLossResult out;
  out.tokens = static_cast<std::int64_t>(n);
  double loss_sum = 0.0;
  for (std::size_t t = 0; t < n; ++t) {
    const double log_ratio = static_cast<double>(logprobs[t]) - old_logprobs[t];
    const double ratio = std::exp(log_ratio);
    const double adv = advantages[t];
    const double unclipped = ratio * adv;
    const double clipped = std::clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv;
    // min(unclipped, clipped): when the clipped term is strictly smaller, the
    // ratio is outside the range (inside, the two are equal) and the clamp's
    // derivative, hence the token's gradient, is 0.
    double grad = 0.0;
    if (clipped < unclipped) {
      loss_sum -= clipped;
      ++out.clipped;
    } else {
      loss_sum -= unclipped;
      grad = -unclipped;  // d(-ratio A)/dlp = -A ratio
    }
    grad_logprobs[t] = static_cast<float>(grad * scale);
    out.approx_kl_sum += std::expm1(log_ratio) - log_ratio;
  }
  out.loss = loss_sum * scale;
  return out;
}

ValueLossResult clipped_value_loss(std::span<const float> values, std::span<const float> old_values,
                                   std::span<const float> returns, double clip_eps_v, double token_count,
                                   std::span<float> grad_values) {
  const std::size_t n = values.size();
  POUCH_CHECK(old_values.size() == n && returns.size() == n && grad_values.size() == n);
  POUCH_CHECK(token_count > 0 && clip_eps_v >= 0);
  const double scale = 1.0 / token_count;
  ValueLossResult out;
  out.tokens = static_cast<std::int64_t>(n);
  double loss_sum = 0.0;
  for (std::size_t t = 0; t < n; ++t) {
    const double v = values[t], v_old = old_values[t], ret = returns[t];
    const double step = v - v_old;
    const double v_clip = v_old + std::clamp(step, -clip_eps_v, clip_eps_v);
    const double err = v - ret, err_clip = v_clip - ret;
    double grad;
    if (err_clip * err_clip > err * err) {
      loss_sum += 0.5 * err_clip * err_clip;
      // dV_clip/dV is 1 inside the clip range, 0 outside.
      grad = std::fabs(step) <= clip_eps_v ? err_clip : 0.0;
      ++out.clipped;
    } else {
      loss_sum += 0.5 * err * err;
      grad = err;
    }
    grad_values[t] = static_cast<float>(grad * scale);
  }
  out.loss = loss_sum * scale;
  return out;
}

KlController KlController::fixed(double beta) {
  if (!std::isfinite(beta) || beta < 0) fail("KL coefficient (kl_coef) is {}; it must be finite and >= 0", beta);
  KlController c;
  c.beta_ = beta;
  return c;
}

KlController KlController::adaptive(double initial_beta, double target_kl, double horizon) {
  KlController c = fixed(initial_beta);
  if (!std::isfinite(target_kl) || target_kl <= 0)
    fail("adaptive KL target (kl_target) is {}; it must be > 0 (or use a fixed KL coefficient)", target_kl);
  if (!std::isfinite(horizon) || horizon <= 0) fail("adaptive KL horizon (kl_horizon) is {}; it must be > 0", horizon);
  c.target_ = target_kl;
  c.horizon_ = horizon;
  c.adaptive_ = true;
  return c;
}

void KlController::update(double observed_kl, std::int64_t n_samples) {
  if (!adaptive_) return;
  POUCH_CHECK(n_samples >= 0);
  if (!std::isfinite(observed_kl))
    fail("observed KL to the reference is {}: the policy diverged (lower the learning rate or raise kl_coef)",
         observed_kl);
  const double error = std::clamp(observed_kl / target_ - 1.0, -0.2, 0.2);
  beta_ *= 1.0 + error * static_cast<double>(n_samples) / horizon_;
}

void KlController::restore(double beta) {
  POUCH_CHECK(std::isfinite(beta) && beta >= 0, "restored KL coefficient {}", beta);
  beta_ = beta;
}

}  // namespace pouch
