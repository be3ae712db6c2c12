#include "data/reasoning_task.h"

#include <fmt/format.h>

#include <unordered_set>

#include "data/char_tokenizer.h"
#include "data/stable_hash.h"
#include "runtime/error.h"

namespace pouch {

namespace {

// Pre-training's range (1..5) or, with `highest` = kMaxAnyTaskLevel, every level.
void check_level(int level, const char* what, int highest = kMaxTaskLevel) {
  if (level < 1 || level > highest) {
    if (level == kContinualTaskLevel)
      fail(
          "built-in task: {} {} is outside 1..{}: level {} is the continual-learning level, which only the "
          "level-range builders (build_training_corpus_in_levels, training_sample_of_level) draw",
          what, level, highest, kContinualTaskLevel);
    fail("built-in task: {} {} is outside 1..{}", what, level, highest);
  }
}

void check_level_range(int min_level, int max_level) {
  check_level(min_level, "min level", kMaxAnyTaskLevel);
  check_level(max_level, "max level", kMaxAnyTaskLevel);
  if (min_level > max_level) fail("built-in task: min level {} is above max level {}", min_level, max_level);
}

void check_corrupt_fraction(double corrupt_fraction) {
  if (!(corrupt_fraction >= 0.0 && corrupt_fraction <= 1.0))
    fail("built-in task: corrupt fraction {} is outside [0, 1]", corrupt_fraction);
}

// A problem of `level` that is (held_out = true) or is not held out.
ArithProblem draw_problem(int level, bool held_out, RngStream& rng) {
  while (true) {
    ArithProblem p = random_problem(level, rng);
    if (is_held_out(p.expression()) == held_out) return p;
  }
}

// A non-negative number != value, off by 1..9.
std::int64_t perturb(std::int64_t value, RngStream& rng) {
  auto delta = static_cast<std::int64_t>(1 + rng.below(9));
  if (rng.below(2) == 0 && value - delta >= 0) return value - delta;
  return value + delta;
}

void append(TaskCorpus& corpus, const CharTokenizer& tok, const std::string& text, std::int32_t level,
            std::string source, float quality, bool corrupted) {
  SampleMeta meta;
  meta.offset = static_cast<std::int64_t>(corpus.tokens.size());
  meta.length = static_cast<std::int64_t>(text.size());
  meta.level = level;
  meta.quality = quality;
  meta.source = std::move(source);
  meta.corrupted = corrupted;
  for (char c : text) {
    std::int32_t id = tok.id_of(c);
    POUCH_CHECK(id >= 0, "task text '{}' has a character outside the alphabet", text);
    corpus.tokens.push_back(id);
  }
  corpus.samples.push_back(std::move(meta));
}

// The rest of a training sample once its level is drawn: problem, corruption, quality.
TaskSample sample_of_level(std::int32_t level, double corrupt_fraction, RngStream& rng) {
  TaskSample s;
  s.level = level;
  s.problem = draw_problem(s.level, /*held_out=*/false, rng);
  s.source = std::string(task_source(s.level));
  auto steps = s.problem.steps();
  std::int64_t answer = s.problem.answer();
  if (static_cast<double>(rng.uniform()) < corrupt_fraction) {
    if (rng.below(2) == 0) {
      s.corruption = Corruption::WrongStep;
      auto& step = steps[rng.below(steps.size())];
      auto eq = step.rfind('=');
      step = fmt::format("{}={}", step.substr(0, eq), perturb(std::stoll(step.substr(eq + 1)), rng));
    } else {
      s.corruption = Corruption::WrongAnswer;
      answer = perturb(answer, rng);
    }
    s.quality = static_cast<float>(rng.below(4));
  } else {
    s.quality = static_cast<float>(6 + rng.below(5));
  }
  s.text = render_sample(s.problem.expression(), steps, std::to_string(answer));
  return s;
}

}  // namespace

bool is_held_out(std::string_view expression) { return mix64(fnv1a64(expression)) % 100 < kHeldOutPercent; }

std::string_view task_source(int level) {
  if (level == kContinualTaskLevel) return "new";
  return level <= 2 ? "simple" : "complex";
}

std::string task_prompt(std::string_view expression) { return fmt::format("Q: {}=", expression); }

std::string render_sample(std::string_view expression, const std::vector<std::string>& steps, std::string_view answer) {
  // Joined by hand: fmt::join trips GCC 12's -Wstringop-overflow inside fmt 9.
  std::string joined;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (i) joined += "; ";
    joined += steps[i];
  }
  return fmt::format("Q: {}= <think>{}</think> <ans>{}</ans>\n", expression, joined, answer);
}

