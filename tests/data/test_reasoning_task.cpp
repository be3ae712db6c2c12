#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <unordered_set>

#include "data/char_tokenizer.h"
#include "data/reasoning_task.h"
#include "data/stable_hash.h"
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
  for (int level = 1; level <= kMaxAnyTaskLevel; ++level) {
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

TEST(LevelSix, AddsThreeTwoDigitNumbersWithSubResults) {
  ArithProblem p{ArithOp::Add3, 37, 58, 12};
  EXPECT_EQ(p.expression(), "37+58+12");
  EXPECT_EQ(p.answer(), 107);
  EXPECT_EQ(p.steps(), (std::vector<std::string>{"37+58=95", "95+12=107"}));
  EXPECT_EQ(p.operation(), "add3");
  EXPECT_EQ(task_source(kContinualTaskLevel), "new");
  const std::string text = render_sample(p.expression(), p.steps(), std::to_string(p.answer()));
  EXPECT_EQ(text, "Q: 37+58+12= <think>37+58=95; 95+12=107</think> <ans>107</ans>\n");
  auto back = problem_from_expression("37+58+12");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->op, ArithOp::Add3);
  EXPECT_EQ(back->c, 12);
  EXPECT_TRUE(check_sample(text).ok());
  // Column steps are true but not what level 6 writes; a wrong sub-result is caught.
  SampleCheck column = check_sample("Q: 37+58+12= <think>7+8+2=17; 3+5+1+1=10</think> <ans>107</ans>");
  EXPECT_TRUE(column.steps_true && column.answer_correct && !column.steps_canonical);
  SampleCheck wrong = check_sample("Q: 37+58+12= <think>37+58=96; 96+12=108</think> <ans>108</ans>");
  EXPECT_TRUE(wrong.well_formed && !wrong.steps_true && !wrong.answer_correct);
}

TEST(LevelSix, SamplesOfTheLevelRenderParseAndCheck) {
  const CharTokenizer tok = CharTokenizer::reasoning();
  int corrupted = 0;
  for (std::int64_t i = 0; i < 3000; ++i) {
    TaskSample s = training_sample_of_level(i, kContinualTaskLevel, 0.1, 4);
    ASSERT_EQ(s.level, 6);
    ASSERT_EQ(s.source, "new");
    ASSERT_EQ(s.problem.op, ArithOp::Add3);
    for (std::int64_t x : {s.problem.a, s.problem.b, s.problem.c}) {
      ASSERT_GE(x, 10);
      ASSERT_LE(x, 99);
    }
    ASSERT_FALSE(is_held_out(s.problem.expression()));
    ASSERT_NO_THROW(tok.encode(s.text));
    ASSERT_LT(s.text.size(), 75u);
    SampleCheck check = check_sample(s.text);
    ASSERT_TRUE(check.well_formed) << s.text;
    EXPECT_EQ(check.ok(), !s.corrupted()) << s.text;
    corrupted += s.corrupted();
  }
  EXPECT_NEAR(corrupted / 3000.0, 0.1, 0.02);
  // A pure function of (index, level, seed); levels have their own streams.
  EXPECT_EQ(training_sample_of_level(17, 6, 0.1, 4).text, training_sample_of_level(17, 6, 0.1, 4).text);
  EXPECT_NE(training_sample_of_level(17, 6, 0.1, 4).text, training_sample_of_level(17, 6, 0.1, 5).text);
  EXPECT_EQ(training_sample_of_level(3, 2, 0.0, 4).level, 2);
  EXPECT_THROW(training_sample_of_level(0, 7, 0.0, 4), Error);
  EXPECT_THROW(training_sample_of_level(0, 0, 0.0, 4), Error);
}

