#include "phases/alignment/reward_scorer.h"

#include <charconv>
#include <cmath>

#include "runtime/error.h"

namespace pouch {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on ',' or ';' and trims each item; keeps empty items (callers decide).
std::vector<std::string_view> split_items(std::string_view text) {
  std::vector<std::string_view> items;
  while (true) {
    const auto sep = text.find_first_of(",;");
    items.push_back(trim(text.substr(0, sep)));
    if (sep == std::string_view::npos) break;
    text.remove_prefix(sep + 1);
  }
  return items;
}

std::string known_names(const WeightedReward& reward) {
  std::string out;
  for (std::size_t d = 0; d < reward.size(); ++d) {
    if (d) out += ", ";
    out += reward.name(d);
  }
  return out;
}

}  // namespace

RewardScorer::~RewardScorer() = default;

std::span<const double> RewardBreakdown::dimension(std::size_t d) const {
  POUCH_CHECK(d < names.size());
  return std::span<const double>(values).subspan(d * static_cast<std::size_t>(samples),
                                                 static_cast<std::size_t>(samples));
}

void WeightedReward::add(std::unique_ptr<RewardScorer> scorer, double weight) {
  POUCH_CHECK(scorer != nullptr);
  const std::string_view name = scorer->name();
  if (name.empty()) fail("a reward scorer needs a non-empty name()");
  for (const auto& e : entries_)
    if (e.scorer->name() == name) fail("reward dimension '{}' is added twice; give each scorer its own name()", name);
  if (!std::isfinite(weight) || weight < 0)
    fail("reward weight of '{}' is {}; weights must be finite and >= 0", name, weight);
  entries_.push_back({std::move(scorer), weight});
}

void WeightedReward::set_weights(const std::vector<std::pair<std::string, double>>& weights,
                                 std::string_view config_key) {
  std::vector<double> next(entries_.size(), 0.0);
  double sum = 0.0;
  for (const auto& [name, w] : weights) {
    std::size_t d = 0;
    while (d < entries_.size() && entries_[d].scorer->name() != name) ++d;
    if (d == entries_.size())
      fail("{}: '{}' is no reward dimension; the dimensions are {}", config_key, name, known_names(*this));
    if (!std::isfinite(w) || w < 0)
      fail("{}: weight of '{}' is {}; weights must be finite and >= 0", config_key, name, w);
    next[d] = w;
    sum += w;
  }
  if (!(sum > 0))
    fail("{}: every reward weight is zero; give at least one of {} a positive weight", config_key, known_names(*this));
  for (std::size_t d = 0; d < entries_.size(); ++d) entries_[d].weight = next[d];
}

RewardBreakdown WeightedReward::score(std::span<const Completion> group) const {
  RewardBreakdown out;
  const std::size_t G = group.size(), D = entries_.size();
  out.samples = static_cast<std::int64_t>(G);
  double weight_sum = 0.0;
  for (const auto& e : entries_) weight_sum += e.weight;
  if (!(weight_sum > 0))
    fail("the reward has no dimension with a positive weight (dimensions: {})", known_names(*this));
  out.values.assign(D * G, 0.0);
  out.total.assign(G, 0.0);
  for (std::size_t d = 0; d < D; ++d) {
    const auto& e = entries_[d];
    out.names.emplace_back(e.scorer->name());
    out.weights.push_back(e.weight / weight_sum);
    std::span<double> row(out.values.data() + d * G, G);
    e.scorer->score(group, row);
    for (std::size_t i = 0; i < G; ++i) {
      // Negated form so NaN fails too.
      if (!(row[i] >= 0.0 && row[i] <= 1.0))
        fail("reward scorer '{}' gave {} to sample {} of the group; scores must lie in [0, 1]", e.scorer->name(),
             row[i], i);
      out.total[i] += out.weights[d] * row[i];
    }
  }
  return out;
}

std::vector<std::pair<std::string, double>> parse_reward_weights(std::string_view text, std::string_view config_key) {
  std::vector<std::pair<std::string, double>> out;
  for (std::string_view item : split_items(text)) {
    if (item.empty()) continue;  // tolerate "a=1,,b=2" and a trailing separator
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      fail("{}: '{}' is not name=weight (e.g. \"accuracy=0.3,coherence=0.25\")", config_key, item);
    const std::string_view name = trim(item.substr(0, eq)), number = trim(item.substr(eq + 1));
    if (name.empty()) fail("{}: '{}' has no dimension name before '='", config_key, item);
    double w = 0.0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), w);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size())
      fail("{}: weight of '{}' is '{}', not a number", config_key, name, number);
    if (!std::isfinite(w) || w < 0)
      fail("{}: weight of '{}' is {}; weights must be finite and >= 0", config_key, name, w);
    for (const auto& [seen, unused] : out)
      if (seen == name) fail("{}: '{}' is given twice", config_key, name);
    out.emplace_back(std::string(name), w);
  }
  return out;
}

std::vector<std::string> parse_lexicon(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view item : split_items(text))
    if (!item.empty()) out.emplace_back(item);
  return out;
}

}  // namespace pouch
