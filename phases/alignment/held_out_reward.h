#pragma once
// The reward of a policy on FIXED held-out prompts: what "the total reward
// rises" means for an alignment phase. A step's own reward is a poor measure
// of progress: its prompts change every step (and with them the mix of easy
// and hard levels), so its trend follows the prompt mix as much as the policy.
// Here every evaluation uses the same prompts (held-out problems of the
// phase's prompt levels, which training never draws) and the same sampling
// streams, so the difference between two evaluations is the policy's alone.
//
// Prompt k is held-out problem k / L of level min_level + k % L (L levels);
// its samples_per_prompt completions draw from RngStream(seed,
// derive_stream("align.eval_rollout", k * G + j)). Prompts are split over the
// data-parallel ranks (k % dp == dp_rank) and the sums added over them.
#include <cstdint>
#include <string>
#include <vector>

#include "data/char_tokenizer.h"
#include "model/gpt.h"
#include "phases/alignment/reward_scorer.h"
#include "phases/alignment/rollout.h"
#include "phases/schedule/train_ranks.h"

namespace pouch {

struct HeldOutReward {
  std::int64_t prompts = 0;        // over all ranks
  double total = 0.0;              // mean weighted reward over every sample
  std::vector<std::string> names;  // (D,) the reward's dimensions
  std::vector<double> dimensions;  // (D,) mean score of each
};

// `options` gives the sampling (temperature, top-p, samples per prompt,
// max_new_tokens, seed); its stream label is replaced by the evaluation's.
// `prompts` <= 0 evaluates nothing (prompts = 0 in the result).
HeldOutReward evaluate_held_out_reward(GPT& model, const CharTokenizer& tok, const WeightedReward& reward,
                                       RolloutOptions options, int min_level, int max_level, std::int64_t prompts,
                                       const TrainRanks& ranks);

}  // namespace pouch
