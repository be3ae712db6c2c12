#include "phases/alignment/task_reward_scorers.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "data/arith_problem.h"
#include "data/task_checker.h"
#include "runtime/error.h"

namespace pouch {

namespace {

// Up to the first '\n' (the end-of-sample token), as task_checker.h reads a sample.
std::string_view first_line(std::string_view s) { return s.substr(0, s.find('\n')); }

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The number right of a step's last '=' (parse_sample checked it is one).
std::int64_t step_result(std::string_view step) {
  const auto rhs = step.substr(step.rfind('=') + 1);
  std::int64_t v = 0;
  std::from_chars(rhs.data(), rhs.data() + rhs.size(), v);
  return v;
}

bool step_is_true(std::string_view step) {
  const auto lhs = evaluate_expression(step.substr(0, step.rfind('=')));
  return lhs && *lhs == step_result(step);
}

// The answer the steps lead to, read the way arith_problem.h writes them (see
// the header): column forms compose digits, the rest end in the result.
// nullopt when the composition overflows.
std::optional<std::int64_t> implied_answer(const ParsedSample& sample) {
  const auto problem = problem_from_expression(sample.expression);
  const bool column =
      problem && (problem->op == ArithOp::Add || problem->op == ArithOp::Sub || problem->op == ArithOp::Mul);
  const std::int64_t last = step_result(sample.steps.back());
  if (!column) return last;
  // answer = last * 10^(k-1) + sum_{j < k-1} (result_j mod 10) * 10^j, steps units first.
  std::int64_t value = 0, place = 1;
  for (std::size_t j = 0; j + 1 < sample.steps.size(); ++j) {
    value += (step_result(sample.steps[j]) % 10) * place;
    if (__builtin_mul_overflow(place, 10, &place)) return std::nullopt;
  }
  std::int64_t lead;
  if (__builtin_mul_overflow(last, place, &lead) || __builtin_add_overflow(value, lead, &value)) return std::nullopt;
  return value;
}

double coherence(std::string_view line) {
  const auto parsed = parse_sample(line);
  if (!parsed) return 0.0;
  const auto true_steps =
      std::count_if(parsed->steps.begin(), parsed->steps.end(), [](const std::string& s) { return step_is_true(s); });
  const double fraction_true = static_cast<double>(true_steps) / static_cast<double>(parsed->steps.size());
  const auto implied = implied_answer(*parsed);
  const double consistent = implied && *implied == parsed->answer ? 1.0 : 0.0;
  return 0.5 + 0.25 * fraction_true + 0.25 * consistent;
}

// Character n-grams of s, as views into s (occurrences, in order).
std::vector<std::string_view> ngrams(std::string_view s, int n) {
  std::vector<std::string_view> out;
  const auto un = static_cast<std::size_t>(n);
  for (std::size_t i = 0; i + un <= s.size(); ++i) out.push_back(s.substr(i, un));
  return out;
}

void check_sizes(std::span<const Completion> group, std::span<double> out) {
  POUCH_CHECK(out.size() == group.size(), "reward scorer: {} outputs for {} samples", out.size(), group.size());
}

}  // namespace

void FactualAccuracy::score(std::span<const Completion> group, std::span<double> out) const {
  check_sizes(group, out);
  for (std::size_t i = 0; i < group.size(); ++i) {
    const auto& c = group[i];
    POUCH_CHECK(c.expected_answer.has_value(), "the accuracy scorer needs Completion::expected_answer");
    const auto answer = parse_answer(first_line(c.text));
    out[i] = answer && *answer == *c.expected_answer ? 1.0 : 0.0;
  }
}

void LogicalCoherence::score(std::span<const Completion> group, std::span<double> out) const {
  check_sizes(group, out);
  for (std::size_t i = 0; i < group.size(); ++i) out[i] = coherence(first_line(group[i].prompt + group[i].text));
}

HarmfulContent::HarmfulContent(std::vector<std::string> lexicon) {
  for (const auto& word : lexicon)
    if (!word.empty()) lexicon_.push_back(ascii_lower(word));
}

void HarmfulContent::score(std::span<const Completion> group, std::span<double> out) const {
  check_sizes(group, out);
  for (std::size_t i = 0; i < group.size(); ++i) {
    const std::string text = ascii_lower(group[i].text);
    const bool banned = std::any_of(lexicon_.begin(), lexicon_.end(),
                                    [&](const std::string& w) { return text.find(w) != std::string::npos; });
    out[i] = banned ? 0.0 : 1.0;
  }
}

OutputDiversity::OutputDiversity(int n) : n_(n) {
  if (n < 1) fail("diversity n-gram length is {}; it must be >= 1", n);
}

void OutputDiversity::score(std::span<const Completion> group, std::span<double> out) const {
  check_sizes(group, out);
  if (group.size() == 1) {
    out[0] = 1.0;
    return;
  }
  // For each n-gram, how many samples of the group contain it.
  std::vector<std::vector<std::string_view>> grams(group.size());
  std::unordered_map<std::string_view, int> samples_with;
  for (std::size_t i = 0; i < group.size(); ++i) {
    grams[i] = ngrams(first_line(group[i].text), n_);
    for (auto g : std::unordered_set<std::string_view>(grams[i].begin(), grams[i].end())) ++samples_with[g];
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (grams[i].empty()) {
      out[i] = 0.0;
      continue;
    }
    const auto own = std::count_if(grams[i].begin(), grams[i].end(), [&](auto g) { return samples_with[g] == 1; });
    out[i] = static_cast<double>(own) / static_cast<double>(grams[i].size());
  }
}

double group_distinct_ngrams(std::span<const Completion> group, int n) {
  POUCH_CHECK(n >= 1);
  std::unordered_set<std::string_view> distinct;
  std::size_t total = 0;
  for (const auto& c : group) {
    const auto g = ngrams(first_line(c.text), n);
    total += g.size();
    distinct.insert(g.begin(), g.end());
  }
  return total == 0 ? 1.0 : static_cast<double>(distinct.size()) / static_cast<double>(total);
}

ComputeEfficiency::ComputeEfficiency(std::int64_t token_budget) : budget_(token_budget) {
  if (token_budget < 1) fail("reward token budget is {}; it must be >= 1", token_budget);
}

void ComputeEfficiency::score(std::span<const Completion> group, std::span<double> out) const {
  check_sizes(group, out);
  const double budget = static_cast<double>(budget_);
  for (std::size_t i = 0; i < group.size(); ++i) {
    const auto& c = group[i];
    if (c.truncated)
      out[i] = 0.0;
    else if (c.tokens <= budget_)
      out[i] = 1.0;
    else  // 1 at budget, 0 at 2 * budget
      out[i] = std::max(0.0, 1.0 - (static_cast<double>(c.tokens) - budget) / budget);
  }
}

WeightedReward make_task_reward(const TaskRewardConfig& config, std::string_view config_key) {
  WeightedReward reward;
  reward.add(std::make_unique<FactualAccuracy>(), 1.0);
  reward.add(std::make_unique<LogicalCoherence>(), 1.0);
  reward.add(std::make_unique<HarmfulContent>(parse_lexicon(config.lexicon)), 1.0);
  reward.add(std::make_unique<OutputDiversity>(config.diversity_n), 1.0);
  reward.add(std::make_unique<ComputeEfficiency>(config.token_budget), 1.0);
  reward.set_weights(parse_reward_weights(config.weights, config_key), config_key);
  return reward;
}

}  // namespace pouch
