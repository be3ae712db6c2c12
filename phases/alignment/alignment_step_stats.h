#pragma once
// What one alignment step sums over its rollouts and updates: this rank's
// sums, then (sum_over_dp) the whole step's, in one all-reduce of one packed
// vector. Every field is a sum; the metrics divide by the counts.
//
// Packed layout (doubles): reward_dims[0..D), then the scalar fields in
// kAlignmentStepScalars order. The static_assert below fails when a scalar
// field is added without being listed, so no field escapes the reduction.
#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "phases/schedule/train_ranks.h"
#include "runtime/backend.h"

namespace pouch {

struct AlignmentStepStats {
  std::vector<double> reward_dims;  // per reward dimension, WeightedReward order
  // Rollouts (per completion).
  double reward = 0.0;  // the weighted total
  double response_tokens = 0.0;
  double truncated = 0.0;    // cut at max_new_tokens
  double well_formed = 0.0;  // parses as a sample (coherence > 0)
  // Updates (summed over epochs x minibatches; the losses are global means).
  double policy_loss = 0.0;    // with the KL term when it is in the loss
  double value_loss = 0.0;     // ppo
  double clipped = 0.0;        // tokens whose policy ratio was clipped
  double value_clipped = 0.0;  // ppo: tokens whose value was clipped
  double approx_kl = 0.0;      // sum over tokens of k3(pi_old, pi)
  double update_tokens = 0.0;  // action tokens seen by the updates
  double loss_kl = 0.0;        // the KL term's share of policy_loss
  // The rollout policy vs the reference, per action token.
  double kl_k3 = 0.0;
  double kl_k1 = 0.0;
  double entropy = 0.0;
  double action_tokens = 0.0;
  double kl_after = 0.0;  // k3 after the step's updates (kl_ceiling > 0)
};

inline constexpr std::array kAlignmentStepScalars = {
    &AlignmentStepStats::reward,        &AlignmentStepStats::response_tokens, &AlignmentStepStats::truncated,
    &AlignmentStepStats::well_formed,   &AlignmentStepStats::policy_loss,     &AlignmentStepStats::value_loss,
    &AlignmentStepStats::clipped,       &AlignmentStepStats::value_clipped,   &AlignmentStepStats::approx_kl,
    &AlignmentStepStats::update_tokens, &AlignmentStepStats::loss_kl,         &AlignmentStepStats::kl_k3,
    &AlignmentStepStats::kl_k1,         &AlignmentStepStats::entropy,         &AlignmentStepStats::action_tokens,
    &AlignmentStepStats::kl_after};
static_assert(sizeof(AlignmentStepStats) == sizeof(std::vector<double>) + kAlignmentStepScalars.size() * sizeof(double),
              "a scalar field of AlignmentStepStats is missing from kAlignmentStepScalars: it would not be reduced");

std::vector<double> pack_step_stats(const AlignmentStepStats& s);
// The inverse of pack_step_stats: `values` holds `dims` reward dimensions
// and then every scalar field.
AlignmentStepStats unpack_step_stats(std::span<const double> values, std::size_t dims);

// Sums every field over the data-parallel group in place: one all-reduce.
void sum_over_dp(const TrainRanks& ranks, Backend& be, AlignmentStepStats& stats);

}  // namespace pouch