TaskSample training_sample(std::int64_t index, int max_level, double corrupt_fraction, std::uint64_t seed) {
  check_level(max_level, "max level");
  return training_sample_in_levels(index, 1, max_level, corrupt_fraction, seed);
}

TaskSample training_sample_in_levels(std::int64_t index, int min_level, int max_level, double corrupt_fraction,
                                     std::uint64_t seed) {
  check_level_range(min_level, max_level);
  check_corrupt_fraction(corrupt_fraction);
  RngStream rng(seed, derive_stream("task.train", static_cast<std::uint64_t>(index)));
  // With min_level = 1 this is the draw the generator always made (1 + below(max_level)):
  // pre-training streams stay byte-identical.
  const auto level = static_cast<std::int32_t>(
      min_level + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_level - min_level + 1))));
  return sample_of_level(level, corrupt_fraction, rng);
}

TaskSample training_sample_of_level(std::int64_t index, int level, double corrupt_fraction, std::uint64_t seed) {
  check_level(level, "level", kMaxAnyTaskLevel);
  check_corrupt_fraction(corrupt_fraction);
  RngStream rng(seed, derive_stream(fmt::format("task.train.level{}", level), static_cast<std::uint64_t>(index)));
  return sample_of_level(level, corrupt_fraction, rng);
}

TaskCorpus build_training_corpus(std::int64_t n_samples, int max_level, double corrupt_fraction, std::uint64_t seed) {
  check_level(max_level, "max level");
  return build_training_corpus_in_levels(n_samples, 1, max_level, corrupt_fraction, seed);
}

TaskCorpus build_training_corpus_in_levels(std::int64_t n_samples, int min_level, int max_level,
                                           double corrupt_fraction, std::uint64_t seed) {
  check_level_range(min_level, max_level);
  check_corrupt_fraction(corrupt_fraction);
  if (n_samples < 0) fail("built-in task: negative sample count {}", n_samples);
  const CharTokenizer tok = CharTokenizer::reasoning();
  TaskCorpus corpus;
  corpus.samples.reserve(static_cast<std::size_t>(n_samples));
  corpus.tokens.reserve(static_cast<std::size_t>(n_samples) * 56);
  for (std::int64_t i = 0; i < n_samples; ++i) {
    TaskSample s = training_sample_in_levels(i, min_level, max_level, corrupt_fraction, seed);
    append(corpus, tok, s.text, s.level, std::move(s.source), s.quality, s.corrupted());
  }
  return corpus;
}

TaskCorpus build_held_out_corpus(std::int64_t n_samples, int max_level, std::uint64_t seed) {
  check_level(max_level, "max level");
  return build_held_out_corpus_in_levels(n_samples, 1, max_level, seed);
}

TaskCorpus build_held_out_corpus_in_levels(std::int64_t n_samples, int min_level, int max_level, std::uint64_t seed) {
  check_level_range(min_level, max_level);
  if (n_samples < 0) fail("built-in task: negative sample count {}", n_samples);
  const CharTokenizer tok = CharTokenizer::reasoning();
  TaskCorpus corpus;
  for (std::int64_t i = 0; i < n_samples; ++i) {
    RngStream rng(seed, derive_stream("task.heldout_corpus", static_cast<std::uint64_t>(i)));
    const auto level = static_cast<std::int32_t>(
        min_level + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_level - min_level + 1))));
    ArithProblem p = draw_problem(level, /*held_out=*/true, rng);
    append(corpus, tok, render_sample(p.expression(), p.steps(), std::to_string(p.answer())), level,
           std::string(task_source(level)), 10.0f, false);
  }
  return corpus;
}

std::vector<HeldOutProblem> held_out_problems(int level, std::int64_t count, std::uint64_t seed) {
  check_level(level, "level", kMaxAnyTaskLevel);
  if (count < 0) fail("built-in task: negative problem count {}", count);
  // Stop looking for new problems after this many draws in a row found none:
  // the level's held-out pool is exhausted (only level 1 is that small).
  constexpr int kGiveUpAfter = 20000;
  RngStream rng(seed, derive_stream("task.heldout", static_cast<std::uint64_t>(level)));
  std::vector<HeldOutProblem> out;
  std::unordered_set<std::string> seen;
  int misses = 0;
  while (static_cast<std::int64_t>(out.size()) < count && misses < kGiveUpAfter) {
    ArithProblem p = random_problem(level, rng);
    std::string expr = p.expression();
    if (!is_held_out(expr) || !seen.insert(expr).second) {
      ++misses;
      continue;
    }
    misses = 0;
    out.push_back({task_prompt(expr), expr, p.answer(), level, std::string(task_source(level))});
  }
  return out;
}

}  // namespace pouch
