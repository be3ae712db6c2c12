#pragma once
// The math of GRPO (Shao et al. 2024, "DeepSeekMath", section 4.1): no value
// model; the baseline of a sample is its group (the G samples of one prompt).
//
// Layout: like ppo_math.h, per-token spans hold the action tokens of S
// samples back to back; offsets (S+1,) gives sample i the tokens
// [offsets[i], offsets[i+1]), each sample at least one token.
//
// Normalisation (GRPO): the loss is the mean over samples of each sample's
// token mean,
//   L = (1/S_total) sum_i (1/|o_i|) sum_t [ -min(ratio A_i, clip(ratio) A_i) + beta k3_t ]
// where S_total = sample_count is the number of samples over every
// micro-batch and rank of the step (groups are whole in a call or not, it
// does not matter: each sample's term is its own). A call returns its share
// and the share's gradient, so SUM over micro-batches and ranks gives L, dL.
#include <cstdint>
#include <span>

#include "phases/alignment/ppo_math.h"

namespace pouch {

// Group-normalised advantages of ONE group (G,):
//   A_i = (r_i - mean(r)) / (std(r) + eps)
// with the sample standard deviation (Bessel's G-1, as torch.std and TRL's
// GRPO); a group of one has advantage 0. Ties make A_i = 0 exactly (a group
// that all got the same reward teaches nothing). eps = 1e-4 as TRL.
void grpo_advantages(std::span<const double> rewards, std::span<double> advantages, double eps = 1e-4);

struct GrpoLossResult {
  double loss = 0.0;         // this call's share of L
  std::int64_t samples = 0;  // S of this call
  std::int64_t tokens = 0;   // tokens of this call
  std::int64_t clipped = 0;  // tokens whose clipped surrogate is the smaller one
  double kl_sum = 0.0;       // sum over tokens of k3 (pi vs pi_ref)

  double clip_fraction() const { return tokens ? static_cast<double>(clipped) / static_cast<double>(tokens) : 0.0; }
  double mean_kl() const { return tokens ? kl_sum / static_cast<double>(tokens) : 0.0; }
};

// The loss above with advantages (S,) broadcast to every token of sample i.
// Per token, with w_i = 1 / (sample_count |o_i|):
//   grad_logprobs[t] = w_i (dsurrogate_t/dlp_t + beta dk3_t/dlp_t)
//   dsurrogate/dlp = -A_i ratio_t, or 0 where the clipped term is strictly smaller
//   dk3/dlp = 1 - exp(lp_ref - lp)
// (estimator K1 replaces k3 by k1 = lp - lp_ref, whose derivative is 1).
GrpoLossResult grpo_loss(std::span<const float> logprobs, std::span<const float> old_logprobs,
                         std::span<const float> ref_logprobs, std::span<const std::int64_t> offsets,
                         std::span<const double> advantages, double clip_eps, double beta, double sample_count,
                         std::span<float> grad_logprobs, KlEstimator estimator = KlEstimator::K3);

}  // namespace pouch
