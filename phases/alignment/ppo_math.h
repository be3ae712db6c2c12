#pragma once
// The math of PPO alignment, per token, as pure functions over spans (the
// phase loop owns the model, the buffers and the collectives).
//
// Layout: a response of n tokens has n action tokens; per-token spans hold
// the action tokens of one or more responses back to back (no padding, no
// mask). Log-probabilities, values, rewards and advantages are float (what
// the model gives); every function computes in double and rounds once.
//
// Normalisation (PPO): a loss is the TOKEN MEAN over the optimizer step's
// whole batch, L = (1/N) sum_t l_t, where N = token_count is the number of
// action tokens over every micro-batch and every data-parallel rank of the
// step. A call sees a part of the batch and returns its share (1/N) sum_{t in
// part} l_t and d(share)/d(input)_t = (1/N) dl_t/d(input)_t, so summing over
// micro-batches (gradient accumulation) and ranks (the reducer's SUM) gives
// exactly L and dL. For the whole batch in one call, token_count = size.
//
// References: GAE (Schulman et al. 2016, "High-dimensional continuous
// control using generalized advantage estimation"), PPO's clipped objective
// (Schulman et al. 2017), KL estimators (Schulman 2020, "Approximating KL
// divergence"), adaptive KL control (Ziegler et al. 2019, "Fine-tuning
// language models from human preferences").
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string_view>

namespace pouch {

// ---- KL estimators of KL(pi || pi_ref) at a token sampled from pi ----------
// lp = log pi(token), lp_ref = log pi_ref(token).

// k1 = lp - lp_ref: unbiased, high variance, can be negative. The per-token
// reward penalty is -beta * k1.
inline double kl_k1(double lp, double lp_ref) { return lp - lp_ref; }

// k3 = exp(x) - x - 1 with x = lp_ref - lp: unbiased, >= 0, low variance; the
// GRPO loss term. expm1 keeps it accurate when x is tiny.
inline double kl_k3(double lp, double lp_ref) {
  const double x = lp_ref - lp;
  return std::expm1(x) - x;
}

// dk3/dlp = 1 - exp(lp_ref - lp).
inline double kl_k3_grad(double lp, double lp_ref) { return -std::expm1(lp_ref - lp); }

// Which estimator a penalty uses (config: kl_estimator). Defaults: k1 in
// PPO's reward, k3 in GRPO's loss.
enum class KlEstimator { K1, K3 };

// "k1" | "k3"; pouch::Error naming `config_key` otherwise.
KlEstimator parse_kl_estimator(std::string_view text, std::string_view config_key);

inline double kl_estimate(KlEstimator est, double lp, double lp_ref) {
  return est == KlEstimator::K1 ? kl_k1(lp, lp_ref) : kl_k3(lp, lp_ref);
}
// d(estimate)/dlp: 1 for k1, 1 - exp(lp_ref - lp) for k3.
inline double kl_estimate_grad(KlEstimator est, double lp, double lp_ref) {
  return est == KlEstimator::K1 ? 1.0 : kl_k3_grad(lp, lp_ref);
}

// ---- rewards and advantages -------------------------------------------------

// Per-token rewards of ONE response (n,): rewards[t] = -beta * k_t (k1 by
// default), plus sequence_reward on the last token (InstructGPT's KL-shaped
// reward).
void kl_shaped_rewards(std::span<const float> logprobs, std::span<const float> ref_logprobs, double beta,
                       double sequence_reward, std::span<float> rewards, KlEstimator estimator = KlEstimator::K1);

struct GaeParams {
  double gamma = 1.0;    // discount
  double lambda = 0.95;  // GAE's bias-variance trade-off
};

// GAE over ONE response (n,), terminal bootstrap 0 (V_n = 0, A_n = 0):
//   delta_t = r_t + gamma V_{t+1} - V_t
//   A_t     = delta_t + gamma lambda A_{t+1}
//   R_t     = A_t + V_t                       (the value target)
// advantages and returns may not alias the inputs.
void compute_gae(std::span<const float> rewards, std::span<const float> values, const GaeParams& params,
                 std::span<float> advantages, std::span<float> returns);

// First and second moments of a batch, to whiten with GLOBAL statistics:
// each data-parallel rank adds its advantages, the ranks all-reduce (SUM) the
// three doubles of packed() and rebuild with unpacked(), then every rank whitens
// its own part with the same mean and variance.
struct Moments {
  double sum = 0.0;
  double sum_sq = 0.0;
  double count = 0.0;  // a double so all three reduce in one buffer

