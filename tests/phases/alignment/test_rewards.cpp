// Reward scorers of the built-in task on hand-written completions, and the
// weighted reward: totals, per-dimension values, weight parsing and errors.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "phases/alignment/reward_scorer.h"
#include "phases/alignment/task_reward_scorers.h"
#include "runtime/error.h"
#include "tests/support/error_of.h"

namespace pouch {
namespace {

Completion make(std::string prompt, std::string text, std::int64_t answer, bool truncated = false) {
  Completion c;
  c.prompt = std::move(prompt);
  c.text = std::move(text);
  c.tokens = static_cast<std::int64_t>(c.text.size());  // char tokenizer: one token per character
  c.truncated = truncated;
  c.expected_answer = answer;
  return c;
}

Completion text_only(std::string text, std::int64_t tokens = 1, bool truncated = false) {
  Completion c;
  c.text = std::move(text);
  c.tokens = tokens;
  c.truncated = truncated;
  return c;
}

std::vector<double> score_each(const RewardScorer& s, const std::vector<Completion>& group) {
  std::vector<double> out(group.size(), -1.0);
  s.score(group, out);
  return out;
}

// Each completion scored alone (a group of one), for the per-sample scorers.
double score_one(const RewardScorer& s, const Completion& c) { return score_each(s, {c})[0]; }

const std::string kPrompt = "Q: 37+58=";
const std::string kRight = " <think>7+8=15; 3+5+1=9</think> <ans>95</ans>\n";

TEST(FactualAccuracy, RightWrongMalformedAndAfterTheEnd) {
  FactualAccuracy acc;
  EXPECT_EQ(score_one(acc, make(kPrompt, kRight, 95)), 1.0);
  EXPECT_EQ(score_one(acc, make(kPrompt, " <think>7+8=15; 3+5+1=9</think> <ans>96</ans>\n", 95)), 0.0);
  // Only the answer counts here, not the format.
  EXPECT_EQ(score_one(acc, make(kPrompt, " it is <ans>95</ans>", 95)), 1.0);
  EXPECT_EQ(score_one(acc, make(kPrompt, " <think>7+8=15</think> <ans>9x5</ans>\n", 95)), 0.0);
  EXPECT_EQ(score_one(acc, make(kPrompt, "", 95)), 0.0);
  // The sample ends at '\n': an answer after it does not count, junk after a right one does not hurt.
  EXPECT_EQ(score_one(acc, make(kPrompt, " <think>7+8=15</think>\n<ans>95</ans>", 95)), 0.0);
  EXPECT_EQ(score_one(acc, make(kPrompt, kRight + "Q: 1+1= <ans>7</ans>", 95)), 1.0);
}

TEST(LogicalCoherence, PartialCreditAsDocumented) {
  LogicalCoherence coh;
  // Well formed, both steps true, steps imply 95 = the answer: 0.5 + 0.25 + 0.25.
  EXPECT_EQ(score_one(coh, make(kPrompt, kRight, 95)), 1.0);
  // Wrong answer the steps contradict: 0.5 + 0.25 * 1 + 0.
  EXPECT_EQ(score_one(coh, make(kPrompt, " <think>7+8=15; 3+5+1=9</think> <ans>96</ans>\n", 95)), 0.75);
  // A wrong step (7+8=14) and the true answer: steps imply 94, so 0.5 + 0.25 * 1/2 + 0.
  EXPECT_EQ(score_one(coh, make(kPrompt, " <think>7+8=14; 3+5+1=9</think> <ans>95</ans>\n", 95)), 0.625);
  // The same wrong step carried to the answer it implies: 0.5 + 0.125 + 0.25.
  EXPECT_EQ(score_one(coh, make(kPrompt, " <think>7+8=14; 3+5+1=9</think> <ans>94</ans>\n", 95)), 0.875);
  // Malformed: no steps, missing tags, not the format at all.
  EXPECT_EQ(score_one(coh, make(kPrompt, " <think></think> <ans>95</ans>\n", 95)), 0.0);
  EXPECT_EQ(score_one(coh, make(kPrompt, " <think>7+8=15; 3+5+1=9</think> 95\n", 95)), 0.0);
  EXPECT_EQ(score_one(coh, make(kPrompt, " it is <ans>95</ans>", 95)), 0.0);
  // Column subtraction and multiplication compose digits; level-5 forms end in the result.
  EXPECT_EQ(score_one(coh, make("Q: 52-18=", " <think>12-8=4; 5-1-1=3</think> <ans>34</ans>\n", 34)), 1.0);
  EXPECT_EQ(score_one(coh, make("Q: 347*6=", " <think>7*6=42; 4*6+4=28; 3*6+2=20</think> <ans>2082</ans>\n", 2082)),
            1.0);
  EXPECT_EQ(score_one(coh, make("Q: 12+7*8=", " <think>7*8=56; 12+56=68</think> <ans>68</ans>\n", 68)), 1.0);
  EXPECT_EQ(score_one(coh, make("Q: 12+7*8=", " <think>7*8=56; 12+56=68</think> <ans>69</ans>\n", 68)), 0.75);
  EXPECT_EQ(score_one(coh, make("Q: 12+7*8=", " <think>7*8=54; 12+54=66</think> <ans>66</ans>\n", 68)), 0.875);
  // Chained sums (level 6) end in the result too.
  EXPECT_EQ(score_one(coh, make("Q: 37+58+12=", " <think>37+58=95; 95+12=107</think> <ans>107</ans>\n", 107)), 1.0);
  EXPECT_EQ(score_one(coh, make("Q: 37+58+12=", " <think>37+58=95; 95+12=107</think> <ans>7</ans>\n", 107)), 0.75);
}

TEST(HarmfulContent, LexiconIsCaseInsensitiveSubstring) {
  HarmfulContent harm(parse_lexicon("bomb; Kill ,"));
  const std::vector<Completion> group = {text_only(" <ans>95</ans>"), text_only(" build a BOMB"), text_only("skills"),
                                         text_only("bom b")};
  const auto s = score_each(harm, group);
  EXPECT_EQ(s, (std::vector<double>{1.0, 0.0, 0.0, 1.0}));  // "skills" holds "kill": a substring classifier
  HarmfulContent empty({});
  EXPECT_EQ(score_each(empty, group), (std::vector<double>{1.0, 1.0, 1.0, 1.0}));
}

TEST(OutputDiversity, IdenticalDifferentPartialAndAlone) {
  OutputDiversity div;  // n = 3
  EXPECT_EQ(score_each(div, {text_only("abcde"), text_only("abcde")}), (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(score_each(div, {text_only("abcdef"), text_only("uvwxyz")}), (std::vector<double>{1.0, 1.0}));
  // 3-grams {abc, bcd, cde} and {abc, bcx, cxy}: each keeps 2 of 3 to itself.
  const auto partial = score_each(div, {text_only("abcde"), text_only("abcxy")});
  EXPECT_DOUBLE_EQ(partial[0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(partial[1], 2.0 / 3.0);
  // A copy of a sibling costs both; the third, different one keeps its score.
  const auto three = score_each(div, {text_only("abcde"), text_only("abcde"), text_only("vwxyz")});
  EXPECT_EQ(three, (std::vector<double>{0.0, 0.0, 1.0}));
  // Too short for one n-gram in a group: 0. A group of one: 1 whatever the text.
  EXPECT_EQ(score_each(div, {text_only("ab"), text_only("abcd")}), (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(score_each(div, {text_only("aaaaaa")}), (std::vector<double>{1.0}));
  // Repeats inside a sample count per occurrence: "aaaa" has {aaa, aaa}, both shared with "aaab".
  EXPECT_EQ(score_each(div, {text_only("aaaa"), text_only("aaab")}), (std::vector<double>{0.0, 0.5}));
  OutputDiversity bigrams(2);
  EXPECT_EQ(score_each(bigrams, {text_only("aab"), text_only("abb")}), (std::vector<double>{0.5, 0.5}));
  EXPECT_THROW(OutputDiversity(0), Error);
}

TEST(OutputDiversity, GroupDistinctNgrams) {
  // {abc, bcd, cde} + {abc, bcx, cxy}: 5 distinct of 6.
  EXPECT_DOUBLE_EQ(group_distinct_ngrams(std::vector<Completion>{text_only("abcde"), text_only("abcxy")}, 3),
                   5.0 / 6.0);
  EXPECT_DOUBLE_EQ(group_distinct_ngrams(std::vector<Completion>{text_only("abcde"), text_only("abcde")}, 3), 0.5);
  EXPECT_DOUBLE_EQ(group_distinct_ngrams(std::vector<Completion>{text_only("a")}, 3), 1.0);
}

TEST(ComputeEfficiency, LinearDecayAndTruncation) {
  ComputeEfficiency eff(10);
  const std::vector<Completion> group = {text_only("", 8),  text_only("", 10), text_only("", 15),
                                         text_only("", 20), text_only("", 30), text_only("", 5, true)};
  EXPECT_EQ(score_each(eff, group), (std::vector<double>{1.0, 1.0, 0.5, 0.0, 0.0, 0.0}));
  EXPECT_THROW(ComputeEfficiency(0), Error);
}

TEST(WeightedReward, DefaultTaskRewardTotalsAndDimensions) {
  const TaskRewardConfig config;
  const auto reward = make_task_reward(config, "phase.2.reward_weights");
  ASSERT_EQ(reward.size(), 5u);
  const std::vector<std::string> names = {"accuracy", "coherence", "harmless", "diversity", "efficiency"};
  const std::vector<double> weights = {0.3, 0.25, 0.2, 0.15, 0.1};
  for (std::size_t d = 0; d < 5; ++d) {
    EXPECT_EQ(reward.name(d), names[d]);
    EXPECT_DOUBLE_EQ(reward.weight(d), weights[d]);
  }
  // A right answer alone scores 1 everywhere.
  const auto one = reward.score(std::vector<Completion>{make(kPrompt, kRight, 95)});
  EXPECT_NEAR(one.total[0], 1.0, 1e-12);

  // Right vs a wrong answer differing in one digit.
  const std::string wrong = " <think>7+8=15; 3+5+1=9</think> <ans>96</ans>\n";
  const auto b = reward.score(std::vector<Completion>{make(kPrompt, kRight, 95), make(kPrompt, wrong, 95)});
  ASSERT_EQ(b.samples, 2);
  EXPECT_EQ(b.names, names);
  const auto acc = b.dimension(0), coh = b.dimension(1), harm = b.dimension(2), div = b.dimension(3),
             eff = b.dimension(4);
  EXPECT_EQ(acc[0], 1.0);
  EXPECT_EQ(acc[1], 0.0);
  EXPECT_EQ(coh[0], 1.0);
  EXPECT_EQ(coh[1], 0.75);
  EXPECT_EQ(harm[1], 1.0);
  EXPECT_EQ(eff[1], 1.0);
  // Of the line's (length - 2) 3-grams, only ">95", "95<", "5</" are not in the other.
  const double own = 3.0 / static_cast<double>(kRight.size() - 1 - 2);
  EXPECT_DOUBLE_EQ(div[0], own);
  EXPECT_DOUBLE_EQ(div[1], own);
  EXPECT_NEAR(b.total[0], 0.3 + 0.25 + 0.2 + 0.15 * own + 0.1, 1e-12);
  EXPECT_NEAR(b.total[1], 0.0 + 0.25 * 0.75 + 0.2 + 0.15 * own + 0.1, 1e-12);
}

TEST(WeightedReward, ConfiguredWeightsAreRelativeAndUnlistedAreZero) {
  TaskRewardConfig config;
  config.weights = "accuracy = 2; efficiency=2";
  config.token_budget = 10;
  const auto reward = make_task_reward(config, "phase.2.reward_weights");
  EXPECT_EQ(reward.weight(1), 0.0);
  // accuracy 1, efficiency 0.5 (15 tokens, budget 10): (2*1 + 2*0.5) / 4.
  auto c = make(kPrompt, kRight, 95);
  c.tokens = 15;
  const auto b = reward.score(std::vector<Completion>{c});
  EXPECT_DOUBLE_EQ(b.weights[0], 0.5);
  EXPECT_DOUBLE_EQ(b.total[0], 0.75);
}

class LengthScorer : public RewardScorer {
 public:
  explicit LengthScorer(double give = -1) : give_(give) {}
  std::string_view name() const override { return "brevity"; }
  void score(std::span<const Completion> group, std::span<double> out) const override {
    for (std::size_t i = 0; i < group.size(); ++i) out[i] = give_ >= 0 ? give_ : 1.0 / (1.0 + group[i].text.size());
  }

 private:
  double give_;
};

TEST(WeightedReward, UserScorerIsAddedAndChecked) {
  auto reward = make_task_reward(TaskRewardConfig{}, "phase.2.reward_weights");
  reward.add(std::make_unique<LengthScorer>(), 1.0);
  ASSERT_EQ(reward.size(), 6u);
  const auto b = reward.score(std::vector<Completion>{make(kPrompt, kRight, 95)});
  ASSERT_EQ(b.names.back(), "brevity");
  const double brevity = 1.0 / (1.0 + kRight.size());
  EXPECT_DOUBLE_EQ(b.dimension(5)[0], brevity);
  // Built-in dimensions all 1 with weight 1 in total, brevity weight 1: mean of the two.
  EXPECT_NEAR(b.total[0], (1.0 + brevity) / 2.0, 1e-12);

  EXPECT_NE(error_of([&] { reward.add(std::make_unique<LengthScorer>(), 1.0); }).find("brevity"), std::string::npos);
  WeightedReward bad;
  EXPECT_THROW(bad.add(std::make_unique<LengthScorer>(), -0.5), Error);
  bad.add(std::make_unique<LengthScorer>(1.5), 1.0);
  const auto msg = error_of([&] { bad.score(std::vector<Completion>{text_only("x")}); });
  EXPECT_NE(msg.find("brevity"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 1]"), std::string::npos) << msg;
  WeightedReward zero;
  zero.add(std::make_unique<LengthScorer>(), 0.0);
  EXPECT_THROW(zero.score(std::vector<Completion>{text_only("x")}), Error);
}

TEST(RewardWeights, ParseAndErrorsNameTheKey) {
  const auto w = parse_reward_weights(" accuracy=0.3, coherence = 0.25;harmless=0 ,", "k");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].first, "accuracy");
  EXPECT_DOUBLE_EQ(w[0].second, 0.3);
  EXPECT_EQ(w[1].first, "coherence");
  EXPECT_DOUBLE_EQ(w[1].second, 0.25);
  EXPECT_EQ(w[2].first, "harmless");
  EXPECT_DOUBLE_EQ(w[2].second, 0.0);

  const std::string key = "phase.2.reward_weights";
  for (const char* bad : {"accuracy", "accuracy=abc", "accuracy=-1", "accuracy=1,accuracy=2", "=0.3", "accuracy=inf",
                          "accuracy=0.3x", "accuracy="}) {
    const auto msg = error_of([&] { parse_reward_weights(bad, key); });
    EXPECT_NE(msg.find(key), std::string::npos) << "'" << bad << "' gave: " << msg;
  }
  TaskRewardConfig config;
  config.weights = "accuracy=0.5,acuracy=0.5";
  auto msg = error_of([&] { make_task_reward(config, key); });
  EXPECT_NE(msg.find(key), std::string::npos) << msg;
  EXPECT_NE(msg.find("acuracy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("coherence"), std::string::npos) << "should list the dimensions: " << msg;
  config.weights = "accuracy=0,coherence=0";
  msg = error_of([&] { make_task_reward(config, key); });
  EXPECT_NE(msg.find(key), std::string::npos) << msg;
  EXPECT_NE(msg.find("zero"), std::string::npos) << msg;
}

TEST(Lexicon, SplitsTrimsAndDropsEmpty) {
  EXPECT_EQ(parse_lexicon("kill; Bomb ,hate;;"), (std::vector<std::string>{"kill", "Bomb", "hate"}));
  EXPECT_TRUE(parse_lexicon("").empty());
  EXPECT_TRUE(parse_lexicon(" ; , ").empty());
}

}  // namespace
}  // namespace pouch
