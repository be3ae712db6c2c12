#include <gtest/gtest.h>

#include <map>
#include <unordered_set>

#include "data/char_tokenizer.h"
#include "data/reasoning_task.h"
#include "data/task_checker.h"
#include "runtime/error.h"

namespace pouch {
namespace {

std::string sample_text(const TaskCorpus& c, std::size_t k) {
  const SampleMeta& m = c.samples[k];
  std::vector<std::int32_t> ids(c.tokens.begin() + m.offset, c.tokens.begin() + m.offset + m.length);
  return CharTokenizer::reasoning().decode(ids);
}

TEST(ArithProblem, ColumnStepsFollowTheDocumentedExamples) {
  EXPECT_EQ(column_add_steps(37, 58), (std::vector<std::string>{"7+8=15", "3+5+1=9"}));
  EXPECT_EQ(column_add_steps(999, 999), (std::vector<std::string>{"9+9=18", "9+9+1=19", "9+9+1=19"}));
  EXPECT_EQ(column_sub_steps(52, 18), (std::vector<std::string>{"12-8=4", "5-1-1=3"}));
  EXPECT_EQ(column_sub_steps(503, 127), (std::vector<std::string>{"13-7=6", "10-2-1=7", "5-1-1=3"}));
  EXPECT_EQ(column_mul_steps(347, 6), (std::vector<std::string>{"7*6=42", "4*6+4=28", "3*6+2=20"}));
  ArithProblem p{ArithOp::AddMul, 12, 7, 8};
  EXPECT_EQ(p.expression(), "12+7*8");
  EXPECT_EQ(p.steps(), (std::vector<std::string>{"7*8=56", "12+56=68"}));
  EXPECT_EQ(render_sample("37+58", column_add_steps(37, 58), "95"),
            "Q: 37+58= <think>7+8=15; 3+5+1=9</think> <ans>95</ans>\n");
}

TEST(ArithProblem, EveryLevelsStepsAreTrueAndShort) {
  const CharTokenizer tok = CharTokenizer::reasoning();
  for (int level = 1; level <= kMaxTaskLevel; ++level) {
    RngStream rng(7, static_cast<std::uint64_t>(level));
    for (int k = 0; k < 3000; ++k) {
      ArithProblem p = random_problem(level, rng);
      const std::string text = render_sample(p.expression(), p.steps(), std::to_string(p.answer()));
      SampleCheck check = check_sample(text);
      ASSERT_TRUE(check.ok()) << text;
      ASSERT_LE(text.size(), 100u) << text;
      ASSERT_NO_THROW(tok.encode(text));
      auto back = problem_from_expression(p.expression());
      ASSERT_TRUE(back.has_value()) << p.expression();
      EXPECT_EQ(back->answer(), p.answer());
    }
  }
}

TEST(ReasoningTask, DeterministicBySeed) {
  TaskCorpus a = build_training_corpus(2000, 5, 0.1, 42);
  TaskCorpus b = build_training_corpus(2000, 5, 0.1, 42);
  TaskCorpus c = build_training_corpus(2000, 5, 0.1, 43);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
  // Sample i does not depend on how many samples are built.
  TaskCorpus prefix = build_training_corpus(500, 5, 0.1, 42);
  EXPECT_TRUE(std::equal(prefix.tokens.begin(), prefix.tokens.end(), a.tokens.begin()));
  EXPECT_EQ(training_sample(1234, 5, 0.1, 42).text, sample_text(a, 1234));
}

TEST(ReasoningTask, CleanSamplesVerifyAndCorruptedOnesDoNot) {
  const double fraction = 0.1;
  TaskCorpus corpus = build_training_corpus(20000, 5, fraction, 9);
  ASSERT_EQ(corpus.samples.size(), 20000u);
  const std::int32_t eot = CharTokenizer::reasoning().eot_id();
  std::int64_t corrupted = 0;
  std::map<int, int> per_level;
  std::int64_t expected_offset = 0;
  for (std::size_t k = 0; k < corpus.samples.size(); ++k) {
    const SampleMeta& m = corpus.samples[k];
    ASSERT_EQ(m.offset, expected_offset);
    expected_offset += m.length;
    ASSERT_EQ(corpus.tokens[static_cast<std::size_t>(m.offset + m.length - 1)], eot);
    ASSERT_LT(m.length, 75);
    ASSERT_GE(m.level, 1);
    ASSERT_LE(m.level, 5);
    ++per_level[m.level];
    EXPECT_EQ(m.source, m.level <= 2 ? "simple" : "complex");
    const std::string text = sample_text(corpus, k);
    SampleCheck check = check_sample(text);
    EXPECT_TRUE(check.well_formed) << text;
    EXPECT_EQ(parse_answer(text).has_value(), true) << text;
    if (m.corrupted) {
      ++corrupted;
      EXPECT_LE(m.quality, 3.0f);
      EXPECT_FALSE(check.answer_correct && check.steps_true) << text;
    } else {
      EXPECT_GE(m.quality, 6.0f);
      EXPECT_LE(m.quality, 10.0f);
      EXPECT_TRUE(check.ok()) << text;
    }
  }
  EXPECT_EQ(expected_offset, static_cast<std::int64_t>(corpus.tokens.size()));
  EXPECT_NEAR(static_cast<double>(corrupted) / 20000.0, fraction, 0.01);
  for (int level = 1; level <= 5; ++level) EXPECT_NEAR(per_level[level] / 20000.0, 0.2, 0.02) << level;
}

TEST(ReasoningTask, QualityScoresSpread) {
  TaskCorpus corpus = build_training_corpus(5000, 5, 0.2, 3);
  std::map<float, int> clean, bad;
  for (const auto& m : corpus.samples) ++(m.corrupted ? bad : clean)[m.quality];
  EXPECT_EQ(clean.size(), 5u);  // 6..10
  EXPECT_EQ(bad.size(), 4u);    // 0..3
}

TEST(ReasoningTask, MaxLevelLimitsLevels) {
  TaskCorpus corpus = build_training_corpus(1000, 2, 0.0, 1);
  for (const auto& m : corpus.samples) {
    EXPECT_LE(m.level, 2);
    EXPECT_FALSE(m.corrupted);
  }
  EXPECT_THROW(build_training_corpus(10, 6, 0.0, 1), Error);
  EXPECT_THROW(build_training_corpus(10, 5, 1.5, 1), Error);
}

TEST(ReasoningTask, HeldOutNeverOverlapsTraining) {
  TaskCorpus corpus = build_training_corpus(100000, 5, 0.05, 11);
  std::unordered_set<std::string> train_questions;
  for (std::size_t k = 0; k < corpus.samples.size(); ++k) {
    auto parsed = parse_sample(sample_text(corpus, k));
    ASSERT_TRUE(parsed.has_value());
    ASSERT_FALSE(is_held_out(parsed->expression)) << parsed->expression;
    train_questions.insert(parsed->expression);
  }
  for (int level = 1; level <= 5; ++level) {
    auto problems = held_out_problems(level, 300, 11);
    EXPECT_GE(problems.size(), level == 1 ? 5u : 300u) << level;
    std::unordered_set<std::string> distinct;
    for (const auto& p : problems) {
      EXPECT_TRUE(distinct.insert(p.expression).second);
      EXPECT_EQ(train_questions.count(p.expression), 0u) << p.expression;
      EXPECT_TRUE(is_held_out(p.expression));
      EXPECT_EQ(p.prompt, "Q: " + p.expression + "=");
      EXPECT_EQ(evaluate_expression(p.expression), p.answer);
      EXPECT_EQ(p.level, level);
    }
  }
  // Level 1 is small enough that training covers all of its other problems.
  std::size_t level1_train = 0;
  for (int a = 0; a <= 9; ++a)
    for (int b = 0; b <= 9; ++b) level1_train += train_questions.count(std::to_string(a) + "+" + std::to_string(b));
  EXPECT_EQ(level1_train + held_out_problems(1, 1000, 1).size(), 100u);

  TaskCorpus val = build_held_out_corpus(2000, 5, 11);
  for (std::size_t k = 0; k < val.samples.size(); ++k) {
    auto text = sample_text(val, k);
    EXPECT_TRUE(check_sample(text).ok()) << text;
    EXPECT_EQ(train_questions.count(parse_sample(text)->expression), 0u) << text;
  }
}

TEST(ReasoningTask, HeldOutListIsPrefixStable) {
  auto small = held_out_problems(3, 10, 5);
  auto large = held_out_problems(3, 50, 5);
  ASSERT_EQ(small.size(), 10u);
  for (std::size_t i = 0; i < small.size(); ++i) EXPECT_EQ(small[i].expression, large[i].expression);
}

TEST(TaskChecker, ParsesGenerationsAndFlagsEachKindOfMistake) {
  EXPECT_EQ(parse_answer("Q: 3+4= <think>3+4=7</think> <ans>7</ans>"), 7);
  EXPECT_EQ(parse_answer("junk <ans>123</ans> more <ans>5</ans>"), 123);
  EXPECT_FALSE(parse_answer("<ans></ans>").has_value());
  EXPECT_FALSE(parse_answer("<ans>12").has_value());
  EXPECT_FALSE(parse_answer("<ans>1a</ans>").has_value());

  EXPECT_TRUE(check_sample("Q: 37+58= <think>7+8=15; 3+5+1=9</think> <ans>95</ans>\ntrailing").ok());
  SampleCheck wrong_answer = check_sample("Q: 37+58= <think>7+8=15; 3+5+1=9</think> <ans>96</ans>");
  EXPECT_TRUE(wrong_answer.well_formed && wrong_answer.steps_true && !wrong_answer.answer_correct);
  SampleCheck wrong_step = check_sample("Q: 37+58= <think>7+8=14; 3+5+1=9</think> <ans>95</ans>");
  EXPECT_TRUE(wrong_step.well_formed && wrong_step.answer_correct && !wrong_step.steps_true);
  SampleCheck other_steps = check_sample("Q: 37+58= <think>37+58=95</think> <ans>95</ans>");
  EXPECT_TRUE(other_steps.steps_true && other_steps.answer_correct && !other_steps.steps_canonical);
  for (const char* bad : {"Q: 37+58= <think></think> <ans>95</ans>", "Q: 37+58= <think>7+8=15</think><ans>95</ans>",
                          "Q: 37+58 <think>7+8=15</think> <ans>95</ans>", "37+58= <think>7+8=15</think> <ans>95</ans>",
                          "Q: 37+58= <think>7+8=15;3+5+1=9</think> <ans>95</ans>", ""})
    EXPECT_FALSE(check_sample(bad).well_formed) << bad;
  EXPECT_EQ(evaluate_expression("(45-18)*3"), 81);
  EXPECT_EQ(evaluate_expression("12+7*8"), 68);
  EXPECT_EQ(evaluate_expression("2-3-4"), -5);
  EXPECT_FALSE(evaluate_expression("(1+2").has_value());
  EXPECT_FALSE(evaluate_expression("999999999999*999999999").has_value());
}

}  // namespace
}  // namespace pouch