  void add(std::span<const float> x);
  Moments& operator+=(const Moments& other);
  double mean() const;      // sum / count
  double variance() const;  // population variance sum_sq / count - mean^2 (clamped at 0)

  std::array<double, 3> packed() const { return {sum, sum_sq, count}; }
  static Moments unpacked(const std::array<double, 3>& p) { return {p[0], p[1], p[2]}; }
};

// x <- (x - mean) / sqrt(variance + eps) with `global`'s moments
// (POUCH_CHECK that count > 0).
void whiten(std::span<float> x, const Moments& global, double eps = 1e-8);

// ---- losses -----------------------------------------------------------------

// Sums over the tokens of one call, so ranks can all-reduce them.
struct PolicyLossResult {
  double loss = 0.0;           // (1/N) sum_t l_t over this call's tokens
  std::int64_t tokens = 0;     // this call's tokens
  std::int64_t clipped = 0;    // tokens whose clipped term is the smaller one (gradient 0)
  double approx_kl_sum = 0.0;  // sum_t (ratio_t - 1) - log ratio_t: k3 of pi_old vs pi at samples of pi_old

  double clip_fraction() const { return tokens ? static_cast<double>(clipped) / static_cast<double>(tokens) : 0.0; }
  double approx_kl() const { return tokens ? approx_kl_sum / static_cast<double>(tokens) : 0.0; }
};

// PPO's clipped surrogate, per token:
//   ratio_t = exp(lp_t - lp_old_t)
//   l_t     = -min(ratio_t A_t, clip(ratio_t, 1 - eps, 1 + eps) A_t)
//   dl_t/dlp_t = -A_t ratio_t, or 0 where the clipped term is strictly smaller
//   (the ratio left the trust region in the direction A favours).
// grad_logprobs[t] = (1/N) dl_t/dlp_t with N = token_count (see the top).
PolicyLossResult clipped_policy_loss(std::span<const float> logprobs, std::span<const float> old_logprobs,
                                     std::span<const float> advantages, double clip_eps, double token_count,
                                     std::span<float> grad_logprobs);

struct ValueLossResult {
  double loss = 0.0;  // (1/N) sum_t l_t over this call's tokens
  std::int64_t tokens = 0;
  std::int64_t clipped = 0;  // tokens whose clipped error is the larger one

  double clip_fraction() const { return tokens ? static_cast<double>(clipped) / static_cast<double>(tokens) : 0.0; }
};

// Clipped value loss (PPO2 / InstructGPT), per token:
//   V_clip = V_old + clip(V - V_old, -eps_v, eps_v)
//   l_t    = 0.5 max((V - R)^2, (V_clip - R)^2)
//   dl_t/dV = V - R when the unclipped error is at least as large, else
//             V_clip - R inside the clip range and 0 outside it.
// grad_values[t] = (1/N) dl_t/dV_t with N = token_count.
ValueLossResult clipped_value_loss(std::span<const float> values, std::span<const float> old_values,
                                   std::span<const float> returns, double clip_eps_v, double token_count,
                                   std::span<float> grad_values);

// ---- KL coefficient control -------------------------------------------------

// beta of the KL penalty: fixed, or adapted towards a target KL (Ziegler et
// al. 2019): after a step whose samples (n of them) showed mean KL `kl`,
//   beta <- beta (1 + clip(kl / target - 1, -0.2, 0.2) n / horizon).
// The state is beta alone: checkpoint beta() and restore() it on resume.
class KlController {
 public:
  // pouch::Error unless beta is finite and >= 0.
  static KlController fixed(double beta);
  // pouch::Error unless beta >= 0, target > 0 and horizon > 0 (all finite).
  static KlController adaptive(double initial_beta, double target_kl, double horizon);

  double beta() const { return beta_; }
  bool is_adaptive() const { return adaptive_; }
  // No-op for a fixed controller.
  void update(double observed_kl, std::int64_t n_samples);
  void restore(double beta);  // POUCH_CHECK finite and >= 0

 private:
  KlController() = default;
  double beta_ = 0.0;
  double target_ = 0.0;
  double horizon_ = 0.0;
  bool adaptive_ = false;
};

}  // namespace pouch