TEST(LevelSix, OnlyDrawnWhenAskedFor) {
  // Pre-training's builders refuse level 6; the level-range builder draws it only in range.
  EXPECT_THROW(build_training_corpus(10, 6, 0.0, 1), Error);
  EXPECT_THROW(build_held_out_corpus(10, 6, 1), Error);
  EXPECT_THROW(training_sample(0, 6, 0.0, 1), Error);
  EXPECT_THROW(build_training_corpus_in_levels(10, 4, 3, 0.0, 1), Error);
  EXPECT_THROW(build_training_corpus_in_levels(10, 1, 7, 0.0, 1), Error);
  EXPECT_THROW(build_training_corpus_in_levels(10, 6, 6, -0.1, 1), Error);
  TaskCorpus only6 = build_training_corpus_in_levels(500, 6, 6, 0.0, 1);
  for (std::size_t k = 0; k < only6.samples.size(); ++k) {
    EXPECT_EQ(only6.samples[k].level, 6);
    EXPECT_EQ(only6.samples[k].source, "new");
    EXPECT_TRUE(check_sample(sample_text(only6, k)).ok());
  }
  std::map<int, int> per_level;
  for (const auto& m : build_training_corpus_in_levels(6000, 1, 6, 0.0, 1).samples) ++per_level[m.level];
  ASSERT_EQ(per_level.size(), 6u);
  for (int level = 1; level <= 6; ++level) EXPECT_NEAR(per_level[level] / 6000.0, 1.0 / 6, 0.02) << level;
  for (const auto& m : build_training_corpus(3000, 5, 0.0, 1).samples) EXPECT_LE(m.level, 5);
}

TEST(LevelSix, HeldOutProblemsNeverOverlapTraining) {
  auto problems = held_out_problems(kContinualTaskLevel, 400, 3);
  ASSERT_EQ(problems.size(), 400u);
  std::unordered_set<std::string> held;
  for (const auto& p : problems) {
    EXPECT_TRUE(is_held_out(p.expression)) << p.expression;
    EXPECT_TRUE(held.insert(p.expression).second) << p.expression;
    EXPECT_EQ(p.level, 6);
    EXPECT_EQ(p.source, "new");
    EXPECT_EQ(p.prompt, "Q: " + p.expression + "=");
    EXPECT_EQ(evaluate_expression(p.expression), p.answer);
    auto back = problem_from_expression(p.expression);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->op, ArithOp::Add3);
  }
  TaskCorpus train = build_training_corpus_in_levels(50000, 6, 6, 0.0, 3);
  for (std::size_t k = 0; k < train.samples.size(); ++k)
    ASSERT_EQ(held.count(parse_sample(sample_text(train, k))->expression), 0u);
  TaskCorpus val = build_held_out_corpus_in_levels(500, 6, 6, 3);
  for (std::size_t k = 0; k < val.samples.size(); ++k) {
    const std::string text = sample_text(val, k);
    EXPECT_TRUE(check_sample(text).ok()) << text;
    EXPECT_TRUE(is_held_out(parse_sample(text)->expression)) << text;
  }
}

// A digest of the level-1..5 streams: training samples (text and metadata)
// for every max level, the held-out problem lists and the validation corpus.
// They must stay byte-identical when levels are added (level 6 is drawn only
// when asked for), since runs and checkpoints depend on them.
std::uint64_t level_1_to_5_stream_digest() {
  std::string all;
  for (int max_level = 1; max_level <= 5; ++max_level)
    for (std::int64_t i = 0; i < 600; ++i) {
      TaskSample s = training_sample(i, max_level, 0.2, 42);
      all += fmt::format("{}|{}|{}|{}|{}\n", s.text, s.level, s.source, s.quality, static_cast<int>(s.corruption));
    }
  for (int level = 1; level <= 5; ++level)
    for (const auto& p : held_out_problems(level, 40, 7))
      all += fmt::format("{}|{}|{}|{}|{}\n", p.prompt, p.expression, p.answer, p.level, p.source);
  TaskCorpus val = build_held_out_corpus(300, 5, 7);
  for (std::int32_t t : val.tokens) all += static_cast<char>('A' + t);
  return fnv1a64(all);
}

TEST(ReasoningTask, LevelOneToFiveStreamsAreUnchanged) {
  // The level-range builders over [1, m] are the same streams.
  EXPECT_EQ(build_training_corpus_in_levels(700, 1, 4, 0.2, 5).tokens, build_training_corpus(700, 4, 0.2, 5).tokens);
  EXPECT_EQ(build_held_out_corpus_in_levels(300, 1, 5, 5).tokens, build_held_out_corpus(300, 5, 5).tokens);
  // Digest taken from the code before level 6 existed.
  EXPECT_EQ(level_1_to_5_stream_digest(), 0x867468a98c4792f7ull) << std::hex << level_1_to_5_stream_digest();
}

}  // namespace
}  // namespace pouch
