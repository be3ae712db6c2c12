#include "phases/alignment/held_out_reward.h"

#include <algorithm>

#include "data/reasoning_task.h"
#include "phases/common/evaluation.h"

namespace pouch {

HeldOutReward evaluate_held_out_reward(GPT& model, const CharTokenizer& tok, const WeightedReward& reward,
                                       RolloutOptions options, int min_level, int max_level, std::int64_t prompts,
                                       const TrainRanks& ranks) {
  HeldOutReward out;
  const std::size_t D = reward.size();
  for (std::size_t d = 0; d < D; ++d) out.names.emplace_back(reward.name(d));
  out.dimensions.assign(D, 0.0);
  if (prompts <= 0) return out;
  const int L = max_level - min_level + 1;
  const std::int64_t per_level = (prompts + L - 1) / L;
  std::vector<std::vector<HeldOutProblem>> problems;
  for (int level = min_level; level <= max_level; ++level)
    problems.push_back(held_out_problems(level, per_level, options.seed));

  // This rank's prompts; index = k, so that the sampling stream of a prompt
  // does not depend on the data-parallel split.
  std::vector<RolloutPrompt> mine;
  std::int64_t counted = 0;
  for (std::int64_t k = 0; k < prompts; ++k) {
    const auto& pool = problems[static_cast<std::size_t>(k % L)];
    const auto i = static_cast<std::size_t>(k / L);
    if (i >= pool.size()) continue;  // a level with fewer held-out problems (level 1)
    ++counted;
    if (k % ranks.dp_size() != ranks.dp_rank()) continue;
    RolloutPrompt p;
    p.index = k;
    p.text = pool[i].prompt;
    p.answer = pool[i].answer;
    p.tokens = tok.encode(p.text);
    mine.push_back(std::move(p));
  }
  options.stream = "align.eval_rollout";
  const std::vector<RolloutSample> samples = generate_rollouts(model, tok, mine, options);
  const auto G = static_cast<std::size_t>(options.samples_per_prompt);
  std::vector<double> sums(D + 2, 0.0);  // dimensions..., total, samples
  std::vector<Completion> group(G);
  for (std::size_t i = 0; i < mine.size(); ++i) {
    for (std::size_t j = 0; j < G; ++j) group[j] = samples[i * G + j].completion;
    const RewardBreakdown rb = reward.score(group);
    for (std::size_t j = 0; j < G; ++j) {
      sums[D] += rb.total[j];
      for (std::size_t d = 0; d < D; ++d) sums[d] += rb.values[d * G + j];
    }
    sums[D + 1] += static_cast<double>(G);
  }
  sum_over_dp(ranks, model.backend(), sums);
  const double n = std::max(sums[D + 1], 1.0);
  out.prompts = counted;
  out.total = sums[D] / n;
  for (std::size_t d = 0; d < D; ++d) out.dimensions[d] = sums[d] / n;
  return out;
}

}  // namespace pouch
