#pragma once
// The built-in reasoning task: generated arithmetic samples with worked
// steps, deterministic in the seed. One sample (char tokenizer, '\n' ends it):
//
//   Q: 37+58= <think>7+8=15; 3+5+1=9</think> <ans>95</ans>\n
//
// Levels and steps: arith_problem.h. Per sample: level uniform in
// min_level..max_level (pre-training: 1..task_max_level <= 5); source
// "simple" (levels 1-2), "complex" (3-5) or "new" (6, the continual-learning
// level pre-training never shows); with probability corrupt_fraction the
// sample is corrupted (half of them one step's result is off by 1..9, half the
// answer is) and its quality is 0..3, else quality is 6..10 (uniform integers).
//
// Held-out split: a problem is held out iff
//   mix64(fnv1a64(expression)) % 100 < kHeldOutPercent      (stable_hash.h)
// Training samples redraw until their problem is not held out; held-out
// problems and the held-out corpus only use held-out problems, so the two
// never share a question.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/arith_problem.h"
#include "data/sample_meta.h"

namespace pouch {

inline constexpr int kHeldOutPercent = 10;

enum class Corruption { None, WrongStep, WrongAnswer };

struct TaskSample {
  std::string text;  // the whole line, ending in '\n'
  ArithProblem problem;
  std::int32_t level = 0;
  std::string source;
  float quality = 0.0f;
  Corruption corruption = Corruption::None;
  bool corrupted() const { return corruption != Corruption::None; }
};

struct TaskCorpus {
  std::vector<std::int32_t> tokens;  // CharTokenizer::reasoning() ids, samples back to back
  std::vector<SampleMeta> samples;   // in stream order
};

struct HeldOutProblem {
  std::string prompt;      // "Q: 37+58="
  std::string expression;  // "37+58"
  std::int64_t answer = 0;
  std::int32_t level = 0;
  std::string source;
};

bool is_held_out(std::string_view expression);
std::string_view task_source(int level);
// "Q: <expression>= <think>s1; s2</think> <ans>answer</ans>\n"
std::string render_sample(std::string_view expression, const std::vector<std::string>& steps, std::string_view answer);
std::string task_prompt(std::string_view expression);

// Sample `index` of the training stream; a pure function of its arguments
// (RngStream(seed, derive_stream("task.train", index)), level uniform in
// 1..max_level <= 5). Same as training_sample_in_levels(index, 1, max_level, ...).
// Every generator throws pouch::Error on a level or corrupt_fraction out of range.
TaskSample training_sample(std::int64_t index, int max_level, double corrupt_fraction, std::uint64_t seed);
// The same stream with the level uniform in min_level..max_level
// (min_level + rng.below(max_level - min_level + 1)), so [1, m] gives exactly
// training_sample(index, m, ...).
TaskSample training_sample_in_levels(std::int64_t index, int min_level, int max_level, double corrupt_fraction,
                                     std::uint64_t seed);
// Sample `index` of the stream of one level, its own stream per level:
// RngStream(seed, derive_stream("task.train.level<level>", index)). Levels 1..6.
TaskSample training_sample_of_level(std::int64_t index, int level, double corrupt_fraction, std::uint64_t seed);

// Samples 0..n_samples-1 back to back. Throws pouch::Error on max_level
// outside 1..5 (pre-training levels) or corrupt_fraction outside [0, 1].
TaskCorpus build_training_corpus(std::int64_t n_samples, int max_level, double corrupt_fraction, std::uint64_t seed);
// Samples training_sample_in_levels(0..n_samples-1, min_level, max_level, ...)
// back to back; 1 <= min_level <= max_level <= 6. [1, m] with m <= 5 is
// build_training_corpus(n_samples, m, ...) token for token; [6, 6] is a corpus
// of the continual-learning level alone.
TaskCorpus build_training_corpus_in_levels(std::int64_t n_samples, int min_level, int max_level,
                                           double corrupt_fraction, std::uint64_t seed);
// Clean samples of held-out problems (for validation loss; may repeat a
// problem), levels uniform in 1..max_level (1..5).
TaskCorpus build_held_out_corpus(std::int64_t n_samples, int max_level, std::uint64_t seed);
// The same over levels min_level..max_level (1..6); [1, m] is
// build_held_out_corpus(n_samples, m, seed).
TaskCorpus build_held_out_corpus_in_levels(std::int64_t n_samples, int min_level, int max_level, std::uint64_t seed);

// Up to `count` distinct held-out problems of `level` (1..6); a prefix of the
// list for a larger count. Fewer when the level has fewer held-out problems
// (level 1 has 100 problems, about 10 of them held out).
std::vector<HeldOutProblem> held_out_problems(int level, std::int64_t count, std::uint64_t seed);

}  // namespace pouch
