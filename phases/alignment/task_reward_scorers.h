#pragma once
// The reward scorers of the built-in reasoning task (data/reasoning_task.h),
// each in [0, 1] per sample. Accuracy, coherence and diversity read the
// sample's line: up to the first '\n' (the end-of-sample token), as
// data/task_checker.h does; harmless reads the whole generated text.
//
//   accuracy    1 when the first <ans>NUMBER</ans> holds the expected answer, else 0.
//   coherence   0 when the line does not parse as a sample (task_checker.h),
//               else 0.5 + 0.25 * (true steps / steps) + 0.25 * [answer == the
//               answer the steps imply]. The steps imply an answer as the task
//               writes them (arith_problem.h): for the column forms (a+b, a-b,
//               a*b) the last step's result followed by the last digit of each
//               earlier step's result, most significant first
//               ("7+8=15; 3+5+1=9" -> 95); for every other expression
//               (level-5 forms, chained sums) the last step's result. So a sample that reasons true steps to the
//               answer it states scores 1 even when it copied the question
//               wrong, and one that states an answer its own steps
//               contradict loses the last quarter.
//   harmless    1 when no lexicon entry occurs in text (ASCII case-insensitive
//               substring), else 0. An empty lexicon scores 1.
//   diversity   per sample: the fraction of its character n-grams (occurrences)
//               that occur in NO other sample of the group; 1 for a group of
//               one, 0 for a sample shorter than n in a larger group. See
//               OutputDiversity for why per sample and why n = 3.
//   efficiency  1 when tokens <= budget, falling linearly to 0 at 2 * budget,
//               and 0 when truncated (no end token: the answer is unusable).
#include <cstdint>
#include <string>
#include <vector>

#include "phases/alignment/reward_scorer.h"

namespace pouch {

class FactualAccuracy final : public RewardScorer {
 public:
  std::string_view name() const override { return "accuracy"; }
  // Every completion needs expected_answer (POUCH_CHECK).
  void score(std::span<const Completion> group, std::span<double> out) const override;
};

class LogicalCoherence final : public RewardScorer {
 public:
  std::string_view name() const override { return "coherence"; }
  void score(std::span<const Completion> group, std::span<double> out) const override;
};

class HarmfulContent final : public RewardScorer {
 public:
  explicit HarmfulContent(std::vector<std::string> lexicon);
  std::string_view name() const override { return "harmless"; }
  void score(std::span<const Completion> group, std::span<double> out) const override;

 private:
  std::vector<std::string> lexicon_;  // lower-cased, non-empty
};

// Why per sample: distinct-n of the whole group (distinct n-grams / all
// n-grams; Li et al. 2016) is one number for the group, and a reward that is
// the same for every sample of a group cancels out of GRPO's group-normalised
// advantage. Scoring each sample by how much of it no other sample repeats
// keeps the signal (copying a sibling costs reward) and still equals 1 for
// all-different samples and 0 for identical ones; group_distinct_ngrams gives
// the group statistic for logging.
// Why n = 3 (characters): with the char tokenizer, 1- and 2-grams are mostly
// digits and format characters every sample shares, so diversity would be ~0
// for any pair of well-formed samples; 3-grams already tell "37+" from "38+"
// and "=15" from "=16", while longer n make two samples that differ in one
// digit look almost wholly different.
class OutputDiversity final : public RewardScorer {
 public:
  explicit OutputDiversity(int n = 3);  // n >= 1 (pouch::Error otherwise)
  std::string_view name() const override { return "diversity"; }
  void score(std::span<const Completion> group, std::span<double> out) const override;

 private:
  int n_;
};

// Distinct character n-grams over all texts of the group / all n-gram
// occurrences; 1 when the group has no n-gram at all.
double group_distinct_ngrams(std::span<const Completion> group, int n);

class ComputeEfficiency final : public RewardScorer {
 public:
  explicit ComputeEfficiency(std::int64_t token_budget);  // budget >= 1 (pouch::Error otherwise)
  std::string_view name() const override { return "efficiency"; }
  void score(std::span<const Completion> group, std::span<double> out) const override;

 private:
  std::int64_t budget_;
};

struct TaskRewardConfig {
  // Default weights; parse_reward_weights' format.
  std::string weights = "accuracy=0.3,coherence=0.25,harmless=0.2,diversity=0.15,efficiency=0.1";
  std::string lexicon;  // parse_lexicon's format; empty: nothing is banned
  int diversity_n = 3;
  // Clean completions of the task are at most ~60 characters (999*9:
  // " <think>9*9=81; 9*9+8=89; 9*9+8=89</think> <ans>8991</ans>\n" is 59),
  // so 64 tokens of the char tokenizer leave every clean answer at full score.
  std::int64_t token_budget = 64;
};

// The five scorers above in the order accuracy, coherence, harmless,
// diversity, efficiency, weighted by config.weights; errors name `config_key`.
WeightedReward make_task_reward(const TaskRewardConfig& config, std::string_view config_key);

}  // namespace pouch
