#pragma once
// The reward of alignment (PPO, GRPO): scorers that each judge one dimension
// of a completion in [0, 1], combined by a weighted mean.
//
// A scorer sees a GROUP: the samples drawn for ONE prompt (GRPO's group; for
// PPO the samples of one prompt in the batch), because some dimensions
// (diversity) only exist across samples. The built-in task's five scorers are
// in phases/alignment/task_reward_scorers.h; users add their own through
// WeightedReward::add.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pouch {

struct Completion {
  std::string prompt;       // e.g. "Q: 37+58="
  std::string text;         // the generated continuation, without the prompt (may end in the end token's text)
  std::int64_t tokens = 0;  // length of `text` in tokens
  bool truncated = false;   // hit the token limit before the end token
  // The built-in task: the question's value. Scorers that need it require it.
  std::optional<std::int64_t> expected_answer;
};

class RewardScorer {
 public:
  virtual ~RewardScorer();
  // The dimension's name: a config key in reward weights and a metrics column.
  virtual std::string_view name() const = 0;
  // out[i] in [0, 1] is the score of group[i]; out.size() == group.size().
  virtual void score(std::span<const Completion> group, std::span<double> out) const = 0;
};

// The scores of one group, per dimension and in total.
struct RewardBreakdown {
  std::int64_t samples = 0;        // G
  std::vector<std::string> names;  // (D,) dimension names, in the order they were added
  std::vector<double> weights;     // (D,) normalised: they sum to 1
  std::vector<double> values;      // (D, G) row-major: values[d * G + i] = scorer d on sample i
  std::vector<double> total;       // (G,) total[i] = sum_d weights[d] * values[d * G + i], in [0, 1]

  std::span<const double> dimension(std::size_t d) const;  // (G,) row d of values
};

// (scorer, weight) pairs in order. The total is the weighted MEAN
//   total_i = sum_d w_d s_d(i) / sum_d w_d
// so weights are relative and the total stays in [0, 1] whatever they sum to.
class WeightedReward {
 public:
  // Appends a dimension. `weight` must be finite and >= 0 and the name must be
  // new; pouch::Error otherwise.
  void add(std::unique_ptr<RewardScorer> scorer, double weight);

  // Replaces every weight: a listed dimension gets its value, an unlisted one
  // gets 0 (so "accuracy=1" rewards accuracy alone). A name that is no
  // dimension, a negative or non-finite weight, or all weights zero is a
  // pouch::Error naming `config_key` (e.g. "phase.2.reward_weights").
  void set_weights(const std::vector<std::pair<std::string, double>>& weights, std::string_view config_key);

  // Scores one group (the samples of one prompt). pouch::Error naming the
  // scorer when one returns a score outside [0, 1] or NaN. Throws when no
  // dimension has a positive weight.
  RewardBreakdown score(std::span<const Completion> group) const;

  std::size_t size() const { return entries_.size(); }
  std::string_view name(std::size_t d) const { return entries_[d].scorer->name(); }
  double weight(std::size_t d) const { return entries_[d].weight; }  // as given, not normalised

 private:
  struct Entry {
    std::unique_ptr<RewardScorer> scorer;
    double weight = 0.0;
  };
  std::vector<Entry> entries_;
};

// "accuracy=0.3,coherence=0.25" -> {("accuracy", 0.3), ("coherence", 0.25)}.
// Items are separated by ',' or ';', whitespace around names and numbers is
// ignored. A missing '=', an empty name, a value that is not a number, a
// negative or non-finite value, or a repeated name is a pouch::Error naming
// `config_key` and the item. (Whether the names exist and not all are zero
// is WeightedReward::set_weights' check.)
std::vector<std::pair<std::string, double>> parse_reward_weights(std::string_view text, std::string_view config_key);

// "kill; Bomb ,hate" -> {"kill", "Bomb", "hate"}: split on ';' or ',', trimmed,
// empty items dropped.
std::vector<std::string> parse_lexicon(std::string_view text);

}  // namespace pouch
