#include "phases/alignment/grpo_math.h"

#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

void grpo_advantages(std::span<const double> rewards, std::span<double> advantages, double eps) {
  const std::size_t G = rewards.size();
  POUCH_CHECK(advantages.size() == G && eps > 0);
  if (G < 2) {
    std::fill(advantages.begin(), advantages.end(), 0.0);
    return;
  }
  double mean = 0.0;
  for (double r : rewards) mean += r;
  mean /= static_cast<double>(G);
  double ss = 0.0;
  for (double r : rewards) ss += (r - mean) * (r - mean);
  const double std = std::sqrt(ss / static_cast<double>(G - 1));
  // Equal rewards: r_i - mean is exactly 0 only if the mean is exact, which
  // summing G equal doubles need not give; force the documented 0.
  const bool tied = std::all_of(rewards.begin(), rewards.end(), [&](double r) { return r == rewards[0]; });
  for (std::size_t i = 0; i < G; ++i) advantages[i] = tied ? 0.0 : (rewards[i] - mean) / (std + eps);
}

GrpoLossResult grpo_loss(std::span<const float> logprobs, std::span<const float> old_logprobs,
                         std::span<const float> ref_logprobs, std::span<const std::int64_t> offsets,
                         std::span<const double> advantages, double clip_eps, double beta, double sample_count,
                         std::span<float> grad_logprobs, KlEstimator estimator) {
  const std::size_t n = logprobs.size();
  POUCH_CHECK(old_logprobs.size() == n && ref_logprobs.size() == n && grad_logprobs.size() == n);
  POUCH_CHECK(!offsets.empty() && advantages.size() + 1 == offsets.size());
  POUCH_CHECK(offsets.front() == 0 && static_cast<std::size_t>(offsets.back()) == n, "offsets must span the tokens");
  POUCH_CHECK(sample_count > 0 && clip_eps >= 0 && beta >= 0);
  GrpoLossResult out;
  out.samples = static_cast<std::int64_t>(advantages.size());
  out.tokens = static_cast<std::int64_t>(n);
  for (std::size_t i = 0; i < advantages.size(); ++i) {
    const auto begin = static_cast<std::size_t>(offsets[i]), end = static_cast<std::size_t>(offsets[i + 1]);
    POUCH_CHECK(begin < end, "GRPO sample {} has no tokens", i);
    const double w = 1.0 / (sample_count * static_cast<double>(end - begin));
    const double adv = advantages[i];
    double sample_sum = 0.0;
    for (std::size_t t = begin; t < end; ++t) {
      const double lp = logprobs[t];
      const double ratio = std::exp(lp - old_logprobs[t]);
      const double unclipped = ratio * adv;
      const double clipped = std::clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * adv;
      double grad = 0.0;
      if (clipped < unclipped) {  // see clipped_policy_loss: the clamp's derivative is 0 there
        sample_sum -= clipped;
        ++out.clipped;
      } else {
        sample_sum -= unclipped;
        grad = -unclipped;
      }
      const double kl = kl_estimate(estimator, lp, ref_logprobs[t]);
      sample_sum += beta * kl;
      out.kl_sum += kl;
      grad += beta * kl_estimate_grad(estimator, lp, ref_logprobs[t]);
      grad_logprobs[t] = static_cast<float>(w * grad);
    }
    out.loss += w * sample_sum;
  }
  return out;
}

}  // namespace pouch
